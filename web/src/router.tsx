// Routing helpers on top of react-router: the pages read the path and the query string (where
// every filter, sort and time range lives, so a URL is a bookmark) through useLocation, and
// change the query string with useQueryState.
import { useCallback } from 'react'
import { useLocation as useRouterLocation, useNavigate, useSearchParams } from 'react-router'

/** The current location: the path and the parsed query string. */
export interface Location {
  path: string
  query: URLSearchParams
}

/** Returns the current path and query string; components re-render when they change. */
export function useLocation(): Location {
  const loc = useRouterLocation()
  const [query] = useSearchParams()
  return { path: loc.pathname, query }
}

/**
 * Returns the query string and a setter that replaces some parameters (an empty value
 * removes one) without adding a history entry, so filters stay bookmarkable.
 */
export function useQueryState(): [URLSearchParams, (changes: Record<string, string | undefined>) => void] {
  const [query] = useSearchParams()
  const navigate = useNavigate()
  const loc = useRouterLocation()
  const set = useCallback(
    (changes: Record<string, string | undefined>) => {
      const q = new URLSearchParams(loc.search)
      for (const [k, v] of Object.entries(changes)) {
        if (v) q.set(k, v)
        else q.delete(k)
      }
      const s = q.toString()
      void navigate(s ? `${loc.pathname}?${s}` : loc.pathname, { replace: true })
    },
    [loc.pathname, loc.search, navigate],
  )
  return [query, set]
}
