// Types and a small client for the Baton REST API (v1), plus the pure helpers the pages
// share. Every call goes to the same origin: in production the Go server serves both the
// dashboard and /v1; in development Vite proxies /v1 to it (vite.config.ts).

import { api, apiFetch, dashboardActor, unwrapJSON, type Schemas } from './api/client.ts'
import { ApiError, isRecord, problemFromResponse, type Json } from './api/problem.ts'

export * from './api/problem.ts'
export { dashboardActor }

/** Status of a run (table baton.runs), as the API documents it. */
export type RunStatus = Schemas['Run']['status']

export const runStatuses: readonly RunStatus[] = ['queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled']

/** Status of one step of a run (table baton.run_tasks), as the API documents it. */
export type TaskStatus = Schemas['Task']['status']

export const taskStatuses: readonly TaskStatus[] = ['pending', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'dead']

/** Number of tasks of a run in each status; statuses with no task may be missing. */
export type TaskCounts = Partial<Record<string, number>>

/** A run as listed by GET /v1/runs (generated from the OpenAPI document). */
export type Run = Schemas['Run']

/** One step of a run, as returned inside GET /v1/runs/{id} (generated). */
export type Task = Schemas['Task']

/** GET /v1/runs/{id}: a run with its tasks (getRun makes the lists non-null). */
export type RunDetail = Omit<Run, 'tasks'> & { tasks: (Omit<Task, 'depends_on'> & { depends_on: string[] })[] }

/** GET /v1/runs (generated). next_cursor is empty on the last page. */
export type RunPage = Schemas['RunList']

/** A workflow definition as listed by GET /v1/workflows (generated). */
export type Workflow = Schemas['Workflow']

/** GET /v1/workflows (generated). */
export type WorkflowList = Schemas['WorkflowList']

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers)
  if (init.body !== undefined) headers.set('Content-Type', 'application/json')
  const res = await apiFetch(path, { ...init, headers })
  const text = await res.text()
  if (!res.ok) {
    throw new ApiError(problemFromResponse(res.status, res.statusText, text))
  }
  if (text === '') return undefined as T
  try {
    return JSON.parse(text) as T
  } catch {
    throw new ApiError({ title: 'Invalid response', status: res.status, detail: 'The server did not return JSON.' })
  }
}

/** Filters and paging for GET /v1/runs. */
export interface RunFilter {
  status?: string
  workflow?: string
  cursor?: string
  limit?: number
}

/** Builds the query string (with its "?", or "" when empty) for GET /v1/runs. */
export function runsQuery(f: RunFilter): string {
  const q = new URLSearchParams()
  if (f.limit !== undefined) q.set('limit', String(f.limit))
  if (f.status) q.set('status', f.status)
  if (f.workflow) q.set('workflow', f.workflow)
  if (f.cursor) q.set('cursor', f.cursor)
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** GET /v1/runs */
export function listRuns(f: RunFilter, signal?: AbortSignal): Promise<RunPage> {
  return request<RunPage>(`/v1/runs${runsQuery(f)}`, { signal })
}

/** GET /v1/runs/{id}, with its task list (and each task's dependencies) never null. */
export async function getRun(id: number, signal?: AbortSignal): Promise<RunDetail> {
  const run = await request<Run>(`/v1/runs/${encodeURIComponent(id)}`, { signal })
  return { ...run, tasks: (run.tasks ?? []).map((t) => ({ ...t, depends_on: t.depends_on ?? [] })) }
}

// An operator action: a POST naming the dashboard as actor, with an optional JSON body.
function action<T>(path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method: 'POST', headers: { 'X-Baton-Actor': dashboardActor } }
  if (body !== undefined) init.body = JSON.stringify(body)
  return request<T>(path, init)
}

function runPath(id: number): string {
  return `/v1/runs/${encodeURIComponent(id)}`
}

function taskPath(id: number, step: string): string {
  return `${runPath(id)}/tasks/${encodeURIComponent(step)}`
}

/** POST /v1/runs/{id}/cancel */
export function cancelRun(id: number): Promise<unknown> {
  return action<unknown>(`${runPath(id)}/cancel`)
}

/** POST /v1/runs/{id}/pause */
export function pauseRun(id: number): Promise<Run> {
  return action<Run>(`${runPath(id)}/pause`)
}

/** POST /v1/runs/{id}/resume */
export function resumeRun(id: number): Promise<Run> {
  return action<Run>(`${runPath(id)}/resume`)
}

/** POST /v1/runs/{id}/tasks/{step}/retry; body is {params} or nothing (same params). */
export function retryTask(id: number, step: string, body?: ParamsBody): Promise<Run> {
  return action<Run>(`${taskPath(id, step)}/retry`, body)
}

/** POST /v1/runs/{id}/tasks/{step}/skip */
export function skipTask(id: number, step: string): Promise<Run> {
  return action<Run>(`${taskPath(id, step)}/skip`)
}

/** POST /v1/runs/{id}/tasks/{step}/cancel */
export function cancelTask(id: number, step: string): Promise<Run> {
  return action<Run>(`${taskPath(id, step)}/cancel`)
}

/** One event of a task's audit trail (generated from the OpenAPI document). */
export type TaskEvent = Schemas['Event']

/** GET /v1/runs/{id}/tasks/{step}/attempts (generated from the OpenAPI document). */
export type AttemptList = Schemas['AttemptList']

/** GET /v1/runs/{id}/tasks/{step}/attempts */
export function listTaskAttempts(id: number, step: string, signal?: AbortSignal): Promise<AttemptList> {
  return request<AttemptList>(`${taskPath(id, step)}/attempts`, { signal })
}

/** The next_retry_at an attempt event carries in its data, if any. */
export function nextRetryAt(e: TaskEvent): string | null {
  const d = e.data
  if (isRecord(d) && typeof d.next_retry_at === 'string' && d.next_retry_at) return d.next_retry_at
  return null
}

/** A task error class as the dead-letter queue records it. */
export const errorClasses = ['transient', 'permanent'] as const

/** An entry of the dead-letter queue (generated from the OpenAPI document). */
export type DeadLetter = Schemas['DeadLetter']

/** GET /v1/dead-letters; next_cursor is empty on the last page (generated from the OpenAPI document). */
export type DeadLetterList = Schemas['DeadLetterList']

/** GET /v1/dead-letters/stats (generated from the OpenAPI document). */
export type DeadLetterStats = Schemas['DeadLetterStats']

/** POST /v1/dead-letters/{id}/resubmit (generated). */
export type ResubmitResult = Schemas['ResubmitResult']

/** POST /v1/dead-letters/resubmit (generated from the OpenAPI document). */
export type BulkResubmitResult = Schemas['BulkResubmitResult']

/** Filters of the dead-letter queue (GET /v1/dead-letters, POST /v1/dead-letters/resubmit). */
export interface DeadLetterFilter {
  workflow?: string
  task_type?: string
  error_class?: string
}

/** Builds the query string (with its "?", or "" when empty) for GET /v1/dead-letters. */
export function deadLettersQuery(f: DeadLetterFilter & { cursor?: string; limit?: number }): string {
  const q = new URLSearchParams()
  if (f.limit !== undefined) q.set('limit', String(f.limit))
  if (f.workflow) q.set('workflow', f.workflow)
  if (f.task_type) q.set('task_type', f.task_type)
  if (f.error_class) q.set('error_class', f.error_class)
  if (f.cursor) q.set('cursor', f.cursor)
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** The body of POST /v1/dead-letters/resubmit for a filter: only the filters that are set. */
export function bulkResubmitBody(f: DeadLetterFilter): DeadLetterFilter {
  const body: DeadLetterFilter = {}
  if (f.workflow) body.workflow = f.workflow
  if (f.task_type) body.task_type = f.task_type
  if (f.error_class) body.error_class = f.error_class
  return body
}

/** GET /v1/dead-letters */
export function listDeadLetters(
  f: DeadLetterFilter & { cursor?: string; limit?: number },
  signal?: AbortSignal,
): Promise<DeadLetterList> {
  return request<DeadLetterList>(`/v1/dead-letters${deadLettersQuery(f)}`, { signal })
}

/** GET /v1/dead-letters/stats */
export function getDeadLetterStats(signal?: AbortSignal): Promise<DeadLetterStats> {
  return request<DeadLetterStats>('/v1/dead-letters/stats', { signal })
}

/** POST /v1/dead-letters/{id}/resubmit; body is {params} or nothing (same params). */
export function resubmitDeadLetter(id: number, body?: ParamsBody): Promise<ResubmitResult> {
  return action<ResubmitResult>(`/v1/dead-letters/${encodeURIComponent(id)}/resubmit`, body)
}

/** POST /v1/dead-letters/{id}/discard (204). */
export function discardDeadLetter(id: number): Promise<void> {
  return action<void>(`/v1/dead-letters/${encodeURIComponent(id)}/discard`)
}

/** POST /v1/dead-letters/resubmit */
export function bulkResubmitDeadLetters(f: DeadLetterFilter): Promise<BulkResubmitResult> {
  return action<BulkResubmitResult>('/v1/dead-letters/resubmit', bulkResubmitBody(f))
}

/** GET /v1/attention (generated). */
export type AttentionList = Schemas['AttentionList']

/** GET /v1/attention */
export function listAttention(signal?: AbortSignal): Promise<AttentionList> {
  return request<AttentionList>('/v1/attention', { signal })
}

/** POST /v1/runs: starts a run and returns it (at least its id). */
export function startRun(workflow: string, input: Record<string, Json>): Promise<Run> {
  return request<Run>('/v1/runs', { method: 'POST', body: JSON.stringify({ workflow, input }) })
}

/** GET /v1/workflows */
export function listWorkflows(signal?: AbortSignal): Promise<WorkflowList> {
  return request<WorkflowList>('/v1/workflows', { signal })
}

/** Statuses after which a run no longer changes. */
export function isRunFinished(s: RunStatus): boolean {
  return s === 'succeeded' || s === 'failed' || s === 'cancelled'
}

/** Names of River priorities as Baton maps them (1 is the highest). */
export function priorityName(p: number): string {
  return { 1: 'high', 2: 'medium', 3: 'low', 4: 'background' }[p] ?? String(p)
}

/**
 * Parses the run input typed into the start form: it must be a JSON object (an empty
 * field means {}). Returns the object or an error message.
 */
export function parseRunInput(text: string): { input: Record<string, Json> } | { error: string } {
  if (text.trim() === '') return { input: {} }
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (err) {
    return { error: `Input is not valid JSON: ${err instanceof Error ? err.message : String(err)}` }
  }
  if (!isRecord(v)) return { error: 'Input must be a JSON object, such as {"day": "2026-11-27"}.' }
  return { input: v as Record<string, Json> }
}

/**
 * Merges a fresh first page of runs into the runs already shown. The API lists runs newest
 * first, so ids decrease down the list.
 * Runs older than the fresh page (loaded with "load more") are kept; within the range the
 * fresh page covers it wins, so runs that left the filter disappear. When the fresh page is
 * the whole result (`complete`), it replaces everything.
 */
export function mergeFirstPage<T extends { id: number }>(shown: T[], fresh: T[], complete: boolean): T[] {
  if (complete || fresh.length === 0) return [...fresh]
  const oldest = Math.min(...fresh.map((r) => r.id))
  const older = shown.filter((r) => r.id < oldest)
  return [...fresh, ...older]
}

/** Appends an older page to the items shown (runs, dead letters), dropping duplicates. */
export function appendPage<T extends { id: number }>(shown: T[], page: T[]): T[] {
  const seen = new Set(shown.map((r) => r.id))
  return [...shown, ...page.filter((r) => !seen.has(r.id))]
}

/** Which run-level operator actions apply to a run in status s. */
export function runActions(s: RunStatus): { pause: boolean; resume: boolean; cancel: boolean } {
  return { pause: s === 'running', resume: s === 'paused', cancel: !isRunFinished(s) }
}

/** Which operator actions apply to a task in status s (the API answers 409 otherwise). */
export function taskActions(s: TaskStatus): { retry: boolean; skip: boolean; cancel: boolean } {
  return {
    retry: s === 'dead' || s === 'failed' || s === 'cancelled' || s === 'skipped',
    skip: s !== 'succeeded' && s !== 'skipped',
    cancel: s === 'pending' || s === 'queued' || s === 'running',
  }
}

/** The optional body of a retry or resubmit: new params for the task (generated). */
export type ParamsBody = Required<Schemas['RetryTaskRequest']>

/** Formats params for the editor: pretty JSON, {} when there are none. */
export function formatParams(params: unknown): string {
  return JSON.stringify(params ?? {}, null, 2)
}

/**
 * Builds the body of a retry or resubmit from the params editor. Params left as they were
 * (or an empty editor) send no body, so the task keeps its params; anything else must be a
 * JSON object and is sent as {"params": …}. Returns the body (undefined for none) or an
 * error message.
 */
export function paramsBody(text: string, original: unknown): { body: ParamsBody | undefined } | { error: string } {
  if (text.trim() === '') return { body: undefined }
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (err) {
    return { error: `Params are not valid JSON: ${err instanceof Error ? err.message : String(err)}` }
  }
  if (!isRecord(v)) return { error: 'Params must be a JSON object.' }
  if (JSON.stringify(v) === JSON.stringify(original ?? {})) return { body: undefined }
  return { body: { params: v as Record<string, Json> } }
}

/** Shortens text to at most max characters, ending with "…" when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text
  return `${text.slice(0, Math.max(0, max - 1)).trimEnd()}…`
}

/** GET /v1/runs/{id}/gantt: the run's tasks with their attempts and the critical path. */
export async function getGantt(id: number, signal?: AbortSignal): Promise<Schemas['Gantt']> {
  return unwrapJSON(api.GET('/v1/runs/{id}/gantt', { params: { path: { id } }, signal }))
}
