/// <reference types="vitest/config" />
import { readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import react from '@vitejs/plugin-react'
import { defineConfig, type Plugin } from 'vite'

// The Go server (`baton dev`, which listens on 127.0.0.1 only) that the dev server
// forwards API calls to.
const apiTarget = process.env.BATON_API_URL ?? 'http://127.0.0.1:8080'

// dist/.keep is committed so that `//go:embed all:dist` in web.go compiles before the
// front end has been built (see web.go). Vite's own emptyOutDir would delete it, so the
// build empties dist itself and leaves that one file alone.
const keptFiles = new Set(['.keep'])

function emptyOutDirKeepingPlaceholder(): Plugin {
  let outDir = ''
  return {
    name: 'baton:empty-out-dir',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir)
    },
    buildStart() {
      let entries: string[]
      try {
        entries = readdirSync(outDir)
      } catch {
        return // no dist yet: Vite creates it
      }
      for (const entry of entries) {
        if (!keptFiles.has(entry)) {
          rmSync(path.join(outDir, entry), { recursive: true, force: true })
        }
      }
    },
  }
}

export default defineConfig({
  base: '/',
  plugins: [react(), emptyOutDirKeepingPlaceholder()],
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    assetsDir: 'assets',
    // dist/.vite/manifest.json: what scripts/bundle-check.mjs measures (not served: web.go skips dot files).
    manifest: true,
  },
  server: {
    proxy: {
      '/v1': apiTarget,
      '/v2': apiTarget,
      '/healthz': apiTarget,
      '/openapi.json': apiTarget,
      '/openapi-3.0.json': apiTarget,
      '/docs': apiTarget,
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
})
