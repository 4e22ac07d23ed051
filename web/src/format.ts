// Display helpers for times and durations.

/** Parses an RFC 3339 timestamp to epoch milliseconds; null when absent or invalid. */
export function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null
  const t = Date.parse(iso)
  return Number.isNaN(t) ? null : t
}

/** Formats a duration in milliseconds compactly: 850ms, 4.2s, 3m 05s, 2h 10m, 3d 4h. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–'
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = ms / 1000
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.floor(s)}s`
  const totalSeconds = Math.floor(s)
  const m = Math.floor(totalSeconds / 60)
  if (m < 60) return `${m}m ${String(totalSeconds % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

/** Duration between two timestamps; an open end counts up to now. */
export function elapsed(startIso: string | null, endIso: string | null, now: number): string {
  const start = parseTime(startIso)
  if (start === null) return '–'
  const end = parseTime(endIso) ?? now
  return formatDuration(end - start)
}

// One formatter for every timestamp: toLocaleString with options builds a new
// Intl.DateTimeFormat on each call, which costs more than the rest of a table row.
const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
})

/** Formats a timestamp in the viewer's locale (date and time to the second). */
export function formatTime(iso: string | null | undefined): string {
  const t = parseTime(iso)
  if (t === null) return '–'
  return timeFormat.format(t)
}

/** Formats how long ago a timestamp was: "12s ago", "5m ago". */
export function formatAgo(iso: string | null | undefined, now: number): string {
  const t = parseTime(iso)
  if (t === null) return '–'
  return `${formatDuration(Math.max(0, now - t)).split(' ')[0]} ago`
}
