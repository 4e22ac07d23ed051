// Dashboard sign-in: a session cookie (HttpOnly, set by POST /v2/sessions) plus the
// session's CSRF token, which every state-changing request must repeat in X-Baton-CSRF.
// The token lives in sessionStorage (per tab, gone with it); a page reloaded with the
// cookie gets it back from GET /v2/me. Self-contained so that any API client can use it:
// wrap fetch with sessionFetch and listen for sign-in being needed with onUnauthorized.

const csrfKey = 'baton.csrf'

/** What POST /v2/sessions and GET /v2/me say about the caller. */
export interface SessionInfo {
  name: string
  role: 'viewer' | 'operator' | 'admin'
  csrf_token?: string
  anonymous?: boolean
}

type Listener = () => void
const listeners = new Set<Listener>()

/** Calls listener whenever the server answers 401 (no or expired session); returns an unsubscribe. */
export function onUnauthorized(listener: Listener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

/** The session's CSRF token, which state-changing requests repeat in X-Baton-CSRF (null: none). */
export function csrfToken(): string | null {
  try {
    return sessionStorage.getItem(csrfKey)
  } catch {
    return null
  }
}

function setCsrfToken(token: string | undefined): void {
  try {
    if (token) sessionStorage.setItem(csrfKey, token)
    else sessionStorage.removeItem(csrfKey)
  } catch {
    // Storage disabled: state-changing requests will be refused until the next sign-in.
  }
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS'])

/** fetch with the session's CSRF header on state-changing requests; a 401 notifies onUnauthorized. */
export async function sessionFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase()
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined))
  const token = csrfToken()
  if (!safeMethods.has(method) && token) headers.set('X-Baton-CSRF', token)
  const response = await fetch(input, { ...init, headers, credentials: 'same-origin' })
  if (response.status === 401) listeners.forEach((l) => l())
  return response
}

/** Signs in with an API key: the server sets the session cookie; the CSRF token is kept. */
export async function signIn(key: string): Promise<SessionInfo> {
  const response = await fetch('/v2/sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ key: key.trim() }),
  })
  const body = await response.json().catch(() => ({}))
  if (!response.ok) {
    throw new Error(typeof body.detail === 'string' ? body.detail : `sign-in failed (HTTP ${response.status})`)
  }
  setCsrfToken(body.csrf_token)
  return body as SessionInfo
}

/** Signs out: ends the session and forgets the CSRF token. */
export async function signOut(): Promise<void> {
  await sessionFetch('/v2/sessions/current', { method: 'DELETE' }).catch(() => undefined)
  setCsrfToken(undefined)
}

/** The caller (a session, or anonymous where the server allows it), or null when sign-in is needed. */
export async function whoAmI(): Promise<SessionInfo | null> {
  const response = await fetch('/v2/me', { credentials: 'same-origin' })
  if (response.status === 401) return null
  if (!response.ok) throw new Error(`GET /v2/me: HTTP ${response.status}`)
  const me = (await response.json()) as SessionInfo
  if (me.csrf_token) setCsrfToken(me.csrf_token)
  return me
}
