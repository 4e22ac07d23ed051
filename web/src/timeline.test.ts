import { describe, expect, it } from 'vitest'
import type { Task } from './api.ts'
import { elapsed, formatDuration } from './format.ts'
import { minBarWidth, taskBar, timelineWindow } from './timeline.ts'

const t0 = Date.parse('2026-11-27T10:00:00Z')
const at = (s: number) => new Date(t0 + s * 1000).toISOString()

function task(step: string, start: number | null, end: number | null): Task {
  return {
    step,
    task_type: 'sim',
    status: end !== null ? 'succeeded' : start !== null ? 'running' : 'pending',
    attempts: start !== null ? 1 : 0,
    max_attempts: 4,
    depends_on: [],
    created_at: at(0),
    started_at: start === null ? null : at(start),
    finished_at: end === null ? null : at(end),
    error: null,
    error_class: null,
    output: null,
  }
}

describe('timelineWindow', () => {
  it('spans a finished run', () => {
    const tasks = [task('a', 0, 10), task('b', 10, 40)]
    expect(timelineWindow({ started_at: at(0), finished_at: at(40) }, tasks, t0 + 999_000)).toEqual({
      start: t0,
      end: t0 + 40_000,
    })
  })

  it('runs to now while the run is open', () => {
    const tasks = [task('a', 0, 10), task('b', 10, null), task('c', null, null)]
    const now = t0 + 25_000
    expect(timelineWindow({ started_at: at(0), finished_at: null }, tasks, now)).toEqual({ start: t0, end: now })
  })

  it('is null before anything starts', () => {
    expect(timelineWindow({ started_at: null, finished_at: null }, [task('a', null, null)], t0)).toBeNull()
  })
})

describe('taskBar', () => {
  const w = { start: t0, end: t0 + 100_000 }

  it('places a finished task', () => {
    expect(taskBar(task('a', 25, 75), w, t0)).toEqual({ left: 25, width: 50, open: false })
  })

  it('extends a running task to now', () => {
    expect(taskBar(task('a', 50, null), w, t0 + 60_000)).toEqual({ left: 50, width: 10, open: true })
  })

  it('keeps tiny tasks visible and inside the track', () => {
    expect(taskBar(task('a', 10, 10), w, t0)?.width).toBe(minBarWidth)
    const last = taskBar(task('z', 100, 100), w, t0)!
    expect(last.left + last.width).toBeLessThanOrEqual(100)
  })

  it('has no bar for a task that has not started', () => {
    expect(taskBar(task('a', null, null), w, t0)).toBeNull()
  })
})

describe('formatDuration', () => {
  it('picks a unit by size', () => {
    expect(formatDuration(850)).toBe('850ms')
    expect(formatDuration(4_200)).toBe('4.2s')
    expect(formatDuration(42_000)).toBe('42s')
    expect(formatDuration(185_000)).toBe('3m 05s')
    expect(formatDuration(2 * 3600_000 + 10 * 60_000)).toBe('2h 10m')
    expect(formatDuration(76 * 3600_000)).toBe('3d 4h')
    expect(formatDuration(-1)).toBe('–')
  })

  it('counts an open span up to now', () => {
    expect(elapsed(at(0), null, t0 + 5_000)).toBe('5.0s')
    expect(elapsed(null, null, t0)).toBe('–')
  })
})
