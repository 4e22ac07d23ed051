import { useCallback, useEffect, useRef, useState } from 'react'
import { isAbort, toApiError, type ApiError } from './api.ts'

/** How often pages refresh until live updates (SSE) arrive. */
export const pollInterval = 2000

/** What usePolling returns. */
export interface Polled<T> {
  /** The last data loaded; kept while a later refresh fails. */
  data: T | undefined
  /** The error of the last refresh, cleared by the next success. */
  error: ApiError | undefined
  /** Loads again now (after an action such as cancel). */
  refresh: () => void
}

/**
 * Calls load now and then every interval ms after each call settles, while `enabled`.
 * A change of `key` starts over (and drops the old data). Requests in flight are aborted on
 * unmount; a hidden tab waits and refreshes when it becomes visible again. Polling stops
 * when `enabled` returns false for the last data, or after a 4xx error.
 */
export function usePolling<T>(
  key: string,
  load: (signal: AbortSignal) => Promise<T>,
  opts: { interval?: number; enabled?: (data: T | undefined) => boolean } = {},
): Polled<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: ApiError }>({ key })
  const [tick, setTick] = useState(0)
  const loadRef = useRef(load)
  const enabledRef = useRef(opts.enabled)
  useEffect(() => {
    loadRef.current = load
    enabledRef.current = opts.enabled
  })
  const interval = opts.interval ?? pollInterval

  useEffect(() => {
    const ctrl = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    let last: T | undefined
    let inFlight = false
    let stopped = false

    const run = async () => {
      timer = undefined
      if (document.hidden) return // resumed by the visibilitychange listener
      inFlight = true
      try {
        const data = await loadRef.current(ctrl.signal)
        last = data
        setState({ key, data })
      } catch (err) {
        if (isAbort(err) || ctrl.signal.aborted) return
        const apiErr = toApiError(err)
        if (isAbort(apiErr)) return
        setState((s) => ({ key, data: s.key === key ? s.data : undefined, error: apiErr as ApiError }))
        if (isFinalError(apiErr as ApiError)) {
          stopped = true
          return
        }
      } finally {
        inFlight = false
      }
      if (ctrl.signal.aborted) return
      if (enabledRef.current?.(last) ?? true) {
        timer = setTimeout(run, interval)
      } else {
        stopped = true
      }
    }
    const onVisible = () => {
      if (!document.hidden && !inFlight && !stopped && timer === undefined) void run()
    }

    document.addEventListener('visibilitychange', onVisible)
    void run()
    return () => {
      ctrl.abort()
      if (timer !== undefined) clearTimeout(timer)
      document.removeEventListener('visibilitychange', onVisible)
    }
  }, [key, tick, interval])

  const refresh = useCallback(() => setTick((t) => t + 1), [])
  const current = state.key === key ? state : { key }
  return { data: current.data, error: current.error, refresh }
}

// A client error such as 404 will not go away by asking again: stop polling (the page
// offers a retry). Timeouts and rate limiting are worth retrying.
function isFinalError(err: ApiError): boolean {
  return err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429
}
