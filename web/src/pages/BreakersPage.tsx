import { actionHeaders, api, unwrap } from '../api/client.ts'
import { useLive } from '../api/live.tsx'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { QueryView } from '../components/States.tsx'
import { formatDuration, formatTime } from '../format.ts'
import { useAction } from '../useAction.ts'
import { useTitle } from '../useTitle.ts'

/** Circuit breakers: /breakers. State changes stream in (breaker_* events). */
export function BreakersPage() {
  useTitle('Breakers')
  const q = useLive(['breakers'], (signal) => unwrap(api.GET('/v1/breakers', { signal })))
  const act = useAction()
  const force = async (key: string, to: 'open' | 'close') => {
    const path = to === 'open' ? '/v1/breakers/{key}/open' : '/v1/breakers/{key}/close'
    await act.run(`${to}:${key}`, () => unwrap(api.POST(path, { params: { path: { key }, header: actionHeaders } })))
    q.refresh()
  }
  return (
    <section>
      <div className="page-head">
        <h1>Circuit breakers</h1>
      </div>
      <ProblemBanner error={act.error} />
      <QueryView
        {...q}
        isEmpty={(d) => !d.breakers?.length}
        empty="No breaker yet: one appears once a task guarded by a breaker has been attempted."
      >
        {(d) => (
          <table className="table">
            <thead>
              <tr>
                <th>Key</th>
                <th>State</th>
                <th className="num">Error rate</th>
                <th className="num">Failures / outcomes</th>
                <th>Opened</th>
                <th className="num">Cooldown</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {(d.breakers ?? []).map((b) => (
                <tr key={b.key} data-breaker={b.key}>
                  <td>
                    <code>{b.key}</code>
                  </td>
                  <td>
                    <span className={`badge breaker-${b.state}`}>{b.state.replace('_', '-')}</span>
                    {b.forced && <span className="tag">forced</span>}
                  </td>
                  <td className="num">
                    <RateBar value={b.error_rate} threshold={b.failure_rate} />
                  </td>
                  <td className="num">
                    {b.failures}/{b.outcomes} <span className="muted">(window {b.window})</span>
                  </td>
                  <td>{formatTime(b.opened_at)}</td>
                  <td className="num">{formatDuration(b.cooldown_ms)}</td>
                  <td className="task-actions">
                    {b.state !== 'open' || !b.forced ? (
                      <button type="button" className="link-button danger" disabled={act.pending !== null} onClick={() => void force(b.key, 'open')}>
                        Force open
                      </button>
                    ) : null}
                    {b.state !== 'closed' && (
                      <button type="button" className="link-button" disabled={act.pending !== null} onClick={() => void force(b.key, 'close')}>
                        Close
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </section>
  )
}

function RateBar({ value, threshold }: { value: number; threshold: number }) {
  const pct = Math.round(value * 100)
  return (
    <span className="rate" title={`opens above ${Math.round(threshold * 100)} %`}>
      <span className="rate-track">
        <span className={`rate-fill${value > threshold ? ' over' : ''}`} style={{ width: `${Math.min(100, pct)}%` }} />
      </span>{' '}
      {pct} %
    </span>
  )
}
