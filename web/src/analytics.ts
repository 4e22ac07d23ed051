// Helpers of the analytics page: the shared filter as API query parameters, time ranges,
// and the heatmap's grid. Pure, so they are unit-tested.
import type { QueryClient } from '@tanstack/react-query'
import { api, unwrapJSON, type Schemas } from './api/client.ts'

/** The filter every chart of the page shares (all in the URL). */
export interface AnalyticsFilter {
  range: string
  workflow: string
  task_type: string
  owner: string
  tags: string
}

/** The time ranges offered, in milliseconds. */
export const ranges: Record<string, number> = {
  '1h': 3600_000,
  '24h': 24 * 3600_000,
  '7d': 7 * 24 * 3600_000,
  '30d': 30 * 24 * 3600_000,
  '90d': 90 * 24 * 3600_000,
}

/** Windows end on a multiple of this, so pages opened within it ask the same question (which the API answers from its cache). */
export const windowStepMs = 10_000

/** The window of a range ending now, rounded up to windowStepMs (an unknown range is 7 days). */
export function rangeWindow(range: string, now: number): { from: string; to: string } {
  const span = ranges[range] ?? ranges['7d']!
  const end = Math.ceil(now / windowStepMs) * windowStepMs
  return { from: new Date(end - span).toISOString(), to: new Date(end).toISOString() }
}

/** The query parameters of an analytics call, in a stable order (also the cache key). */
export function analyticsQuery(f: AnalyticsFilter | null, w: { from: string; to: string }): [string, string][] {
  const q: [string, string][] = [
    ['from', w.from],
    ['to', w.to],
  ]
  if (!f) return q
  if (f.workflow) q.push(['workflow', f.workflow])
  if (f.task_type) q.push(['task_type', f.task_type])
  if (f.owner) q.push(['owner', f.owner])
  if (f.tags) q.push(['tags', f.tags.split(',').map((t) => t.trim()).filter(Boolean).join(',')])
  return q
}

/** The heatmap as a grid: nodes (rows), hours (columns) and the filled cells. */
export function heatmapGrid(cells: Schemas['NodeHour'][]): {
  nodes: string[]
  hours: number[]
  cells: { i: number; j: number; busy: number; attempts: number }[]
  max: number
} {
  const nodes = [...new Set(cells.map((c) => c.node))].sort()
  const times = cells.map((c) => Date.parse(c.hour))
  if (times.length === 0) return { nodes, hours: [], cells: [], max: 1 }
  const first = Math.min(...times)
  const last = Math.max(...times)
  const hours: number[] = []
  for (let h = first; h <= last && hours.length < 24 * 92; h += 3600_000) hours.push(h)
  const row = new Map(nodes.map((n, i) => [n, i]))
  const out = cells.map((c) => ({ i: row.get(c.node)!, j: Math.round((Date.parse(c.hour) - first) / 3600_000), busy: c.busy_seconds, attempts: c.attempts }))
  return { nodes, hours, cells: out, max: Math.max(1e-9, ...out.map((c) => c.busy)) }
}

/** The analytics operations the charts read; each also answers CSV for the export links. */
export type AnalyticsPath =
  | '/v1/analytics/completion'
  | '/v1/analytics/durations'
  | '/v1/analytics/task-types'
  | '/v1/analytics/errors'
  | '/v1/analytics/cost'
  | '/v1/analytics/queues'
  | '/v1/analytics/heatmap'

/** Every chart's operation, and whether it takes the shared filter (queues take the window only). */
export const analyticsCharts: [AnalyticsPath, boolean][] = [
  ['/v1/analytics/completion', true],
  ['/v1/analytics/durations', true],
  ['/v1/analytics/task-types', true],
  ['/v1/analytics/errors', true],
  ['/v1/analytics/cost', true],
  ['/v1/analytics/queues', false],
  ['/v1/analytics/heatmap', true],
]

/** The shared filter as the page's query string holds it. */
export function analyticsFilter(query: URLSearchParams): AnalyticsFilter {
  return {
    range: query.get('range') ?? '7d',
    workflow: query.get('workflow') ?? '',
    task_type: query.get('task_type') ?? '',
    owner: query.get('owner') ?? '',
    tags: query.get('tags') ?? '',
  }
}

/** A chart's query key (the cache the page and the route's prefetch share). */
export function analyticsKey(path: AnalyticsPath, params: [string, string][]) {
  return ['analytics', path, params] as const
}

/** Reads one chart's data. */
export function fetchAnalytics<T>(path: AnalyticsPath, params: [string, string][], signal?: AbortSignal): Promise<T> {
  return unwrapJSON<T>(api.GET(path, { params: { query: Object.fromEntries(params) as never }, signal }))
}

/**
 * The window of a filter, fixed the first time it is asked for (kept in the query cache), so
 * that the route's prefetch and every chart of the page cover the same instants. `fresh`
 * (each navigation to the page) starts a new window ending now.
 */
export function analyticsWindow(qc: QueryClient, f: AnalyticsFilter, now: number, fresh = false): { from: string; to: string } {
  const key = ['analytics-window', JSON.stringify(f)]
  const known = qc.getQueryData<{ from: string; to: string }>(key)
  if (known && !fresh) return known
  const w = rangeWindow(f.range, now)
  qc.setQueryData(key, w)
  return w
}

/** Starts reading every chart of the page while its code (Recharts) downloads. */
export function prefetchAnalytics(qc: QueryClient, query: URLSearchParams): void {
  const f = analyticsFilter(query)
  const w = analyticsWindow(qc, f, Date.now(), true)
  for (const [path, filtered] of analyticsCharts) {
    const params = analyticsQuery(filtered ? f : null, w)
    void qc.prefetchQuery({ queryKey: analyticsKey(path, params), queryFn: ({ signal }) => fetchAnalytics(path, params, signal) })
  }
}
