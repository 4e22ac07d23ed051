import type { ApiError } from '../api.ts'

/** Shows an API error: the problem's title, its detail and any field errors. */
export function ProblemBanner({ error, onRetry }: { error: ApiError | undefined; onRetry?: () => void }) {
  if (!error) return null
  const p = error.problem
  return (
    <div className="problem" role="alert">
      <div className="problem-head">
        <strong>{p.title}</strong>
        {p.status > 0 && <span className="problem-status">HTTP {p.status}</span>}
        {onRetry && (
          <button type="button" className="link-button" onClick={onRetry}>
            Retry
          </button>
        )}
      </div>
      {p.detail && p.detail !== p.title && <div className="problem-detail">{p.detail}</div>}
      {p.errors && p.errors.length > 0 && (
        <ul className="problem-errors">
          {p.errors.map((e, i) => (
            <li key={i}>
              {e.location && <code>{e.location}</code>} {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}
