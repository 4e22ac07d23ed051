// The one place the dashboard talks HTTP to the API. Every request, typed (openapi-fetch
// on the generated schema) or not (the event stream, CSV downloads), goes through apiFetch:
// same-origin credentials (the session cookie), JSON Accept headers, and a single hook for
// 401 answers (the sign-in page registers it).
import createClient from 'openapi-fetch'
import { csrfToken } from '../session.ts'
import { ApiError, problemFromResponse, toApiError } from './problem.ts'
import type { components, paths } from './schema'

/** The API's schemas (components.schemas of api/openapi.json), by name. */
export type Schemas = components['schemas']

/** The actor recorded in events for actions taken from the dashboard. */
export const dashboardActor = 'dashboard'

type UnauthorizedHandler = (res: Response) => void

const hooks: { unauthorized?: UnauthorizedHandler } = {}

/**
 * Sets the function called whenever the API answers 401 (the session expired or no key was
 * given). There is one: a later call replaces it. Returns a function that removes it.
 */
export function setUnauthorizedHandler(fn: UnauthorizedHandler): () => void {
  hooks.unauthorized = fn
  return () => {
    if (hooks.unauthorized === fn) hooks.unauthorized = undefined
  }
}

/**
 * fetch for the API: same-origin credentials, an Accept header preferring JSON and problem
 * documents (unless the caller set one), and the 401 hook. Network failures reject with an
 * ApiError whose status is 0; aborts reject with the AbortError.
 */
export async function apiFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const req = new Request(input, { ...init, credentials: 'same-origin' })
  if (!req.headers.has('Accept')) req.headers.set('Accept', 'application/json, application/problem+json')
  // Every change made from the dashboard names it as the actor in the events it writes.
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    if (!req.headers.has('X-Baton-Actor')) req.headers.set('X-Baton-Actor', dashboardActor)
    // A signed-in session must repeat its CSRF token on every state-changing request.
    const token = csrfToken()
    if (token) req.headers.set('X-Baton-CSRF', token)
  }
  let res: Response
  try {
    const early = req.method === 'GET' ? takePreloaded(req.url) : undefined
    res = early ? await early.catch(() => fetch(req)) : await fetch(req)
  } catch (err) {
    throw toApiError(err)
  }
  if (res.status === 401) hooks.unauthorized?.(res)
  return res
}

declare global {
  interface Window {
    /** Reads public/preload.js started before the app loaded, by path. */
    __batonPreload?: Record<string, Promise<Response> | undefined>
  }
}

/**
 * Takes the answer public/preload.js started for this URL (same origin, same path and
 * query), if any; each is taken once, so a later read asks the server again.
 */
export function takePreloaded(url: string): Promise<Response> | undefined {
  const store = typeof window === 'undefined' ? undefined : window.__batonPreload
  if (!store) return undefined
  const u = new URL(url, window.location.href)
  if (u.origin !== window.location.origin) return undefined
  const key = u.pathname + u.search
  const p = store[key]
  if (p) delete store[key]
  return p
}

/** The typed API client, generated from the OpenAPI document (web/src/api/schema.d.ts). */
export const api = createClient<paths>({ baseUrl: '', fetch: (req) => apiFetch(req) })

/** Headers of an operator action (the actor named in the run's events). */
export const actionHeaders = { 'X-Baton-Actor': dashboardActor }

/**
 * Unwraps an openapi-fetch result: the data, or an ApiError carrying the RFC 9457 problem
 * the API answered with.
 */
export async function unwrap<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await p
  if (error !== undefined || !response.ok) {
    const body = error === undefined ? '' : typeof error === 'string' ? error : JSON.stringify(error)
    throw new ApiError(problemFromResponse(response.status, response.statusText, body))
  }
  return data as T
}

/**
 * unwrap for operations that can also answer CSV: the generated type is a union of the
 * JSON schema and string; the dashboard always asks for JSON.
 */
export function unwrapJSON<T>(p: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<T> {
  return unwrap(p) as Promise<T>
}

/** GETs a path as text (CSV exports); errors become ApiErrors like every other call. */
export async function getText(path: string, accept = 'text/csv'): Promise<string> {
  const res = await apiFetch(path, { headers: { Accept: `${accept}, application/problem+json` } })
  const text = await res.text()
  if (!res.ok) throw new ApiError(problemFromResponse(res.status, res.statusText, text))
  return text
}
