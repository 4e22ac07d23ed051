import { useState } from 'react'
import { Link } from 'react-router'
import { api, unwrap, type Schemas } from '../api/client.ts'
import { useLive } from '../api/live.tsx'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { QueryView } from '../components/States.tsx'
import { formatDuration, formatTime } from '../format.ts'
import { useQueryState } from '../router.tsx'
import { useAction } from '../useAction.ts'
import { useTitle } from '../useTitle.ts'

/** Schedule fires are not stream events: the list reloads every 30 s to move "next fire". */
const scheduleRefresh = 30_000

/** Schedules: /schedules?open=name (next fires, history with lateness, enable, backfill). */
export function SchedulesPage() {
  useTitle('Schedules')
  const q = useLive(['schedules'], (signal) => unwrap(api.GET('/v1/schedules', { signal })), { refetchInterval: scheduleRefresh })
  const [query, setQuery] = useQueryState()
  const open = query.get('open') ?? ''
  const act = useAction()
  const toggle = async (s: Schemas['Schedule']) => {
    const path = s.enabled ? '/v1/schedules/{name}/disable' : '/v1/schedules/{name}/enable'
    await act.run(`toggle:${s.name}`, () => unwrap(api.POST(path, { params: { path: { name: s.name } } })))
    q.refresh()
  }
  return (
    <section>
      <div className="page-head">
        <h1>Schedules</h1>
      </div>
      <ProblemBanner error={act.error} />
      <QueryView {...q} isEmpty={(d) => !d.schedules?.length} empty="No schedule. Create one with the API (POST /v1/schedules) or baton apply.">
        {(d) => (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Workflow</th>
                <th>Cron</th>
                <th>Next fire</th>
                <th>Enabled</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {(d.schedules ?? []).map((s) => (
                <ScheduleRow key={s.name} s={s} open={open === s.name} onOpen={() => setQuery({ open: open === s.name ? undefined : s.name })} onToggle={() => void toggle(s)} busy={act.pending !== null} />
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </section>
  )
}

function ScheduleRow({ s, open, onOpen, onToggle, busy }: { s: Schemas['Schedule']; open: boolean; onOpen: () => void; onToggle: () => void; busy: boolean }) {
  return (
    <>
      <tr>
        <td className="wrap">
          <button type="button" className="link-button step" aria-expanded={open} onClick={onOpen}>
            <span className="caret">{open ? '▾' : '▸'}</span> {s.name}
          </button>
          {s.last_error && <div className="error small">{s.last_error}</div>}
        </td>
        <td>
          <Link to={`/runs?workflow=${encodeURIComponent(s.workflow)}`}>{s.workflow}</Link>
        </td>
        <td>
          <code>{s.cron}</code> <span className="muted">{s.time_zone}</span>
        </td>
        <td>{formatTime(s.next_fire)}</td>
        <td>{s.enabled ? 'yes' : 'no'}</td>
        <td>
          <button type="button" className="link-button" disabled={busy} onClick={onToggle}>
            {s.enabled ? 'Disable' : 'Enable'}
          </button>
        </td>
      </tr>
      {open && (
        <tr className="detail">
          <td colSpan={6}>
            <div className="detail-grid">
              <NextFires name={s.name} />
              <History name={s.name} />
              <Backfill name={s.name} />
            </div>
          </td>
        </tr>
      )}
    </>
  )
}

function NextFires({ name }: { name: string }) {
  const q = useLive(['schedules', name, 'preview'], (signal) => unwrap(api.GET('/v1/schedules/{name}/preview', { params: { path: { name }, query: { n: 5 } }, signal })))
  return (
    <div>
      <h3>Next fires</h3>
      <QueryView {...q} isEmpty={(d) => !d.fires?.length} empty="No fire ahead (disabled or past its end).">
        {(d) => (
          <ol className="plain">
            {(d.fires ?? []).map((f) => (
              <li key={f.utc}>
                {formatTime(f.utc)} <span className="muted">({f.local} {d.time_zone})</span>
              </li>
            ))}
          </ol>
        )}
      </QueryView>
    </div>
  )
}

function History({ name }: { name: string }) {
  const q = useLive(['schedules', name, 'history'], (signal) =>
    unwrap(api.GET('/v1/schedules/{name}/history', { params: { path: { name }, query: { limit: 20 } }, signal })),
  )
  return (
    <div>
      <h3>Recent fires</h3>
      <QueryView {...q} isEmpty={(d) => !d.fires?.length} empty="No fire yet.">
        {(d) => (
          <table className="table compact">
            <thead>
              <tr>
                <th>Fire time</th>
                <th>Status</th>
                <th className="num">Lateness</th>
                <th>Run</th>
              </tr>
            </thead>
            <tbody>
              {(d.fires ?? []).map((f) => (
                <tr key={`${f.fire_time}:${f.kind}`}>
                  <td>{formatTime(f.fire_time)}</td>
                  <td>
                    {f.status} {f.kind !== 'scheduled' && <span className="tag">{f.kind}</span>}
                  </td>
                  <td className="num">{f.lateness_ms == null ? '–' : formatDuration(f.lateness_ms)}</td>
                  <td>{f.run_id ? <Link to={`/runs/${f.run_id}`}>#{f.run_id}</Link> : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </div>
  )
}

function toLocalInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}

function Backfill({ name }: { name: string }) {
  const [from, setFrom] = useState(() => toLocalInput(new Date(Date.now() - 24 * 3600_000)))
  const [to, setTo] = useState(() => toLocalInput(new Date()))
  const [result, setResult] = useState<Schemas['BackfillResult']>()
  const act = useAction()
  const run = async (dry: boolean) => {
    const r = await act.run(dry ? 'dry' : 'backfill', () =>
      unwrap(
        api.POST('/v1/schedules/{name}/backfill', {
          params: { path: { name } },
          body: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), dry_run: dry },
        }),
      ),
    )
    if (r) setResult(r)
  }
  return (
    <div>
      <h3>Backfill</h3>
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
        <button type="button" className="button primary" disabled={act.pending !== null || !result?.dry_run} onClick={() => void run(false)} title="Run the dry run first">
          Start runs
        </button>
      </div>
      <ProblemBanner error={act.error} />
      {result && (
        <p>
          {result.dry_run ? `Would start ${result.fires?.length ?? 0} run(s)` : `Started ${result.started} run(s)`}
          {result.fires && result.fires.length > 0 && `: ${result.fires.slice(0, 5).map((f) => formatTime(f.fire_time)).join(', ')}${result.fires.length > 5 ? ', …' : ''}`}
        </p>
      )}
    </div>
  )
}
