import { chromium } from 'playwright-core'
const base = process.env.BATON_URL ?? 'http://127.0.0.1:18931'
const path = process.argv[2]
const sel = process.argv[3] ?? '.gantt-row'
const n = Number(process.argv[4] ?? 22)
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage()
for (let i = 0; i < 4; i++) {
  await page.goto(base + path)
  const tti = await page.waitForFunction((a) => document.querySelectorAll(a[0]).length >= a[1] && new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(performance.now()), 0))), [sel, n], { polling: 'raf', timeout: 60000 })
  const t = await tti.jsonValue()
  const res = await page.evaluate(() => performance.getEntriesByType('resource').map((r) => `${r.name.replace(location.origin, '').slice(0, 60).padEnd(60)} start ${r.startTime.toFixed(0).padStart(5)} end ${r.responseEnd.toFixed(0).padStart(5)} (${(r.responseEnd - r.startTime).toFixed(0)} ms, ${r.transferSize} B)`))
  const nav = await page.evaluate(() => { const n = performance.getEntriesByType('navigation')[0]; return `html ${n.responseEnd.toFixed(0)} domInteractive ${n.domInteractive.toFixed(0)} domContentLoaded ${n.domContentLoadedEventEnd.toFixed(0)}` })
  console.log(`#${i} TTI ${t.toFixed(0)} ms; ${nav}`)
  if (i === 3 || i === 0) console.log(res.join('\n'))
}
await browser.close()
