// Copies Swagger UI (npm package swagger-ui-dist) and our page around it into dist/docs,
// so the Go binary serves offline API docs at /docs/ (see web.go). Runs after `vite build`
// as part of `npm run build`.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const outDir = path.join(webDir, 'dist', 'docs')
const require = createRequire(import.meta.url)
const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'))

rmSync(outDir, { recursive: true, force: true })
mkdirSync(outDir, { recursive: true })

// Swagger UI itself. The source maps are not shipped, so drop the comments pointing at them
// (browsers would request them and get a 404).
for (const name of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
  const text = readFileSync(path.join(swaggerDir, name), 'utf8').replace(/\n?\/[/*]# sourceMappingURL=\S+?(\s*\*\/)?\s*$/, '\n')
  writeFileSync(path.join(outDir, name), text)
}
// Its licence and notice travel with it (Apache-2.0).
copyFileSync(path.join(swaggerDir, 'LICENSE'), path.join(outDir, 'LICENSE.txt'))
copyFileSync(path.join(swaggerDir, 'NOTICE'), path.join(outDir, 'NOTICE.txt'))

// Our page and initializer.
for (const name of ['index.html', 'swagger-initializer.js']) {
  copyFileSync(path.join(webDir, 'swagger', name), path.join(outDir, name))
}

const { version } = JSON.parse(readFileSync(path.join(swaggerDir, 'package.json'), 'utf8'))
console.log(`copy-docs: Swagger UI ${version} → ${path.relative(webDir, outDir)}/`)
