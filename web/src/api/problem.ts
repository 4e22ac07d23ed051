// RFC 9457 problem documents, as the API returns for every error, and the error type the
// dashboard throws for a failed call.

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

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

export function isRecord(v: unknown): v is Record<string, unknown> {
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

