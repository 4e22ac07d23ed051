// The data layer: one react-query cache for the whole app, kept fresh by the live event
// stream instead of polling. One stream per tab; each event invalidates the queries it makes
// stale (api/invalidate.ts), coalesced so a burst of events costs one refetch per query,
// and is handed to the pages that subscribed to events (the run page patches its Gantt).
import { QueryClient, QueryClientProvider, useQuery, useQueryClient, type QueryKey } from '@tanstack/react-query'
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react'
import { isAbort, toApiError, type ApiError } from './problem.ts'
import { invalidationsFor, isListKey, keyId } from './invalidate.ts'
import { openStream, type StreamEvent } from './sse.ts'

/** How long invalidations are gathered before the refetches they cause start. */
export const coalesceMs = 100

/** The same for lists (runs, dead letters, attention), which nearly every event touches. */
export const listCoalesceMs = 500

type Listener = (e: StreamEvent) => void

type Subscribe = (fn: Listener) => () => void

// Two contexts: the stream's subscribe function never changes, so the pages that listen to
// events are not rendered again when the connection comes and goes; only the header's
// indicator reads the connection state.
const SubscribeContext = createContext<Subscribe>(() => () => {})
const ConnectedContext = createContext(false)

/** Builds the app's query client: no retry of 4xx answers, refetch on focus. */
export function newQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        retry: (n, err) => {
          const status = (err as ApiError).status ?? 0
          if (status >= 400 && status < 500 && status !== 408 && status !== 429) return false
          return n < 2
        },
      },
    },
  })
}

/** Provides the query cache and the live stream to the app. */
export function LiveProvider({ client, children, stream = true }: { client: QueryClient; children: ReactNode; stream?: boolean }) {
  return (
    <QueryClientProvider client={client}>
      <StreamBridge enabled={stream}>{children}</StreamBridge>
    </QueryClientProvider>
  )
}

function StreamBridge({ enabled, children }: { enabled: boolean; children: ReactNode }) {
  const qc = useQueryClient()
  const listeners = useRef(new Set<Listener>())
  const [connected, setConnected] = useState(false)

  useEffect(() => {
    if (!enabled) return
    const ctrl = new AbortController()
    // Two batches: a run's own queries refresh within coalesceMs; lists, which many events
    // touch, at most every listCoalesceMs, so a busy system does not refetch them per event.
    const batches = [
      { delay: coalesceMs, keys: new Map<string, QueryKey>(), timer: undefined as ReturnType<typeof setTimeout> | undefined },
      { delay: listCoalesceMs, keys: new Map<string, QueryKey>(), timer: undefined as ReturnType<typeof setTimeout> | undefined },
    ]
    const flush = (b: (typeof batches)[number]) => {
      b.timer = undefined
      const keys = [...b.keys.values()]
      b.keys.clear()
      for (const queryKey of keys) void qc.invalidateQueries({ queryKey })
    }
    void openStream(
      {
        onEvent: (e) => {
          for (const fn of listeners.current) fn(e)
          for (const k of invalidationsFor(e)) {
            const b = batches[isListKey(k) ? 1 : 0]!
            b.keys.set(keyId(k), k)
            if (b.timer === undefined) b.timer = setTimeout(() => flush(b), b.delay)
          }
        },
        onOpen: (resumed) => {
          setConnected(true)
          // After a gap, whatever was missed is replayed from the last id; a fresh start
          // (first connection) has nothing stale yet.
          if (resumed) void qc.invalidateQueries()
        },
        onDown: () => setConnected(false),
      },
      ctrl.signal,
    )
    return () => {
      ctrl.abort()
      for (const b of batches) if (b.timer !== undefined) clearTimeout(b.timer)
    }
  }, [enabled, qc])

  const subscribe = useCallback<Subscribe>((fn) => {
    listeners.current.add(fn)
    return () => listeners.current.delete(fn)
  }, [])
  return (
    <SubscribeContext.Provider value={subscribe}>
      <ConnectedContext.Provider value={connected}>{children}</ConnectedContext.Provider>
    </SubscribeContext.Provider>
  )
}

/** Calls fn for every event of the live stream while the component is mounted. */
export function useStreamEvents(fn: Listener): void {
  const subscribe = useContext(SubscribeContext)
  const ref = useRef(fn)
  useEffect(() => {
    ref.current = fn
  })
  useEffect(() => subscribe((e) => ref.current(e)), [subscribe])
}

/** Reports whether the live stream is connected (shown in the header). */
export function useStreamConnected(): boolean {
  return useContext(ConnectedContext)
}

/** What useLive returns: the cached data, the last error and a manual refresh. */
export interface Loaded<T> {
  data: T | undefined
  error: ApiError | undefined
  loading: boolean
  refresh: () => void
}

/**
 * Loads data under a query key; the live stream invalidates it when an event concerns it.
 * `refetchInterval` is only for data no event announces (node heartbeats, alert firing).
 */
export function useLive<T>(
  key: QueryKey,
  load: (signal: AbortSignal) => Promise<T>,
  opts: { refetchInterval?: number; enabled?: boolean } = {},
): Loaded<T> {
  const q = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => load(signal),
    refetchInterval: opts.refetchInterval,
    enabled: opts.enabled,
  })
  const err = q.error && !isAbort(q.error) ? (toApiError(q.error) as ApiError) : undefined
  return { data: q.data, error: err, loading: q.isPending && opts.enabled !== false, refresh: () => void q.refetch() }
}
