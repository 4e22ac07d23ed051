import { describe, expect, it } from 'vitest'
import type { StreamEvent } from './api/sse.ts'
import { applyEvent, applyEventToRun, criticalEdges, ganttWindow, statusColor, taskMetrics, taskSegments, zoomRange, type Gantt, type GanttTask } from './gantt.ts'

const T0 = Date.parse('2026-12-01T10:00:00Z')
const iso = (ms: number) => new Date(T0 + ms).toISOString()

function task(step: string, over: Partial<GanttTask> = {}): GanttTask {
  return {
    id: 1,
    step,
    task_type: 'sim',
    status: 'pending',
    depends_on: [],
    queued_at: null,
    started_at: null,
    finished_at: null,
    attempts: null,
    elapsed_ms: 0,
    slack_ms: 0,
    critical: false,
    ...over,
  }
}

function gantt(tasks: GanttTask[], over: Partial<Gantt> = {}): Gantt {
  return {
    run_id: 7,
    workflow: 'w',
    status: 'running',
    created_at: iso(0),
    started_at: iso(0),
    finished_at: null,
    critical_path: null,
    critical_path_ms: 0,
    tasks,
    ...over,
  }
}

function event(over: Partial<StreamEvent>): StreamEvent {
  return { id: 1, kind: 'task_succeeded', run_id: 7, step: 'a', time: iso(1000), workflow: 'w', actor: '', error: '', error_class: '', node: 'n1', queue: 'default', ...over } as StreamEvent
}

describe('taskSegments', () => {
  it('draws the queue wait, then one segment per attempt coloured by outcome', () => {
    const t = task('a', {
      status: 'succeeded',
      queued_at: iso(0),
      started_at: iso(100),
      finished_at: iso(900),
      attempts: [
        { attempt: 2, outcome: 'task_succeeded', started_at: iso(600), ended_at: iso(900), duration_ms: 300, node: 'n', error: '', error_class: '' },
        { attempt: 1, outcome: 'task_attempt_failed', started_at: iso(100), ended_at: iso(300), duration_ms: 200, node: 'n', error: 'boom', error_class: 'transient' },
      ],
    })
    const segs = taskSegments(t, T0 + 5000)
    expect(segs.map((s) => s.kind)).toEqual(['wait', 'attempt', 'attempt'])
    expect(segs[0]).toMatchObject({ start: T0, end: T0 + 100 })
    expect(segs[1]).toMatchObject({ attempt: 1, color: statusColor.failed })
    expect(segs[2]).toMatchObject({ attempt: 2, color: statusColor.succeeded, end: T0 + 900 })
  })

  it('draws a running attempt up to now', () => {
    const t = task('a', { status: 'running', queued_at: iso(0), started_at: iso(50) })
    const segs = taskSegments(t, T0 + 2000)
    expect(segs[segs.length - 1]).toMatchObject({ kind: 'current', start: T0 + 50, end: T0 + 2000, color: statusColor.running })
  })

  it('draws nothing for a pending task', () => {
    expect(taskSegments(task('a'), T0)).toEqual([])
  })
})

describe('ganttWindow', () => {
  it('extends to now while the run is going', () => {
    const g = gantt([task('a', { status: 'running', queued_at: iso(0), started_at: iso(10) })])
    expect(ganttWindow(g, T0 + 3000)).toEqual({ start: T0, end: T0 + 3000 })
  })
  it('ends at the last finish once the run is done', () => {
    const g = gantt([task('a', { status: 'succeeded', queued_at: iso(0), started_at: iso(10), finished_at: iso(500) })], { status: 'succeeded', finished_at: iso(500) })
    expect(ganttWindow(g, T0 + 99_000)).toEqual({ start: T0, end: T0 + 500 })
  })
})

describe('applyEvent', () => {
  const base = gantt([
    task('a', { status: 'running', queued_at: iso(0), started_at: iso(10) }),
    task('b', { depends_on: ['a'] }),
    task('c', { depends_on: ['a', 'x'] }),
    task('x', { status: 'running' }),
  ])

  it('marks the task succeeded with its attempt, and queues dependents whose dependencies are done', () => {
    const g = applyEvent(base, event({ attempt: 1, duration_ms: 400 }))
    const a = g.tasks!.find((t) => t.step === 'a')!
    expect(a.status).toBe('succeeded')
    expect(a.finished_at).toBe(iso(1000))
    expect(a.attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'task_succeeded', started_at: iso(600), ended_at: iso(1000) })])
    expect(g.tasks!.find((t) => t.step === 'b')).toMatchObject({ status: 'queued', queued_at: iso(1000) })
    expect(g.tasks!.find((t) => t.step === 'c')!.status).toBe('pending')
    expect(base.tasks![0]!.status).toBe('running') // not mutated
  })

  it('keeps a failed attempt and requeues the task', () => {
    const g = applyEvent(base, event({ kind: 'task_attempt_failed', attempt: 1, duration_ms: 100, error: 'boom' }))
    const a = g.tasks![0]!
    expect(a.status).toBe('queued')
    expect(a.attempts![0]).toMatchObject({ outcome: 'task_attempt_failed', error: 'boom' })
  })

  it('changes nothing when replayed onto data that already reflects the event', () => {
    const once = applyEvent(base, event({ attempt: 1, duration_ms: 400 }))
    expect(applyEvent(once, event({ attempt: 1, duration_ms: 400 }))).toBe(once)
    // An earlier failed attempt replayed onto a task that has since succeeded.
    expect(applyEvent(once, event({ kind: 'task_attempt_failed', attempt: 0 }))).toBe(once)
    // A dead task retried (queued again after the event) stays queued.
    const retried = gantt([task('a', { status: 'queued', queued_at: iso(5000) })])
    expect(applyEvent(retried, event({ kind: 'task_dead', attempt: 3 }))).toBe(retried)
  })

  it('turns a queued task running on task_started, once, and never after its attempt ended', () => {
    const queued = gantt([task('a', { status: 'queued', queued_at: iso(0) })])
    const g = applyEvent(queued, event({ kind: 'task_started', id: 0, attempt: 1, time: iso(300) }))
    expect(g.tasks![0]).toMatchObject({ status: 'running', started_at: iso(300) })
    expect(taskSegments(g.tasks![0]!, T0 + 500).map((s) => s.kind)).toEqual(['wait', 'current'])
    expect(applyEvent(g, event({ kind: 'task_started', id: 0, attempt: 1 }))).toBe(g)
    // The start of attempt 1 arriving after that attempt failed (the task is queued again).
    const failed = applyEvent(g, event({ kind: 'task_attempt_failed', attempt: 1, duration_ms: 100 }))
    expect(applyEvent(failed, event({ kind: 'task_started', id: 0, attempt: 1 }))).toBe(failed)
    expect(applyEvent(failed, event({ kind: 'task_started', id: 0, attempt: 2 })).tasks![0]!.status).toBe('running')
    const done = applyEvent(g, event({ attempt: 1, duration_ms: 100 }))
    expect(applyEvent(done, event({ kind: 'task_started', id: 0, attempt: 1 }))).toBe(done)
  })

  it('ignores events of other runs, unknown steps and run-level kinds', () => {
    expect(applyEvent(base, event({ run_id: 8 }))).toBe(base)
    expect(applyEvent(base, event({ step: 'nope' }))).toBe(base)
    expect(applyEvent(base, event({ kind: 'run_succeeded', step: '' }))).toBe(base)
  })
})

describe('applyEventToRun', () => {
  it('updates the task, its dependents and the counts', () => {
    const run = {
      id: 7,
      task_counts: { running: 1, pending: 1 },
      tasks: [
        { step: 'a', status: 'running', attempts: 1, depends_on: [], started_at: iso(0), finished_at: null, error: null, error_class: null },
        { step: 'b', status: 'pending', attempts: 0, depends_on: ['a'], started_at: null, finished_at: null, error: null, error_class: null },
      ],
    }
    const r = applyEventToRun(run, event({ kind: 'task_dead', attempt: 4, error: 'gone', error_class: 'permanent' }))
    expect(r.tasks[0]).toMatchObject({ status: 'dead', attempts: 4, error: 'gone', finished_at: iso(1000) })
    expect(r.tasks[1]!.status).toBe('pending')
    expect(r.task_counts).toEqual({ dead: 1, pending: 1 })
    expect(applyEventToRun(r, event({ kind: 'task_dead', attempt: 4 }))).toBe(r) // replayed
    const s = applyEventToRun(r, event({ kind: 'task_skipped' }))
    expect(s.tasks.map((t) => t.status)).toEqual(['skipped', 'queued'])
    expect(applyEventToRun(s, event({ kind: 'task_skipped' }))).toBe(s)
  })

  it('turns a queued task running on task_started unless it already counts that attempt', () => {
    const run = {
      id: 7,
      task_counts: { queued: 1 },
      tasks: [{ step: 'a', status: 'queued', attempts: 0, depends_on: [], started_at: null, finished_at: null, error: null, error_class: null }],
    }
    const r = applyEventToRun(run, event({ kind: 'task_started', id: 0, attempt: 1, time: iso(200) }))
    expect(r.tasks[0]).toMatchObject({ status: 'running', attempts: 1, started_at: iso(200) })
    expect(r.task_counts).toEqual({ running: 1 })
    // Attempt 1 failed and the task waits for its retry: a late start of attempt 1 is old news.
    const retrying = { ...run, tasks: [{ ...run.tasks[0]!, attempts: 1 }] }
    expect(applyEventToRun(retrying, event({ kind: 'task_started', id: 0, attempt: 1 }))).toBe(retrying)
  })
})

describe('taskMetrics and criticalEdges', () => {
  it('computes queue wait and duration', () => {
    const t = task('a', {
      status: 'succeeded',
      queued_at: iso(0),
      started_at: iso(200),
      finished_at: iso(700),
      attempts: [{ attempt: 1, outcome: 'task_succeeded', started_at: iso(200), ended_at: iso(700), duration_ms: 500, node: 'n1', error: '', error_class: '' }],
    })
    expect(taskMetrics(t, T0)).toEqual({ queueWaitMs: 200, durationMs: 500, attempts: 1, node: 'n1', error: '' })
  })
  it('pairs consecutive critical steps', () => {
    expect(criticalEdges(gantt([], { critical_path: ['a', 'b', 'c'] }))).toEqual([
      ['a', 'b'],
      ['b', 'c'],
    ])
  })
})

describe('zoomRange', () => {
  it('reads the zoomed range of the URL, or null for the whole run', () => {
    expect(zoomRange('2026-12-01T10:00:00Z', '2026-12-01T10:00:05.5Z')).toEqual({ start: T0, end: T0 + 5500 })
    expect(zoomRange(null, '2026-12-01T10:00:05Z')).toBeNull()
    expect(zoomRange('2026-12-01T10:00:05Z', '2026-12-01T10:00:00Z')).toBeNull()
    expect(zoomRange('yesterday', 'today')).toBeNull()
  })
})
