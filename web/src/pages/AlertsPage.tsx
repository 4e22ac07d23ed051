import { useState } from 'react'
import { actionHeaders, api, unwrap, type Schemas } from '../api/client.ts'
import { useLive } from '../api/live.tsx'
import { JsonEditor } from '../components/JsonEditor.tsx'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { QueryView } from '../components/States.tsx'
import { formatTime } from '../format.ts'
import { useQueryState } from '../router.tsx'
import { useAction } from '../useAction.ts'
import { useTitle } from '../useTitle.ts'

/** Alerts are raised by a periodic evaluation, not by stream events: reload every 15 s. */
const alertRefresh = 15_000

const states = ['firing', 'acknowledged', 'resolved'] as const

const newRule = {
  name: 'slow-runs',
  kind: 'threshold',
  metric: 'run_duration_p95_ms',
  comparison: '>',
  threshold: 60000,
  window_seconds: 900,
  severity: 'warning',
  enabled: true,
}
const newChannel = { name: 'ops-webhook', kind: 'webhook', config: { url: 'https://example.com/hook' }, enabled: true }

/** Alerts: /alerts?state=firing|acknowledged|resolved&tab=alerts|rules|channels */
export function AlertsPage() {
  useTitle('Alerts')
  const [query, setQuery] = useQueryState()
  const state = (query.get('state') ?? 'firing') as (typeof states)[number]
  const tab = query.get('tab') ?? 'alerts'
  return (
    <section>
      <div className="page-head">
        <h1>Alerts</h1>
        <div className="tabs" role="tablist">
          {['alerts', 'rules', 'channels'].map((t) => (
            <button key={t} type="button" role="tab" aria-selected={tab === t} className={`tab${tab === t ? ' active' : ''}`} onClick={() => setQuery({ tab: t === 'alerts' ? undefined : t })}>
              {t[0]!.toUpperCase() + t.slice(1)}
            </button>
          ))}
        </div>
      </div>
      {tab === 'alerts' && <AlertList state={state} setState={(s) => setQuery({ state: s === 'firing' ? undefined : s })} />}
      {tab === 'rules' && <Rules />}
      {tab === 'channels' && <Channels />}
    </section>
  )
}

function AlertList({ state, setState }: { state: string; setState: (s: string) => void }) {
  const q = useLive(
    ['alerts', state],
    (signal) => unwrap(api.GET('/v1/alerts', { params: { query: { state: state as 'firing', limit: 100 } }, signal })),
    { refetchInterval: alertRefresh },
  )
  const act = useAction()
  const ack = async (a: Schemas['Alert']) => {
    await act.run(`ack:${a.id}`, () => unwrap(api.POST('/v1/alerts/{id}/acknowledge', { params: { path: { id: a.id }, header: actionHeaders } })))
    q.refresh()
  }
  const silence = async (a: Schemas['Alert'], seconds: number) => {
    await act.run(`silence:${a.id}`, () =>
      unwrap(api.POST('/v1/alerts/{id}/silence', { params: { path: { id: a.id }, header: actionHeaders }, body: { duration_seconds: seconds } })),
    )
    q.refresh()
  }
  return (
    <>
      <div className="filters">
        <label>
          State{' '}
          <select value={state} onChange={(e) => setState(e.target.value)}>
            {states.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ProblemBanner error={act.error} />
      <QueryView {...q} isEmpty={(d) => !d.alerts?.length} empty={`No ${state} alert.`}>
        {(d) => (
          <table className="table">
            <thead>
              <tr>
                <th>Severity</th>
                <th>Summary</th>
                <th>Fired</th>
                <th>Last seen</th>
                <th className="num">Count</th>
                <th>State</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {(d.alerts ?? []).map((a) => (
                <tr key={a.id}>
                  <td>
                    <span className={`badge severity-${a.severity}`}>{a.severity}</span>
                  </td>
                  <td className="wrap">{a.summary}</td>
                  <td>{formatTime(a.fired_at)}</td>
                  <td>{formatTime(a.last_seen_at)}</td>
                  <td className="num">{a.occurrences}</td>
                  <td className="wrap">
                    {a.state}
                    {a.acknowledged_at && <span className="tag">ack by {a.acknowledged_by || '?'}</span>}
                    {a.silenced_until && Date.parse(a.silenced_until) > Date.now() && <span className="tag">silenced until {formatTime(a.silenced_until)}</span>}
                  </td>
                  <td className="task-actions">
                    {a.state === 'firing' && !a.acknowledged_at && (
                      <button type="button" className="link-button" disabled={act.pending !== null} onClick={() => void ack(a)}>
                        Acknowledge
                      </button>
                    )}
                    {a.state === 'firing' && (
                      <button type="button" className="link-button" disabled={act.pending !== null} onClick={() => void silence(a, 3600)}>
                        Silence 1 h
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </>
  )
}

function Rules() {
  const q = useLive(['alerts', 'rules'], (signal) => unwrap(api.GET('/v1/alert-rules', { signal })))
  const act = useAction()
  const [editing, setEditing] = useState<Schemas['AlertRule'] | 'new' | null>(null)
  const save = async (body: Record<string, unknown>) => {
    const ok = await act.run('save', () =>
      editing === 'new' || editing === null
        ? unwrap(api.POST('/v1/alert-rules', { body: body as never }))
        : unwrap(api.PUT('/v1/alert-rules/{id}', { params: { path: { id: editing.id } }, body: body as never })),
    )
    if (ok !== undefined) setEditing(null)
    q.refresh()
  }
  return (
    <>
      <div className="filters">
        <button type="button" className="button primary" onClick={() => setEditing('new')}>
          New rule
        </button>
      </div>
      <ProblemBanner error={act.error} />
      {editing && (
        <JsonEditor
          key={editing === 'new' ? 'new' : editing.id}
          label={editing === 'new' ? 'New alert rule (JSON)' : `Rule ${editing.name} (JSON)`}
          initial={editing === 'new' ? newRule : ruleBody(editing)}
          submitLabel="Save rule"
          pending={act.pending === 'save'}
          onSubmit={(b) => void save(b)}
          onClose={() => setEditing(null)}
        />
      )}
      <QueryView {...q} isEmpty={(d) => !d.rules?.length} empty="No alert rule.">
        {(d) => (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Condition</th>
                <th>Severity</th>
                <th>Enabled</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {(d.rules ?? []).map((r) => (
                <tr key={r.id}>
                  <td>
                    {r.name} {r.builtin && <span className="tag">built-in</span>}
                  </td>
                  <td>{r.kind}</td>
                  <td className="muted wrap">{r.kind === 'event' ? r.event_kind : `${r.aggregation || ''} ${r.metric} ${r.comparison} ${r.threshold}`}</td>
                  <td>{r.severity}</td>
                  <td>{r.enabled ? 'yes' : 'no'}</td>
                  <td>
                    <button type="button" className="link-button" onClick={() => setEditing(r)}>
                      Edit
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </>
  )
}

// The writable fields of a rule (what PUT takes back).
function ruleBody(r: Schemas['AlertRule']): Record<string, unknown> {
  const { id: _id, builtin: _b, created_at: _c, updated_at: _u, silenced_until: _s, ...rest } = r as Schemas['AlertRule'] & Record<string, unknown>
  delete rest.$schema
  return rest
}

function Channels() {
  const q = useLive(['alerts', 'channels'], (signal) => unwrap(api.GET('/v1/alert-channels', { signal })))
  const act = useAction()
  const [adding, setAdding] = useState(false)
  const [result, setResult] = useState<Record<number, Schemas['AlertDelivery']>>({})
  const test = async (id: number) => {
    const r = await act.run(`test:${id}`, () => unwrap(api.POST('/v1/alert-channels/{id}/test', { params: { path: { id } } })))
    if (r) setResult((m) => ({ ...m, [id]: r }))
  }
  const create = async (body: Record<string, unknown>) => {
    const ok = await act.run('create', () => unwrap(api.POST('/v1/alert-channels', { body: body as never })))
    if (ok !== undefined) setAdding(false)
    q.refresh()
  }
  return (
    <>
      <div className="filters">
        <button type="button" className="button primary" onClick={() => setAdding(true)}>
          New channel
        </button>
      </div>
      <ProblemBanner error={act.error} />
      {adding && (
        <JsonEditor label="New channel (JSON)" initial={newChannel} submitLabel="Create channel" pending={act.pending === 'create'} onSubmit={(b) => void create(b)} onClose={() => setAdding(false)} />
      )}
      <QueryView {...q} isEmpty={(d) => !d.channels?.length} empty="No channel: alerts are recorded but sent nowhere.">
        {(d) => (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Enabled</th>
                <th>Test</th>
              </tr>
            </thead>
            <tbody>
              {(d.channels ?? []).map((c) => (
                <tr key={c.id}>
                  <td>{c.name}</td>
                  <td>{c.kind}</td>
                  <td>{c.enabled ? 'yes' : 'no'}</td>
                  <td>
                    <button type="button" className="link-button" disabled={act.pending !== null} onClick={() => void test(c.id)}>
                      {act.pending === `test:${c.id}` ? 'Sending…' : 'Send test'}
                    </button>{' '}
                    {result[c.id] && (result[c.id]!.succeeded ? <span className="ok">sent ({result[c.id]!.duration_ms} ms)</span> : <span className="error">failed: {result[c.id]!.error}</span>)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </>
  )
}
