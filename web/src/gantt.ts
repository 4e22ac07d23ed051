// The Gantt chart's model: time window, segments of each task (queue wait, one per attempt,
// the attempt in progress) and the in-place update a stream event makes. Pure functions, so
// the tests run without a browser.
import type { Schemas } from './api/client.ts'
import type { StreamEvent } from './api/sse.ts'

/** GET /v1/runs/{id}/gantt. */
export type Gantt = Schemas['Gantt']
/** One task of a Gantt. */
export type GanttTask = Schemas['GanttTask']
/** One ended attempt of a task. */
export type Attempt = Schemas['Attempt']

/** The statuses the chart colours, in legend order. */
export const ganttStatuses = ['pending', 'queued', 'running', 'succeeded', 'failed', 'dead', 'skipped', 'cancelled', 'paused'] as const

/** Fill colour of each status (the same in both themes, and in the exports). */
export const statusColor: Record<string, string> = {
  pending: '#9ca3af',
  queued: '#a78bfa',
  running: '#3b82f6',
  succeeded: '#16a34a',
  failed: '#f97316',
  dead: '#7f1d1d',
  skipped: '#d1d5db',
  cancelled: '#6b7280',
  paused: '#eab308',
}

/** The colour of an attempt by its outcome (an event kind). */
export function outcomeColor(outcome: string): string {
  switch (outcome) {
    case 'task_succeeded':
      return statusColor.succeeded!
    case 'task_dead':
      return statusColor.dead!
    case 'task_attempt_interrupted':
      return statusColor.cancelled!
    default:
      return statusColor.failed!
  }
}

/** The colour of the critical path's outline and arrows. */
export const criticalColor = '#dc2626'

/** One drawn piece of a task's row. */
export interface Segment {
  start: number
  end: number
  kind: 'wait' | 'attempt' | 'current' | 'status'
  color: string
  attempt?: number
  outcome?: string
}

const t = (s: string | null | undefined): number | null => (s ? Date.parse(s) : null)

/** The time span the chart shows: from the first queued task (or the run's start) to the last end or now. */
export function ganttWindow(g: Gantt, now: number): { start: number; end: number } {
  let start = t(g.started_at) ?? t(g.created_at) ?? now
  let end = t(g.finished_at) ?? start
  for (const task of g.tasks ?? []) {
    const q = t(task.queued_at) ?? t(task.started_at)
    if (q !== null) start = Math.min(start, q)
    const f = t(task.finished_at)
    if (f !== null) end = Math.max(end, f)
    else if (isActive(task.status)) end = Math.max(end, now)
    for (const a of task.attempts ?? []) end = Math.max(end, Date.parse(a.ended_at))
  }
  if (!g.finished_at && !isFinished(g.status)) end = Math.max(end, now)
  if (end <= start) end = start + 1000
  return { start, end }
}

/** Reports whether a run status is final. */
export function isFinished(status: string): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled'
}

function isActive(status: string): boolean {
  return status === 'running' || status === 'queued'
}

/**
 * The segments of a task's row: the queue wait before its first attempt, each ended attempt
 * coloured by its outcome, and the attempt in progress (to now) while it runs. A task that
 * ended without attempts (skipped, cancelled) is one segment in its status colour.
 */
export function taskSegments(task: GanttTask, now: number): Segment[] {
  const segs: Segment[] = []
  const queued = t(task.queued_at)
  const attempts = [...(task.attempts ?? [])].sort((a, b) => a.attempt - b.attempt)
  const firstStart = attempts.length > 0 ? Date.parse(attempts[0]!.started_at) : t(task.started_at)
  if (queued !== null) {
    const waitEnd = firstStart ?? t(task.finished_at) ?? (isActive(task.status) ? now : queued)
    if (waitEnd > queued) segs.push({ start: queued, end: waitEnd, kind: 'wait', color: statusColor.queued! })
  }
  for (const a of attempts) {
    const s = Date.parse(a.started_at)
    const e = Date.parse(a.ended_at)
    segs.push({ start: s, end: Math.max(e, s), kind: 'attempt', color: outcomeColor(a.outcome), attempt: a.attempt, outcome: a.outcome })
  }
  if (task.status === 'running') {
    const last = attempts.length > 0 ? Date.parse(attempts[attempts.length - 1]!.ended_at) : null
    const s = Math.max(t(task.started_at) ?? now, last ?? -Infinity)
    segs.push({ start: s, end: Math.max(now, s), kind: 'current', color: statusColor.running! })
  } else if (attempts.length === 0 && (task.started_at || task.finished_at)) {
    const s = t(task.started_at) ?? queued ?? t(task.finished_at)!
    const e = t(task.finished_at) ?? now
    segs.push({ start: s, end: Math.max(e, s), kind: 'status', color: statusColor[task.status] ?? statusColor.pending! })
  }
  return segs
}

/** Metrics of the hover card. */
export interface TaskMetrics {
  queueWaitMs: number | null
  durationMs: number | null
  attempts: number
  node: string
  error: string
}

/** The hover card's figures for a task. */
export function taskMetrics(task: GanttTask, now: number): TaskMetrics {
  const attempts = task.attempts ?? []
  const queued = t(task.queued_at)
  const firstStart = attempts.length > 0 ? Date.parse(attempts[0]!.started_at) : t(task.started_at)
  const start = t(task.started_at) ?? firstStart
  const end = t(task.finished_at) ?? (task.status === 'running' ? now : null)
  const last = attempts[attempts.length - 1]
  return {
    queueWaitMs: queued !== null && firstStart !== null ? Math.max(0, firstStart - queued) : null,
    durationMs: start !== null && end !== null ? Math.max(0, end - start) : null,
    attempts: attempts.length + (task.status === 'running' ? 1 : 0),
    node: last?.node ?? '',
    error: last && last.outcome !== 'task_succeeded' ? (last.error ?? '') : '',
  }
}

const doneForDependents = new Set(['succeeded', 'skipped'])

/** Statuses a task_started event moves to running. */
const startable = new Set(['pending', 'queued'])

const finalStatuses = new Set(['succeeded', 'dead', 'skipped', 'cancelled'])

const statusOf: Record<string, string> = {
  task_succeeded: 'succeeded',
  task_dead: 'dead',
  task_skipped: 'skipped',
  task_cancelled: 'cancelled',
}

// Reports whether a task's data already reflects an event (so replaying the event after a
// refetch changes nothing): the attempt is recorded, a later attempt is, the task was
// queued again after the event (a retry), or it is already in the event's final status.
function reflects(task: GanttTask, e: StreamEvent): boolean {
  const queued = t(task.queued_at)
  if (queued !== null && Date.parse(e.time) < queued) return true
  const attempts = task.attempts ?? []
  if (e.attempt != null && attempts.some((a) => a.attempt > e.attempt! || (a.attempt === e.attempt && a.outcome === e.kind))) return true
  const target = statusOf[e.kind]
  return target !== undefined && e.attempt == null && task.status === target
}

/**
 * Applies one stream event to a run's Gantt data and returns the new data (the same object
 * when the event changes nothing): the task's status, its ended attempt, and, when a task
 * is done, its dependents whose dependencies are all done become queued. This is how a bar
 * changes within milliseconds of the commit without refetching the run.
 */
export function applyEvent(g: Gantt, e: StreamEvent): Gantt {
  if (e.run_id !== g.run_id || !e.step || !g.tasks) return g
  const idx = g.tasks.findIndex((x) => x.step === e.step)
  if (idx < 0) return g
  const task = g.tasks[idx]!
  if (e.kind === 'task_started') {
    // A status hint: only a waiting task whose attempt has not ended yet turns running (a
    // start that arrives after the attempt's outcome, or after a refetch, changes nothing).
    if (!startable.has(task.status) || (task.attempts ?? []).some((a) => a.attempt >= (e.attempt ?? 1))) return g
    const tasks = g.tasks.slice()
    tasks[idx] = { ...task, status: 'running', started_at: task.started_at ?? e.time }
    return { ...g, tasks }
  }
  if (reflects(task, e)) return g
  const next: GanttTask = { ...task }
  const endedAttempt = (outcome: string): Attempt => {
    const dur = e.duration_ms ?? 0
    const ended = Date.parse(e.time)
    return {
      attempt: e.attempt ?? (task.attempts?.length ?? 0) + 1,
      duration_ms: dur,
      ended_at: e.time,
      started_at: new Date(ended - dur).toISOString(),
      error: e.error ?? '',
      error_class: e.error_class ?? '',
      node: e.node ?? '',
      outcome,
    }
  }
  const addAttempt = (outcome: string) => {
    const a = endedAttempt(outcome)
    const others = (task.attempts ?? []).filter((x) => x.attempt !== a.attempt)
    next.attempts = [...others, a]
    next.started_at = next.started_at ?? a.started_at
  }
  switch (e.kind) {
    case 'task_succeeded':
      addAttempt(e.kind)
      next.status = 'succeeded'
      next.finished_at = e.time
      break
    case 'task_dead':
      addAttempt(e.kind)
      next.status = 'dead'
      next.finished_at = e.time
      break
    case 'task_attempt_failed':
    case 'task_attempt_interrupted':
      addAttempt(e.kind)
      next.status = 'queued'
      break
    case 'task_skipped':
      next.status = 'skipped'
      next.finished_at = e.time
      break
    case 'task_cancelled':
      next.status = 'cancelled'
      next.finished_at = e.time
      break
    default:
      return g
  }
  const tasks = g.tasks.slice()
  tasks[idx] = next
  if (doneForDependents.has(next.status)) {
    const status = new Map(tasks.map((x) => [x.step, x.status]))
    for (let i = 0; i < tasks.length; i++) {
      const d = tasks[i]!
      if (d.status !== 'pending' || !(d.depends_on ?? []).includes(next.step)) continue
      if ((d.depends_on ?? []).every((s) => doneForDependents.has(status.get(s) ?? ''))) {
        tasks[i] = { ...d, status: 'queued', queued_at: d.queued_at ?? e.time }
      }
    }
  }
  return { ...g, tasks }
}

/** The dependency edges along the critical path: [from, to] step pairs. */
export function criticalEdges(g: Gantt): [string, string][] {
  const path = g.critical_path ?? []
  const edges: [string, string][] = []
  for (let i = 1; i < path.length; i++) edges.push([path[i - 1]!, path[i]!])
  return edges
}

/** The part of a run's detail (GET /v1/runs/{id}) that task events change. */
export interface PatchableRun {
  id: number
  tasks: {
    step: string
    status: string
    attempts: number
    depends_on: string[]
    started_at: string | null
    finished_at: string | null
    error: string | null
    error_class: string | null
  }[]
  task_counts: Partial<Record<string, number>>
}

/**
 * Applies one task event to a run's detail, like applyEvent does to its Gantt data: the
 * task's status, attempts, times and error, the dependents it releases, and the counts.
 * Run-level events are not handled here: they refetch the run.
 */
export function applyEventToRun<R extends PatchableRun>(run: R, e: StreamEvent): R {
  if (e.run_id !== run.id || !e.step) return run
  const idx = run.tasks.findIndex((x) => x.step === e.step)
  if (idx < 0) return run
  const current = run.tasks[idx]!
  if (e.kind === 'task_started') {
    // The run counts an attempt from its start: a start it already counts is old news.
    if (!startable.has(current.status) || (e.attempt ?? 1) <= current.attempts) return run
    const tasks = run.tasks.slice()
    tasks[idx] = { ...current, status: 'running', attempts: e.attempt ?? current.attempts + 1, started_at: current.started_at ?? e.time }
    const counts: Partial<Record<string, number>> = {}
    for (const t of tasks) counts[t.status] = (counts[t.status] ?? 0) + 1
    return { ...run, tasks, task_counts: counts }
  }
  // Already reflected (replayed after a refetch): an older attempt, or the same final outcome.
  if (e.attempt != null && (e.attempt < current.attempts || (e.attempt === current.attempts && finalStatuses.has(current.status)))) return run
  if (e.attempt == null && current.status === statusOf[e.kind]) return run
  const task = { ...current }
  const attempt = e.attempt ?? task.attempts
  const startedAt = () => task.started_at ?? new Date(Date.parse(e.time) - (e.duration_ms ?? 0)).toISOString()
  switch (e.kind) {
    case 'task_succeeded':
      Object.assign(task, { status: 'succeeded', attempts: Math.max(task.attempts, attempt), started_at: startedAt(), finished_at: e.time, error: null, error_class: null })
      break
    case 'task_dead':
      Object.assign(task, { status: 'dead', attempts: Math.max(task.attempts, attempt), started_at: startedAt(), finished_at: e.time, error: e.error || null, error_class: e.error_class || null })
      break
    case 'task_attempt_failed':
    case 'task_attempt_interrupted':
      Object.assign(task, { status: 'queued', attempts: Math.max(task.attempts, attempt), started_at: startedAt(), error: e.error || null, error_class: e.error_class || null })
      break
    case 'task_skipped':
      Object.assign(task, { status: 'skipped', finished_at: e.time })
      break
    case 'task_cancelled':
      Object.assign(task, { status: 'cancelled', finished_at: e.time })
      break
    default:
      return run
  }
  const tasks = run.tasks.slice()
  tasks[idx] = task
  if (doneForDependents.has(task.status)) {
    const status = new Map(tasks.map((x) => [x.step, x.status]))
    for (let i = 0; i < tasks.length; i++) {
      const d = tasks[i]!
      if (d.status !== 'pending' || !d.depends_on.includes(task.step)) continue
      if (d.depends_on.every((s) => doneForDependents.has(status.get(s) ?? ''))) tasks[i] = { ...d, status: 'queued' }
    }
  }
  const counts: Partial<Record<string, number>> = {}
  for (const t of tasks) counts[t.status] = (counts[t.status] ?? 0) + 1
  return { ...run, tasks, task_counts: counts }
}

/**
 * The timeline's zoomed range from the URL (?from=&to=, RFC 3339), or null for the whole
 * run when either is missing or they do not make a range.
 */
export function zoomRange(from: string | null, to: string | null): { start: number; end: number } | null {
  if (!from || !to) return null
  const start = Date.parse(from)
  const end = Date.parse(to)
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) return null
  return { start, end }
}
