import { useEffect } from 'react'
import { listAttention } from '../api.ts'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { StatusBadge } from '../components/StatusBadge.tsx'
import { formatAgo, formatTime } from '../format.ts'
import { Link } from 'react-router'
import { useLive } from '../api/live.tsx'

/** Runs blocked on a dead task still in the dead-letter queue: /attention. */
export function AttentionPage() {
  const { data, error, refresh } = useLive(['attention'], (signal) => listAttention(signal))

  useEffect(() => {
    document.title = 'Attention · Baton'
  }, [])

  const runs = data?.runs ?? []
  const now = Date.now()
  return (
    <section>
      <div className="page-head">
        <h1>Needs attention</h1>
        <Link className="button" to="/dead-letters">
          Dead letters
        </Link>
      </div>
      <p className="hint page-hint">
        Runs blocked on a dead task that is still in the dead-letter queue. Retrying, skipping, resubmitting or
        discarding the task clears the flag.
      </p>

      <ProblemBanner error={error} onRetry={refresh} />
      {!data && !error && <p className="muted">Loading…</p>}
      {data && runs.length === 0 && <div className="empty">No run needs attention.</div>}
      {runs.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th className="num">Run</th>
              <th>Workflow</th>
              <th>Status</th>
              <th>Reason</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id}>
                <td className="num">
                  <Link to={`/runs/${r.id}`}>#{r.id}</Link>
                </td>
                <td>
                  {r.workflow} <span className="muted">v{r.workflow_version}</span>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td className="wrap attention-reason">{r.attention || <span className="muted">–</span>}</td>
                <td title={formatTime(r.created_at)}>{formatAgo(r.created_at, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
