// 100 simulated dashboard users against a running baton (BATON_URL): each keeps a live
// stream open and loads, over and over, the queries of the pages it looks at (a run page:
// the run, its Gantt, the dead-letter badge; the analytics page: its seven charts), one
// page view every LOAD_THINK_MS (5 s), while release-pipeline runs start every second.
// Prints the API's latency (p50/p95/p99, by operation) and the stream's delivery delay.
// Goal: API p95 under 100 ms. BATON_KEY, when set, is sent as the users' bearer key.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'

const base = process.env.BATON_URL ?? 'http://127.0.0.1:8080'
const users = Number(process.env.LOAD_USERS ?? 100)
const seconds = Number(process.env.LOAD_SECONDS ?? 20)
const think = Number(process.env.LOAD_THINK_MS ?? 5000)
// The users' key (make bench-web creates one with a rate limit above the load's): without
// one they are anonymous loopback callers sharing one per-IP bucket, whose limit (and the
// database visits near it) the load would measure instead of the API.
const auth = process.env.BATON_KEY ? { Authorization: `Bearer ${process.env.BATON_KEY}` } : {}

const pct = (xs, p) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

async function post(p, body) {
  const res = await fetch(base + p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`)
  return res.json()
}

const lat = new Map() // operation -> ms[]
let errors = 0
const failures = new Map() // why -> count
async function timed(op, p) {
  const t0 = performance.now()
  try {
    const res = await fetch(base + p, { headers: { Accept: 'application/json', ...auth } })
    await res.arrayBuffer()
    if (!res.ok) {
      errors++
      failures.set(`HTTP ${res.status}`, (failures.get(`HTTP ${res.status}`) ?? 0) + 1)
    }
  } catch (err) {
    errors++
    const why = String(err?.cause?.code ?? err?.message ?? err)
    failures.set(why, (failures.get(why) ?? 0) + 1)
  }
  const ms = performance.now() - t0
  if (!lat.has(op)) lat.set(op, [])
  lat.get(op).push(ms)
}

// The streams run in a worker thread: 100 streams parsing thousands of events would
// otherwise hold this thread's event loop, and the request timings below would measure
// the load generator's own queue rather than the API.
function startStreams(n) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { base, users: n } })
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  return { stop: () => worker.postMessage('stop'), done }
}

async function streamsWorker() {
  const { base, users } = workerData
  const delivery = []
  let events = 0
  const ctrl = new AbortController()
  async function stream() {
    try {
      const res = await fetch(base + '/v1/stream', { headers: { Accept: 'text/event-stream', ...auth }, signal: ctrl.signal })
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buf = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buf += value
        const parts = buf.split('\n\n')
        buf = parts.pop()
        const now = Date.now()
        for (const part of parts) {
          const line = part.split('\n').find((l) => l.startsWith('data:'))
          if (!line) continue
          events++
          try {
            const e = JSON.parse(line.slice(5))
            if (e.time && e.id) delivery.push(now - Date.parse(e.time)) // not task_started: its time is the attempt's start
          } catch {
            // not an event row
          }
        }
      }
    } catch {
      // aborted at the end
    }
  }
  const all = Array.from({ length: users }, () => stream())
  parentPort.once('message', async () => {
    ctrl.abort()
    await Promise.all(all)
    parentPort.postMessage({ delivery, events })
  })
}

if (!isMainThread) {
  await streamsWorker()
} else {
const seed = await post('/v1/runs', { workflow: 'release-pipeline', input: { version: 'load' } })
const runIds = [seed.id]
const from = new Date(Date.now() - 7 * 24 * 3600_000).toISOString()
const to = new Date(Date.now() + 3600_000).toISOString()
const win = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`

const streams = startStreams(users)
const end = Date.now() + seconds * 1000

const starter = (async () => {
  while (Date.now() < end) {
    try {
      runIds.push((await post('/v1/runs', { workflow: 'release-pipeline', input: { version: 'load' } })).id)
    } catch {
      errors++
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
})()

async function user(i) {
  await new Promise((r) => setTimeout(r, (i * think) / users)) // spread the first loads
  while (Date.now() < end) {
    if (i % 5 < 3) {
      const id = runIds[Math.floor(Math.random() * runIds.length)]
      await Promise.all([timed('run', `/v1/runs/${id}`), timed('gantt', `/v1/runs/${id}/gantt`), timed('dlq-stats', '/v1/dead-letters/stats')])
    } else {
      await Promise.all(
        ['completion', 'durations', 'task-types', 'errors', 'cost', 'queues', 'heatmap'].map((c) => timed(`analytics/${c}`, `/v1/analytics/${c}?${win}`)),
      )
    }
    await new Promise((r) => setTimeout(r, think))
  }
}

await Promise.all([starter, ...Array.from({ length: users }, (_, i) => user(i))])
streams.stop()
const { delivery, events: streamEvents } = await streams.done

const all = [...lat.values()].flat()
console.log(`load: ${users} dashboard users for ${seconds} s (a stream each; think time ${think} ms), ${runIds.length} release-pipeline runs started`)
console.log(`API: ${all.length} requests, ${errors} errors, p50 ${pct(all, 50).toFixed(1)} ms, p95 ${pct(all, 95).toFixed(1)} ms, p99 ${pct(all, 99).toFixed(1)} ms (goal: p95 < 100 ms)`)
if (failures.size) console.log(`  errors: ${[...failures.entries()].map(([k, n]) => `${k} ×${n}`).join(', ')}`)
for (const [op, xs] of [...lat.entries()].sort()) {
  console.log(`  ${op.padEnd(22)} n=${String(xs.length).padStart(5)}  p50 ${pct(xs, 50).toFixed(1).padStart(7)} ms  p95 ${pct(xs, 95).toFixed(1).padStart(7)} ms`)
}
console.log(`stream: ${streamEvents} events delivered to ${users} clients; event time to arrival p50 ${pct(delivery, 50)} ms, p95 ${pct(delivery, 95)} ms`)
// The server's own view: time in the handler (mean by operation, from /metrics), which
// excludes the network and the load generator.
const metrics = await (await fetch(base + '/metrics')).text()
const sums = new Map()
for (const m of metrics.matchAll(/^baton_api_request_duration_seconds_(sum|count)\{[^}]*operation="([^"]+)"[^}]*\} (\S+)$/gm)) {
  const [, kind, op, v] = m
  if (op === 'stream-events') continue
  const e = sums.get(op) ?? { sum: 0, count: 0 }
  e[kind] += Number(v)
  sums.set(op, e)
}
console.log(`server: mean time in the handler by operation: ${[...sums.entries()].sort().map(([op, e]) => `${op} ${((e.sum / e.count) * 1000).toFixed(1)} ms`).join(', ')}`)
process.exit(errors > 0 && errors > all.length / 100 ? 1 : 0)
}
