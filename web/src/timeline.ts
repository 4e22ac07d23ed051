// Layout of the per-task timeline bars on the run page.

import type { RunDetail, Task } from './api.ts'
import { parseTime } from './format.ts'

/** The time window the bars are drawn in, in epoch milliseconds. */
export interface Window {
  start: number
  end: number
}

/** Where a task's bar sits, as percentages of the window's width. */
export interface Bar {
  left: number
  width: number
  /** The task has started but not finished: its bar runs up to now. */
  open: boolean
}

/**
 * Returns the window that holds every task's bar: from the earliest start (the run's or a
 * task's) to the run's end, or to now while anything is still open. Null when nothing has
 * started yet.
 */
export function timelineWindow(run: Pick<RunDetail, 'started_at' | 'finished_at'>, tasks: Task[], now: number): Window | null {
  const starts = [run.started_at, ...tasks.map((t) => t.started_at)]
    .map(parseTime)
    .filter((t): t is number => t !== null)
  if (starts.length === 0) return null
  const start = Math.min(...starts)
  const ends: number[] = []
  const runEnd = parseTime(run.finished_at)
  if (runEnd !== null) ends.push(runEnd)
  for (const t of tasks) {
    const s = parseTime(t.started_at)
    if (s === null) continue
    ends.push(parseTime(t.finished_at) ?? now)
  }
  if (runEnd === null) ends.push(now)
  let end = Math.max(start, ...ends)
  if (end - start < 1) end = start + 1 // keep the width positive for instantaneous runs
  return { start, end }
}

/** Minimum bar width in percent, so very short tasks stay visible. */
export const minBarWidth = 0.5

/** Places one task in the window; null when the task has not started. */
export function taskBar(task: Pick<Task, 'started_at' | 'finished_at'>, w: Window, now: number): Bar | null {
  const s = parseTime(task.started_at)
  if (s === null) return null
  const f = parseTime(task.finished_at)
  const e = f ?? now
  const span = w.end - w.start
  const clamp = (x: number) => Math.min(100, Math.max(0, x))
  const left = clamp(((s - w.start) / span) * 100)
  const right = clamp(((Math.max(e, s) - w.start) / span) * 100)
  const width = Math.min(100 - left, Math.max(minBarWidth, right - left))
  return { left, width, open: f === null }
}
