// Checks the dashboard's JavaScript budget on the production build (dist): for each page,
// the gzipped size of what loading it downloads (the entry chunk, the page's chunk and
// their static imports; on-demand chunks such as the PDF export are not counted), and
// the total of every chunk. Fails when a page exceeds the budget.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'

const budget = 300 * 1024
const dist = path.resolve(import.meta.dirname, '..', 'dist')
const manifest = JSON.parse(readFileSync(path.join(dist, '.vite', 'manifest.json'), 'utf8'))

const gz = new Map()
const size = (file) => {
  if (!gz.has(file)) gz.set(file, gzipSync(readFileSync(path.join(dist, file)), { level: 9 }).length)
  return gz.get(file)
}

// The files a chunk pulls in with static imports, itself included.
function closure(key, seen = new Set()) {
  const c = manifest[key]
  if (!c || seen.has(c.file)) return seen
  seen.add(c.file)
  for (const imp of c.imports ?? []) closure(imp, seen)
  return seen
}

const entryKey = Object.keys(manifest).find((k) => manifest[k].isEntry)
const entry = closure(entryKey)
const kb = (n) => `${(n / 1024).toFixed(1)} kB`
let worst = 0
const rows = []
for (const key of manifest[entryKey].dynamicImports ?? []) {
  if (!/pages\//.test(key)) continue
  const files = closure(key, new Set(entry))
  const total = [...files].reduce((s, f) => s + size(f), 0)
  worst = Math.max(worst, total)
  rows.push([path.basename(key, '.tsx'), total])
}
rows.sort((a, b) => b[1] - a[1])
for (const [name, total] of rows) console.log(`${name.padEnd(18)} ${kb(total).padStart(10)} gzipped JS to load`)
const all = Object.values(manifest)
  .map((c) => c.file)
  .filter((f) => f.endsWith('.js'))
const sum = [...new Set(all)].reduce((s, f) => s + size(f), 0)
console.log(`entry (shell)      ${kb([...entry].reduce((s, f) => s + size(f), 0)).padStart(10)}`)
console.log(`every chunk        ${kb(sum).padStart(10)} (including on-demand PDF export: jsPDF, svg2pdf.js)`)
if (worst > budget) {
  console.error(`bundle-check: a page loads ${kb(worst)} of gzipped JavaScript; the budget is ${kb(budget)}`)
  process.exit(1)
}
console.log(`bundle-check: every page within ${kb(budget)}`)
