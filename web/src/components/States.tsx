import type { ReactNode } from 'react'
import type { ApiError } from '../api/problem.ts'
import { ProblemBanner } from './ProblemBanner.tsx'

/**
 * The three states every list shows before its data: a problem banner (with Retry), a
 * loading line, or an empty state with a hint. Renders children when there is data.
 */
export function QueryView<T>(props: {
  data: T | undefined
  error: ApiError | undefined
  loading: boolean
  refresh: () => void
  isEmpty?: (d: T) => boolean
  empty?: ReactNode
  children: (d: T) => ReactNode
}) {
  const { data, error, loading, refresh, isEmpty, empty, children } = props
  return (
    <>
      <ProblemBanner error={error} onRetry={refresh} />
      {loading && !data && !error && (
        <p className="muted loading" role="status">
          Loading…
        </p>
      )}
      {data !== undefined && (isEmpty?.(data) ? <div className="empty">{empty ?? 'Nothing here yet.'}</div> : children(data))}
    </>
  )
}
