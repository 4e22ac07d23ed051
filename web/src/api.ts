// Types and a small client for the Baton REST API (v1), plus the pure helpers the pages
// share. Every call goes to the same origin: in production the Go server serves both the
// dashboard and /v1; in development Vite proxies /v1 to it (vite.config.ts).

export const runStatuses = ['queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled'] as const

/** Status of a run (table baton.runs). */
export type RunStatus = (typeof runStatuses)[number]

export const taskStatuses = [
  'pending',
  'queued',
  'running',
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
  'dead',
] as const

/** Status of one step of a run (table baton.run_tasks). */
export type TaskStatus = (typeof taskStatuses)[number]

/** Number of tasks of a run in each status; statuses with no task may be missing. */
export type TaskCounts = Partial<Record<TaskStatus, number>>

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** A run as listed by GET /v1/runs. Timestamps are RFC 3339 strings. */
export interface Run {
  id: number
  workflow: string
  workflow_version: number
  status: RunStatus
  priority: number
  created_at: string
  started_at: string | null
  finished_at: string | null
  task_counts: TaskCounts
}

/** One step of a run, as returned inside GET /v1/runs/{id}. */
export interface Task {
  step: string
  task_type: string
  status: TaskStatus
  attempts: number
  max_attempts: number
  depends_on: string[]
  created_at: string
  started_at: string | null
  finished_at: string | null
  error: string | null
  error_class: string | null
  output: Json
}

/** GET /v1/runs/{id}. */
export interface RunDetail extends Run {
  input: Json
  error: string | null
  tasks: Task[]
}

/** GET /v1/runs. next_cursor is absent or empty on the last page. */
export interface RunPage {
  runs: Run[]
  next_cursor?: string | null
}

/** A workflow definition as listed by GET /v1/workflows. */
export interface Workflow {
  name: string
  version: number
  description?: string
  steps: number
}

/** GET /v1/workflows. */
export interface WorkflowList {
  workflows: Workflow[]
}

/** One field error inside a problem document. */
export interface ProblemFieldError {
  message: string
  location?: string
  value?: Json
}

/** An RFC 9457 problem document, as the API returns for every error. */
export interface Problem {
  type?: string
  title: string
  status: number
  detail?: string
  instance?: string
  errors?: ProblemFieldError[]
}

/** A failed API call. `status` is 0 when no HTTP response arrived. */
export class ApiError extends Error {
  readonly problem: Problem

  constructor(problem: Problem) {
    super(formatProblem(problem))
    this.name = 'ApiError'
    this.problem = problem
  }

  get status(): number {
    return this.problem.status
  }
}

/** Returns one line for a problem: "title: detail", followed by each field error. */
export function formatProblem(p: Problem): string {
  let text = p.title || (p.status ? `HTTP ${p.status}` : 'Error')
  if (p.detail && p.detail !== p.title) {
    text += `: ${p.detail}`
  }
  for (const e of p.errors ?? []) {
    text += e.location ? `; ${e.location}: ${e.message}` : `; ${e.message}`
  }
  return text
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Builds a Problem from an error response. `body` is the raw response text; anything that
 * is not a problem document (an HTML error page from a proxy, plain text, nothing) becomes
 * a problem whose title is the HTTP status text.
 */
export function problemFromResponse(status: number, statusText: string, body: string): Problem {
  const fallbackTitle = statusText || `HTTP ${status}`
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    const detail = body.trim().startsWith('<') ? undefined : body.trim().slice(0, 300) || undefined
    return { title: fallbackTitle, status, detail }
  }
  if (!isRecord(parsed)) {
    return { title: fallbackTitle, status }
  }
  const problem: Problem = {
    title: typeof parsed.title === 'string' && parsed.title ? parsed.title : fallbackTitle,
    status: typeof parsed.status === 'number' ? parsed.status : status,
  }
  if (typeof parsed.type === 'string') problem.type = parsed.type
  if (typeof parsed.detail === 'string' && parsed.detail) problem.detail = parsed.detail
  if (typeof parsed.instance === 'string') problem.instance = parsed.instance
  if (Array.isArray(parsed.errors)) {
    problem.errors = parsed.errors.filter(isRecord).map((e) => {
      const fe: ProblemFieldError = { message: typeof e.message === 'string' ? e.message : String(e.message) }
      if (typeof e.location === 'string') fe.location = e.location
      return fe
    })
  }
  return problem
}

/** Turns anything thrown by a fetch into an ApiError (abort errors are passed through). */
export function toApiError(err: unknown): ApiError | DOMException {
  if (err instanceof ApiError) return err
  if (err instanceof DOMException && err.name === 'AbortError') return err
  const message = err instanceof Error ? err.message : String(err)
  return new ApiError({ title: 'Network error', status: 0, detail: message })
}

/** Reports whether err comes from an aborted request (which pages ignore). */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError'
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers)
  headers.set('Accept', 'application/json, application/problem+json')
  if (init.body !== undefined) headers.set('Content-Type', 'application/json')
  let res: Response
  try {
    res = await fetch(path, { ...init, headers })
  } catch (err) {
    throw toApiError(err)
  }
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

/** GET /v1/runs/{id} */
export function getRun(id: number, signal?: AbortSignal): Promise<RunDetail> {
  return request<RunDetail>(`/v1/runs/${encodeURIComponent(id)}`, { signal })
}

/** POST /v1/runs/{id}/cancel */
export function cancelRun(id: number): Promise<unknown> {
  return request<unknown>(`/v1/runs/${encodeURIComponent(id)}/cancel`, { method: 'POST' })
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
export function mergeFirstPage(shown: Run[], fresh: Run[], complete: boolean): Run[] {
  if (complete || fresh.length === 0) return [...fresh]
  const oldest = Math.min(...fresh.map((r) => r.id))
  const older = shown.filter((r) => r.id < oldest)
  return [...fresh, ...older]
}

/** Appends an older page to the runs shown, dropping duplicates. */
export function appendPage(shown: Run[], page: Run[]): Run[] {
  const seen = new Set(shown.map((r) => r.id))
  return [...shown, ...page.filter((r) => !seen.has(r.id))]
}
