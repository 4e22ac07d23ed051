import { Fragment, useEffect, useState } from 'react'
import {
  cancelRun,
  cancelTask,
  getRun,
  isRunFinished,
  pauseRun,
  priorityName,
  resumeRun,
  retryTask,
  runActions,
  skipTask,
  taskActions,
  type ParamsBody,
  type RunDetail,
  type Task,
} from '../api.ts'
import { AttemptsTable } from '../components/AttemptsTable.tsx'
import { ParamsEditor } from '../components/ParamsEditor.tsx'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { StatusBadge } from '../components/StatusBadge.tsx'
import { elapsed, formatDuration, formatTime } from '../format.ts'
import { Link } from '../router.tsx'
import { taskBar, timelineWindow, type Window } from '../timeline.ts'
import { useAction, type Action } from '../useAction.ts'
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
  const act = useAction()
  const [open, setOpen] = useState<Set<string>>(new Set())

  useEffect(() => {
    document.title = `Run #${id} · Baton`
  }, [id])

  // Every action refreshes the run afterwards, whether it worked or not.
  // Resolves to whether the action succeeded.
  const perform = async (name: string, fn: () => Promise<unknown>): Promise<boolean> => {
    const ok = await act.run(name, async () => {
      await fn()
      return true
    })
    refresh()
    return ok === true
  }

  const onCancel = () => {
    if (!window.confirm(`Cancel run #${id}? Running tasks are stopped and nothing else is started.`)) return
    void perform('cancel', () => cancelRun(id))
  }

  const taskOps: TaskOps = {
    retry: (step, body) => perform(`retry:${step}`, () => retryTask(id, step, body)),
    skip: (step) => {
      if (!window.confirm(`Skip step "${step}"? Its dependents will run as if it had succeeded.`)) return
      void perform(`skip:${step}`, () => skipTask(id, step))
    },
    cancel: (step) => {
      if (!window.confirm(`Cancel step "${step}"? Its dependents are skipped and the run fails unless the step is optional.`))
        return
      void perform(`cancel:${step}`, () => cancelTask(id, step))
    },
  }
  const can = run ? runActions(run.status) : undefined

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
        {can && (can.pause || can.resume || can.cancel) && (
          <div className="head-actions">
            {can.pause && (
              <button
                type="button"
                className="button"
                disabled={act.pending !== null}
                onClick={() => void perform('pause', () => pauseRun(id))}
              >
                {act.pending === 'pause' ? 'Pausing…' : 'Pause'}
              </button>
            )}
            {can.resume && (
              <button
                type="button"
                className="button primary"
                disabled={act.pending !== null}
                onClick={() => void perform('resume', () => resumeRun(id))}
              >
                {act.pending === 'resume' ? 'Resuming…' : 'Resume'}
              </button>
            )}
            {can.cancel && (
              <button type="button" className="button danger" disabled={act.pending !== null} onClick={onCancel}>
                {act.pending === 'cancel' ? 'Cancelling…' : 'Cancel run'}
              </button>
            )}
          </div>
        )}
      </div>

      <ProblemBanner error={error} onRetry={refresh} />
      <ProblemBanner error={act.error} />
      {run?.attention && (
        <div className="attention" role="status">
          <strong>Needs attention:</strong> {run.attention}
        </div>
      )}
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
            <TaskTable
              runId={id}
              tasks={run.tasks}
              window={window_}
              now={now}
              open={open}
              onToggle={toggle}
              act={act}
              ops={taskOps}
            />
          )}

          <h2>Input</h2>
          <pre className="json">{JSON.stringify(run.input ?? {}, null, 2)}</pre>
        </>
      )}
    </section>
  )
}

// The task actions of the run page; each refreshes the run when done.
interface TaskOps {
  retry: (step: string, body: ParamsBody | undefined) => Promise<boolean>
  skip: (step: string) => void
  cancel: (step: string) => void
}

// Which panel is open under a task row: the retry params editor or the attempts list.
type Panel = { step: string; kind: 'retry' | 'attempts' }

function TaskTable(props: {
  runId: number
  tasks: Task[]
  window: Window | null
  now: number
  open: Set<string>
  onToggle: (step: string) => void
  act: Action
  ops: TaskOps
}) {
  const { runId, tasks, window: w, now, open, onToggle, act, ops } = props
  const [panels, setPanels] = useState<Panel[]>([])
  const hasPanel = (step: string, kind: Panel['kind']) => panels.some((p) => p.step === step && p.kind === kind)
  const togglePanel = (step: string, kind: Panel['kind']) =>
    setPanels((ps) =>
      ps.some((p) => p.step === step && p.kind === kind)
        ? ps.filter((p) => !(p.step === step && p.kind === kind))
        : [...ps, { step, kind }],
    )
  const columns = 8
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
          <th>Actions</th>
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
          const can = taskActions(t.status)
          const busy = act.pending !== null
          const retrying = hasPanel(t.step, 'retry') && can.retry
          const showAttempts = hasPanel(t.step, 'attempts')
          const rowClass = [isOpen ? 'open' : '', t.status === 'dead' ? 'task-dead' : ''].filter(Boolean).join(' ')
          return (
            <Fragment key={t.step}>
              <tr className={rowClass || undefined}>
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
                  {t.manual_skip && (
                    <span className="tag" title="An operator skipped this task">
                      manual skip
                    </span>
                  )}
                  {t.error_class && <span className="error-class">{t.error_class}</span>}
                </td>
                <td className="num">
                  {t.attempts}/{t.max_attempts}
                </td>
                <td className="deps">{t.depends_on?.length ? t.depends_on.join(', ') : <span className="muted">–</span>}</td>
                <td className="num">{elapsed(t.started_at, t.finished_at, now)}</td>
                <td className="task-actions">
                  {can.retry && (
                    <button
                      type="button"
                      className="link-button"
                      aria-expanded={retrying}
                      disabled={busy}
                      onClick={() => togglePanel(t.step, 'retry')}
                    >
                      Retry…
                    </button>
                  )}
                  {can.skip && (
                    <button type="button" className="link-button" disabled={busy} onClick={() => ops.skip(t.step)}>
                      {act.pending === `skip:${t.step}` ? 'Skipping…' : 'Skip'}
                    </button>
                  )}
                  {can.cancel && (
                    <button type="button" className="link-button danger" disabled={busy} onClick={() => ops.cancel(t.step)}>
                      {act.pending === `cancel:${t.step}` ? 'Cancelling…' : 'Cancel'}
                    </button>
                  )}
                  <button
                    type="button"
                    className="link-button"
                    aria-expanded={showAttempts}
                    onClick={() => togglePanel(t.step, 'attempts')}
                  >
                    {showAttempts ? 'Hide attempts' : 'Attempts'}
                  </button>
                </td>
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
                  <td colSpan={columns}>
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
              {retrying && (
                <tr className="detail">
                  <td colSpan={columns}>
                    <h3>Retry {t.step}</h3>
                    <ParamsEditor
                      params={t.params}
                      submitLabel="Retry task"
                      pending={act.pending === `retry:${t.step}`}
                      onSubmit={(body) => {
                        void ops.retry(t.step, body).then((ok) => {
                          if (ok) togglePanel(t.step, 'retry')
                        })
                      }}
                      onClose={() => togglePanel(t.step, 'retry')}
                    />
                  </td>
                </tr>
              )}
              {showAttempts && (
                <tr className="detail">
                  <td colSpan={columns}>
                    <h3>Attempts of {t.step}</h3>
                    <AttemptsTable runId={runId} step={t.step} version={`${t.status}:${t.attempts}`} />
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
