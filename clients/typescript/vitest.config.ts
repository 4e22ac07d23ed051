import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The live tests wait on a real server; each has its own deadline below this.
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
