import { useState } from 'react'
import { Link } from 'react-router'
import { api, unwrap, type Schemas } from '../api/client.ts'
import { useLive } from '../api/live.tsx'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { QueryView } from '../components/States.tsx'
import { truncate } from '../api.ts'
import { formatTime } from '../format.ts'
import { useQueryState } from '../router.tsx'
import { useAction } from '../useAction.ts'
import { useTitle } from '../useTitle.ts'

/** Inbound events are not on the run stream: the recent list reloads every 10 s. */
const eventsRefresh = 10_000

/** Triggers: /triggers?type=event.type (the triggers, recent events with dedup keys, replay). */
export function TriggersPage() {
  useTitle('Triggers')
  const [query, setQuery] = useQueryState()
  const type = query.get('type') ?? ''
  const triggers = useLive(['triggers'], (signal) => unwrap(api.GET('/v1/triggers', { signal })))
  const events = useLive(['events', type], (signal) => unwrap(api.GET('/v1/events', { params: { query: { limit: 50, ...(type ? { type } : {}) } }, signal })), {
    refetchInterval: eventsRefresh,
  })
  return (
    <section>
      <div className="page-head">
        <h1>Triggers</h1>
      </div>
      <QueryView {...triggers} isEmpty={(d) => !d.triggers?.length} empty="No trigger. Create one with POST /v1/triggers.">
        {(d) => (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Event type</th>
                <th>Workflow</th>
                <th>Condition</th>
                <th className="num">Dedup window</th>
                <th>Enabled</th>
              </tr>
            </thead>
            <tbody>
              {(d.triggers ?? []).map((t) => (
                <tr key={t.name}>
                  <td>{t.name}</td>
                  <td>
                    <button type="button" className="link-button" onClick={() => setQuery({ type: t.event_type })}>
                      {t.event_type}
                    </button>
                  </td>
                  <td>
                    <Link to={`/runs?workflow=${encodeURIComponent(t.workflow)}`}>{t.workflow}</Link>
                  </td>
                  <td>
                    <code>{t.condition || '–'}</code>
                  </td>
                  <td className="num">{t.dedup_window_seconds ? `${t.dedup_window_seconds}s` : '–'}</td>
                  <td>{t.enabled ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryView>

      <div className="section-head">
        <h2>Recent events{type && ` of type ${type}`}</h2>
        {type && (
          <button type="button" className="link-button" onClick={() => setQuery({ type: undefined })}>
            All types
          </button>
        )}
      </div>
      <QueryView {...events} isEmpty={(d) => !d.events?.length} empty="No event in the last 24 hours.">
        {(d) => <EventTable events={d.events ?? []} />}
      </QueryView>
      <Replay type={type} />
    </section>
  )
}

function EventTable({ events }: { events: Schemas['InboundEvent'][] }) {
  // Events sharing a dedup key within the list: the later ones were dedup hits.
  const seen = new Map<string, number>()
  for (const e of events) if (e.dedup_key) seen.set(e.dedup_key, (seen.get(e.dedup_key) ?? 0) + 1)
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Time</th>
          <th>Type</th>
          <th>Source</th>
          <th>Dedup key</th>
          <th>Payload</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.id}>
            <td>{formatTime(e.time)}</td>
            <td>{e.type}</td>
            <td>{e.source}</td>
            <td>
              {e.dedup_key ? <code>{e.dedup_key}</code> : '–'}
              {e.dedup_key && (seen.get(e.dedup_key) ?? 0) > 1 && <span className="tag">dedup ×{seen.get(e.dedup_key)}</span>}
            </td>
            <td className="wrap">
              <code className="small">{truncate(JSON.stringify(e.payload), 80)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function Replay({ type }: { type: string }) {
  const [from, setFrom] = useState(() => new Date(Date.now() - 3600_000).toISOString().slice(0, 16))
  const [to, setTo] = useState(() => new Date().toISOString().slice(0, 16))
  const [result, setResult] = useState<Schemas['ReplayResult']>()
  const act = useAction()
  const run = async (dry: boolean) => {
    const r = await act.run(dry ? 'dry' : 'replay', () =>
      unwrap(api.POST('/v1/events/replay', { body: { from: `${from}:00Z`, to: `${to}:00Z`, dry_run: dry, ...(type ? { type } : {}) } })),
    )
    if (r) setResult(r)
  }
  return (
    <div className="panel">
      <h3>Replay events{type && ` of type ${type}`} (UTC)</h3>
      <div className="filters">
        <label>
          From <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          To <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <button type="button" className="button" disabled={act.pending !== null} onClick={() => void run(true)}>
          Dry run
        </button>
        <button type="button" className="button primary" disabled={act.pending !== null || !result?.dry_run} onClick={() => void run(false)}>
          Replay
        </button>
      </div>
      <ProblemBanner error={act.error} />
      {result && (
        <p>
          {result.dry_run ? 'Would start' : 'Started'} {result.runs?.length ?? 0} run(s) from {result.events} event(s)
          {result.skipped && result.skipped.length > 0 && `, ${result.skipped.length} skipped`}
          {result.truncated && ' (truncated: continue from the next page)'}
        </p>
      )}
    </div>
  )
}
