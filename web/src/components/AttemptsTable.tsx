import { useEffect, useState } from 'react'
import { isAbort, listTaskAttempts, nextRetryAt, toApiError, type ApiError, type TaskEvent } from '../api.ts'
import { formatDuration, formatTime } from '../format.ts'
import { ProblemBanner } from './ProblemBanner.tsx'

/** Loads and lists a task's audit trail: one event per attempt plus manual actions. */
export function AttemptsTable({ runId, step, version }: { runId: number; step: string; version: string }) {
  const [state, setState] = useState<{ events?: TaskEvent[]; error?: ApiError }>({})
  const [tick, setTick] = useState(0)

  // version changes when the task does (status, attempts), so the list follows it.
  useEffect(() => {
    const ctrl = new AbortController()
    listTaskAttempts(runId, step, ctrl.signal).then(
      (res) => setState({ events: res.events ?? [] }),
      (err: unknown) => {
        if (!isAbort(err)) setState((s) => ({ events: s.events, error: toApiError(err) as ApiError }))
      },
    )
    return () => ctrl.abort()
  }, [runId, step, version, tick])

  if (state.error) return <ProblemBanner error={state.error} onRetry={() => setTick((t) => t + 1)} />
  if (!state.events) return <p className="muted">Loading attempts…</p>
  if (state.events.length === 0) return <p className="muted">No attempts recorded yet.</p>
  return (
    <table className="table attempts">
      <thead>
        <tr>
          <th>Event</th>
          <th className="num">Attempt</th>
          <th>Time</th>
          <th className="num">Duration</th>
          <th>Error</th>
          <th>Node</th>
          <th>Actor</th>
          <th>Next retry</th>
        </tr>
      </thead>
      <tbody>
        {state.events.map((e) => {
          const next = nextRetryAt(e)
          return (
            <tr key={e.id}>
              <td>
                <code>{e.kind}</code>
              </td>
              <td className="num">{e.attempt ?? '–'}</td>
              <td>{formatTime(e.time)}</td>
              <td className="num">{e.duration_ms === null ? '–' : formatDuration(e.duration_ms)}</td>
              <td className="wrap">
                {e.error_class && <span className="error-class first">{e.error_class}</span>}
                {e.error ? <span className="attempt-error">{e.error}</span> : !e.error_class && <span className="muted">–</span>}
              </td>
              <td>{e.node || <span className="muted">–</span>}</td>
              <td>{e.actor || <span className="muted">–</span>}</td>
              <td>{next ? formatTime(next) : <span className="muted">–</span>}</td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}
