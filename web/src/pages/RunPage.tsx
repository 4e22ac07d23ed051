import { Fragment, useEffect, useState } from 'react'
import {
  cancelRun,
  getRun,
  isRunFinished,
  priorityName,
  toApiError,
  type ApiError,
  type RunDetail,
  type Task,
} from '../api.ts'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { StatusBadge } from '../components/StatusBadge.tsx'
import { elapsed, formatDuration, formatTime } from '../format.ts'
import { Link } from '../router.tsx'
import { taskBar, timelineWindow, type Window } from '../timeline.ts'
import { usePolling } from '../usePolling.ts'

// A finished run can still have tasks winding down (a cancel stops them asynchronously).
function stillMoving(run: RunDetail | undefined): boolean {
  if (!run) return true
  if (!isRunFinished(run.status)) return true
  return run.tasks.some((t) => t.status === 'running' || t.status === 'queued')
}

/** One run: /runs/{id}. */
export function RunPage({ id }: { id: number }) {
  const { data: run, error, refresh } = usePolling(`run:${id}`, (signal) => getRun(id, signal), {
    enabled: stillMoving,
  })
  const [cancel, setCancel] = useState<{ pending: boolean; error?: ApiError }>({ pending: false })
  const [open, setOpen] = useState<Set<string>>(new Set())

  useEffect(() => {
    document.title = `Run #${id} · Baton`
  }, [id])

  const onCancel = async () => {
    if (!window.confirm(`Cancel run #${id}? Running tasks are stopped and nothing else is started.`)) return
    setCancel({ pending: true })
    try {
      await cancelRun(id)
      setCancel({ pending: false })
    } catch (err) {
      setCancel({ pending: false, error: toApiError(err) as ApiError })
    }
    refresh()
  }

  const toggle = (step: string) =>
    setOpen((s) => {
      const next = new Set(s)
      if (next.has(step)) next.delete(step)
      else next.add(step)
      return next
    })

  const now = Date.now()
  const window_ = run ? timelineWindow(run, run.tasks, now) : null

  return (
    <section>
      <div className="breadcrumbs">
        <Link to="/runs">Runs</Link> / #{id}
      </div>
      <div className="page-head">
        <h1>
          Run #{id}
          {run && (
            <>
              {' '}
              <span className="muted">·</span> {run.workflow} <span className="muted">v{run.workflow_version}</span>{' '}
              <StatusBadge status={run.status} />
            </>
          )}
        </h1>
        {run && !isRunFinished(run.status) && (
          <button type="button" className="button danger" disabled={cancel.pending} onClick={() => void onCancel()}>
            {cancel.pending ? 'Cancelling…' : 'Cancel run'}
          </button>
        )}
      </div>

      <ProblemBanner error={error} onRetry={refresh} />
      <ProblemBanner error={cancel.error} />
      {!run && !error && <p className="muted">Loading…</p>}

      {run && (
        <>
          <dl className="facts">
            <div>
              <dt>Priority</dt>
              <dd>{priorityName(run.priority)}</dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>{formatTime(run.created_at)}</dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>{formatTime(run.started_at)}</dd>
            </div>
            <div>
              <dt>Finished</dt>
              <dd>{formatTime(run.finished_at)}</dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{elapsed(run.started_at, run.finished_at, now)}</dd>
            </div>
          </dl>

          {run.error && (
            <div className="run-error">
              <strong>Run failed:</strong> {run.error}
            </div>
          )}

          <h2>Tasks</h2>
          {run.tasks.length === 0 ? (
            <p className="muted">This run has no tasks.</p>
          ) : (
            <TaskTable tasks={run.tasks} window={window_} now={now} open={open} onToggle={toggle} />
          )}

          <h2>Input</h2>
          <pre className="json">{JSON.stringify(run.input ?? {}, null, 2)}</pre>
        </>
      )}
    </section>
  )
}

function TaskTable(props: {
  tasks: Task[]
  window: Window | null
  now: number
  open: Set<string>
  onToggle: (step: string) => void
}) {
  const { tasks, window: w, now, open, onToggle } = props
  return (
    <table className="table tasks">
      <thead>
        <tr>
          <th>Step</th>
          <th>Type</th>
          <th>Status</th>
          <th className="num">Attempts</th>
          <th>Depends on</th>
          <th className="num">Duration</th>
          <th className="timeline-head">
            {w ? (
              <span className="axis">
                <span>{new Date(w.start).toLocaleTimeString()}</span>
                <span>+{formatDuration(w.end - w.start)}</span>
              </span>
            ) : (
              'Timeline'
            )}
          </th>
        </tr>
      </thead>
      <tbody>
        {tasks.map((t) => {
          const bar = w ? taskBar(t, w, now) : null
          const isOpen = open.has(t.step)
          return (
            <Fragment key={t.step}>
              <tr className={isOpen ? 'open' : undefined}>
                <td>
                  <button
                    type="button"
                    className="link-button step"
                    aria-expanded={isOpen}
                    onClick={() => onToggle(t.step)}
                    title="Show output and error"
                  >
                    <span className="caret">{isOpen ? '▾' : '▸'}</span> {t.step}
                  </button>
                </td>
                <td>{t.task_type}</td>
                <td>
                  <StatusBadge status={t.status} />
                  {t.error_class && <span className="error-class">{t.error_class}</span>}
                </td>
                <td className="num">
                  {t.attempts}/{t.max_attempts}
                </td>
                <td className="deps">{t.depends_on?.length ? t.depends_on.join(', ') : <span className="muted">–</span>}</td>
                <td className="num">{elapsed(t.started_at, t.finished_at, now)}</td>
                <td className="timeline">
                  <div className="track">
                    {bar && (
                      <div
                        className={`bar bar-${t.status}${bar.open ? ' bar-open' : ''}`}
                        style={{ left: `${bar.left}%`, width: `${bar.width}%` }}
                        title={`${t.step}: ${formatTime(t.started_at)} → ${t.finished_at ? formatTime(t.finished_at) : 'now'}`}
                      />
                    )}
                  </div>
                </td>
              </tr>
              {isOpen && (
                <tr className="detail">
                  <td colSpan={7}>
                    <div className="detail-grid">
                      <div>
                        <h3>Timing</h3>
                        <div>Created {formatTime(t.created_at)}</div>
                        <div>Started {formatTime(t.started_at)}</div>
                        <div>Finished {formatTime(t.finished_at)}</div>
                      </div>
                      {t.error && (
                        <div>
                          <h3>Error{t.error_class ? ` (${t.error_class})` : ''}</h3>
                          <pre className="json error">{t.error}</pre>
                        </div>
                      )}
                      <div>
                        <h3>Output</h3>
                        {t.output === null || t.output === undefined ? (
                          <span className="muted">none</span>
                        ) : (
                          <pre className="json">{JSON.stringify(t.output, null, 2)}</pre>
                        )}
                      </div>
                    </div>
                  </td>
                </tr>
              )}
            </Fragment>
          )
        })}
      </tbody>
    </table>
  )
}
