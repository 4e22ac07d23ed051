import { taskStatuses, type TaskCounts as Counts } from '../api.ts'

/** A stacked bar of a run's task counts by status, with the numbers as its tooltip. */
export function TaskCounts({ counts }: { counts: Counts }) {
  const parts = taskStatuses
    .map((s) => ({ status: s, n: counts[s] ?? 0 }))
    .filter((p) => p.n > 0)
  const total = parts.reduce((sum, p) => sum + p.n, 0)
  if (total === 0) return <span className="muted">–</span>
  const label = parts.map((p) => `${p.n} ${p.status}`).join(', ')
  const done = (counts.succeeded ?? 0) + (counts.skipped ?? 0)
  return (
    <span className="counts" title={label} aria-label={label}>
      <span className="counts-bar">
        {parts.map((p) => (
          <span key={p.status} className={`seg seg-${p.status}`} style={{ flexGrow: p.n }} />
        ))}
      </span>
      <span className="counts-text">
        {done}/{total}
      </span>
    </span>
  )
}
