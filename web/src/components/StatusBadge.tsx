/** A coloured pill for a run or task status; colours are in styles.css. */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status}</span>
}
