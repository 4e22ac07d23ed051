import { useQueryClient } from '@tanstack/react-query'
import { Fragment, useDeferredValue, useEffect, useRef, useState } from 'react'
import { Link, useParams } from 'react-router'
import {
  cancelRun,
  cancelTask,
  getRun,
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
import { elapsed, formatTime } from '../format.ts'
import { useAction, type Action } from '../useAction.ts'
import { useLive, useStreamEvents } from '../api/live.tsx'
import type { StreamEvent } from '../api/sse.ts'
import { applyEventToRun, zoomRange } from '../gantt.ts'
import { RunTimeline } from '../components/RunTimeline.tsx'
import { useQueryState } from '../router.tsx'

/** One run: /runs/{id}?task=step (the selected task is in the URL). */
export function RunPage() {
  const params = useParams()
  const id = Number(params.id)
  return <RunView key={id} id={id} />
}

function RunView({ id }: { id: number }) {
  // Task outcomes update the table from the event, without refetching the run; they are
  // replayed onto a refetched run too, which may have been read before some of them.
  const seen = useRef<StreamEvent[]>([])
  const { data: run, error, refresh } = useLive(['run', id], async (signal) => seen.current.reduce(applyEventToRun, await getRun(id, signal)))
  const qc = useQueryClient()
  useStreamEvents((e) => {
    if (e.run_id !== id || !e.step) return
    seen.current.push(e)
    qc.setQueryData<RunDetail>(['run', id], (r) => (r ? applyEventToRun(r, e) : r))
  })
  const [query, setQuery] = useQueryState()
  const selected = query.get('task') ?? undefined
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
    void qc.invalidateQueries({ queryKey: ['gantt', id] })
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
  // The table renders after the timeline has painted (at first, null): the bars are what
  // an operator looks at first, and the 22 rows of buttons can follow a frame later.
  const tableTasks = useDeferredValue(run?.tasks ?? null, null)
  const paramsByStep = run ? Object.fromEntries(run.tasks.map((t) => [t.step, t.params])) : undefined
  const selectedTask = run?.tasks.find((t) => t.step === selected)

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

          <RunTimeline
            id={id}
            title={`Run #${id} · ${run.workflow} v${run.workflow_version} · ${run.status}`}
            workflow={run.workflow}
            selected={selected}
            onSelect={(step) => setQuery({ task: step === selected ? undefined : step })}
            params={paramsByStep}
            zoom={zoomRange(query.get('from'), query.get('to'))}
            onZoomChange={(z) => setQuery(z ? { from: new Date(z.start).toISOString(), to: new Date(z.end).toISOString() } : { from: undefined, to: undefined })}
          />
          {selectedTask && (
            <TaskPanel runId={id} task={selectedTask} act={act} ops={taskOps} onClose={() => setQuery({ task: undefined })} />
          )}

          <h2>Tasks</h2>
          {run.tasks.length === 0 ? (
            <p className="muted">This run has no tasks.</p>
          ) : (
            <TaskTable
              runId={id}
              tasks={tableTasks ?? []}
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

// The panel of the task selected on the timeline: its actions and attempts.
function TaskPanel({ runId, task, act, ops, onClose }: { runId: number; task: Task; act: Action; ops: TaskOps; onClose: () => void }) {
  const can = taskActions(task.status)
  const busy = act.pending !== null
  return (
    <div className="panel task-panel" aria-label={`Task ${task.step}`}>
      <div className="section-head">
        <h3>
          {task.step} <StatusBadge status={task.status} /> <span className="muted">{task.task_type}</span>
        </h3>
        <div className="head-actions">
          {can.retry && (
            <button type="button" className="button" disabled={busy} onClick={() => void ops.retry(task.step, undefined)}>
              {act.pending === `retry:${task.step}` ? 'Retrying…' : 'Retry'}
            </button>
          )}
          {can.skip && (
            <button type="button" className="button" disabled={busy} onClick={() => ops.skip(task.step)}>
              {act.pending === `skip:${task.step}` ? 'Skipping…' : 'Skip'}
            </button>
          )}
          {can.cancel && (
            <button type="button" className="button danger" disabled={busy} onClick={() => ops.cancel(task.step)}>
              {act.pending === `cancel:${task.step}` ? 'Cancelling…' : 'Cancel'}
            </button>
          )}
          <button type="button" className="button" onClick={onClose} aria-label="Close the task panel">
            ✕
          </button>
        </div>
      </div>
      {task.error && <pre className="json error">{task.error}</pre>}
      <AttemptsTable runId={runId} step={task.step} version={`${task.status}:${task.attempts}`} />
    </div>
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
  now: number
  open: Set<string>
  onToggle: (step: string) => void
  act: Action
  ops: TaskOps
}) {
  const { runId, tasks, now, open, onToggle, act, ops } = props
  const [panels, setPanels] = useState<Panel[]>([])
  const hasPanel = (step: string, kind: Panel['kind']) => panels.some((p) => p.step === step && p.kind === kind)
  const togglePanel = (step: string, kind: Panel['kind']) =>
    setPanels((ps) =>
      ps.some((p) => p.step === step && p.kind === kind)
        ? ps.filter((p) => !(p.step === step && p.kind === kind))
        : [...ps, { step, kind }],
    )
  const columns = 7
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
        </tr>
      </thead>
      <tbody>
        {tasks.map((t) => {
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
