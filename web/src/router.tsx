// A minimal client-side router on the History API: the dashboard has only a few routes,
// so it needs no routing library. The Go server answers every unknown path with
// index.html (web.go), so deep links such as /runs/42 load the app.

import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react'

const changeEvent = 'baton:navigate'

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange)
  window.addEventListener(changeEvent, onChange)
  return () => {
    window.removeEventListener('popstate', onChange)
    window.removeEventListener(changeEvent, onChange)
  }
}

function snapshot(): string {
  return window.location.pathname + window.location.search
}

/** The current location. */
export interface Location {
  path: string
  query: URLSearchParams
}

/** Returns the current location and re-renders when it changes. */
export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot)
  const url = new URL(href, window.location.origin)
  return { path: url.pathname, query: url.searchParams }
}

/** Goes to an app path such as "/runs/42"; `replace` rewrites the current history entry. */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === snapshot()) return
  if (opts.replace) {
    window.history.replaceState(null, '', to)
  } else {
    window.history.pushState(null, '', to)
  }
  window.dispatchEvent(new Event(changeEvent))
}

/** An anchor that navigates inside the app (modified clicks still open a new tab). */
export function Link({ to, onClick, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e)
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(to)
  }
  return <a href={to} onClick={handle} {...rest} />
}
