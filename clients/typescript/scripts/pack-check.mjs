// Packs the client with `npm pack`, installs the tarball into an empty
// folder (its one dependency, openapi-fetch, from npm's cache when it is
// there), then imports it with node and type-checks a TypeScript file
// against it. With BATON_URL set, the installed package also starts a run
// of the example workflow `hello` and waits for it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const here = resolve(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "baton-client-pack-"));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });

try {
  const packed = JSON.parse(run(npm, ["pack", "--json", "--pack-destination", work], here));
  const { filename, files, size } = packed[0];
  const names = files.map((f) => f.path);
  for (const want of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/schema.d.ts"]) {
    if (!names.includes(want)) throw new Error(`${filename} lacks ${want}`);
  }
  if (names.some((n) => n.startsWith("test/") || n.startsWith("node_modules/"))) throw new Error(`${filename} holds tests or node_modules`);
  console.log(`packed ${filename}: ${files.length} files, ${size} bytes`);

  const app = join(work, "app");
  run("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  run(npm, ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel", "error", join(work, filename)], app);

  writeFileSync(
    join(app, "check.mjs"),
    `import { BatonClient, BatonProblemError, verifyWebhook, paginate } from "@baton-run/client";
for (const [name, v] of Object.entries({ BatonClient, BatonProblemError, verifyWebhook, paginate })) {
  if (typeof v !== "function") throw new Error(name + " is not exported");
}
if (process.env.BATON_URL) {
  const baton = new BatonClient({ baseUrl: process.env.BATON_URL });
  const run = await baton.startRun({ workflow: "hello", input: { name: "pack" } });
  const done = await baton.waitForRun(run.id, { timeoutMs: 30000 });
  if (done.status !== "succeeded") throw new Error("run " + run.id + " " + done.status);
  console.log("the installed package started run " + run.id + ": " + done.status);
} else {
  console.log("the installed package imports");
}
`,
  );
  process.stdout.write(run(process.execPath, ["check.mjs"], app));

  writeFileSync(
    join(app, "check.ts"),
    `import { BatonClient, type Run, type Gantt } from "@baton-run/client";
const baton = new BatonClient({ baseUrl: "http://127.0.0.1:8080", apiKey: "baton_x" });
export const run: Promise<Run> = baton.startRun({ workflow: "hello", input: { name: "Ada" } });
export const gantt: Promise<Gantt> = baton.getRunGantt(1);
// @ts-expect-error workflow is required
baton.startRun({ input: {} });
`,
  );
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022", "DOM"], strict: true, noEmit: true, types: [], skipLibCheck: true },
      files: ["check.ts"],
    }),
  );
  run(process.execPath, [join(here, "node_modules", "typescript", "bin", "tsc"), "-p", app], app);
  console.log("its types check in a TypeScript project (NodeNext)");
} finally {
  rmSync(work, { recursive: true, force: true });
}
