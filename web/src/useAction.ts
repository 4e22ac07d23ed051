import { useCallback, useState } from 'react'
import { toApiError, type ApiError } from './api.ts'

/** What useAction returns. */
export interface Action {
  /** The name of the action in flight, if any. */
  pending: string | null
  /** The error of the last action, cleared when the next one starts. */
  error: ApiError | undefined
  /** Runs fn as the action `name`; resolves to its result, or undefined when it failed. */
  run: <T>(name: string, fn: () => Promise<T>) => Promise<T | undefined>
  /** Forgets the last error. */
  clear: () => void
}

/** Tracks operator actions (one at a time): which one is in flight and the last error. */
export function useAction(): Action {
  const [state, setState] = useState<{ pending: string | null; error?: ApiError }>({ pending: null })
  const run = useCallback(async <T,>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    setState({ pending: name })
    try {
      const res = await fn()
      setState({ pending: null })
      return res
    } catch (err) {
      setState({ pending: null, error: toApiError(err) as ApiError })
      return undefined
    }
  }, [])
  const clear = useCallback(() => setState((s) => ({ pending: s.pending })), [])
  return { pending: state.pending, error: state.error, run, clear }
}
