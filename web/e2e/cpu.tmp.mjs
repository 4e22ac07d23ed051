import { chromium } from 'playwright-core'
const base = 'http://127.0.0.1:18931'
const path = process.argv[2]
const sel = process.argv[3] ?? '.gantt-row'
const n = Number(process.argv[4] ?? 22)
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage()
await page.goto(base + path)
await page.waitForFunction((a) => document.querySelectorAll(a[0]).length >= a[1], [sel, n])
const cdp = await page.context().newCDPSession(page)
await cdp.send('Profiler.enable')
await cdp.send('Profiler.setSamplingInterval', { interval: 200 })
await cdp.send('Profiler.start')
const t0 = Date.now()
await page.goto(base + path)
const tti = await page.waitForFunction((a) => document.querySelectorAll(a[0]).length >= a[1] && new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(performance.now()), 0))), [sel, n], { polling: 'raf' })
console.log('TTI', (await tti.jsonValue()).toFixed(0), 'wall', Date.now() - t0)
const { profile } = await cdp.send('Profiler.stop')
const byId = new Map(profile.nodes.map((nd) => [nd.id, nd]))
const self = new Map()
const dt = profile.timeDeltas
for (let i = 0; i < profile.samples.length; i++) {
  const nd = byId.get(profile.samples[i])
  const f = nd.callFrame
  const k = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}`
  self.set(k, (self.get(k) ?? 0) + (dt[i] ?? 0) / 1000)
}
const total = [...self.values()].reduce((a, b) => a + b, 0)
console.log('profile ms', total.toFixed(0))
for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(v.toFixed(1).padStart(8), k)
const byUrl = new Map()
for (const [k, v] of self) { const u = k.split(' ').pop().split(':')[0]; byUrl.set(u, (byUrl.get(u) ?? 0) + v) }
console.log([...byUrl.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([u, v]) => `${u} ${v.toFixed(0)}`).join(' | '))
await browser.close()
