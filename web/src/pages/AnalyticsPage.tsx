import { useRef, useState, type ReactNode } from 'react'
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  Legend,
  Line,
  LineChart,
  Pie,
  PieChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts'
import { useQueryClient } from '@tanstack/react-query'
import type { Schemas } from '../api/client.ts'
import { useLive } from '../api/live.tsx'
import { QueryView } from '../components/States.tsx'
import { exportPNG } from '../export.ts'
import { formatDuration } from '../format.ts'
import { statusColor } from '../gantt.ts'
import { useQueryState } from '../router.tsx'
import { useTitle } from '../useTitle.ts'
import { useWorkflows } from '../useWorkflows.ts'
import {
  analyticsFilter,
  analyticsKey,
  analyticsQuery,
  analyticsWindow,
  fetchAnalytics,
  heatmapGrid,
  ranges,
  type AnalyticsFilter,
  type AnalyticsPath,
} from '../analytics.ts'

const palette = ['#2563eb', '#16a34a', '#f97316', '#dc2626', '#7c3aed', '#0891b2', '#ca8a04', '#db2777']

/** Analytics: /analytics?range=7d&workflow=…&task_type=…&owner=…&tags=a,b (shared by every chart). */
export function AnalyticsPage() {
  useTitle('Analytics')
  const [query, setQuery] = useQueryState()
  const filter = analyticsFilter(query)
  // The window is fixed when the filter changes (the route's prefetch fixed it first), so
  // every chart covers the same instants.
  const w = analyticsWindow(useQueryClient(), filter, Date.now())
  const { workflows } = useWorkflows()

  return (
    <section className="analytics">
      <div className="page-head">
        <h1>Analytics</h1>
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters shared by every chart">
        <label>
          Range{' '}
          <select value={filter.range} onChange={(e) => setQuery({ range: e.target.value === '7d' ? undefined : e.target.value })}>
            {Object.keys(ranges).map((r) => (
              <option key={r} value={r}>
                last {r}
              </option>
            ))}
          </select>
        </label>
        <label>
          Workflow{' '}
          <select value={filter.workflow} onChange={(e) => setQuery({ workflow: e.target.value })}>
            <option value="">all</option>
            {(workflows ?? []).map((wf) => (
              <option key={wf.name} value={wf.name}>
                {wf.name}
              </option>
            ))}
          </select>
        </label>
        <TextFilter label="Task type" value={filter.task_type} onChange={(v) => setQuery({ task_type: v })} />
        <TextFilter label="Owner" value={filter.owner} onChange={(v) => setQuery({ owner: v })} />
        <TextFilter label="Tags" value={filter.tags} placeholder="a,b" onChange={(v) => setQuery({ tags: v })} />
      </form>
      <div className="chart-grid">
        <Completion filter={filter} w={w} />
        <Durations filter={filter} w={w} />
        <TaskTypes filter={filter} w={w} />
        <Errors filter={filter} w={w} />
        <Cost filter={filter} w={w} />
        <Queues w={w} />
        <Heatmap filter={filter} w={w} />
      </div>
    </section>
  )
}

function TextFilter({ label, value, placeholder, onChange }: { label: string; value: string; placeholder?: string; onChange: (v: string) => void }) {
  const [text, setText] = useState(value)
  return (
    <label>
      {label}{' '}
      <input
        value={text}
        placeholder={placeholder ?? 'any'}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => text !== value && onChange(text.trim())}
        onKeyDown={(e) => e.key === 'Enter' && onChange(text.trim())}
        size={12}
      />
    </label>
  )
}

type Props = { filter: AnalyticsFilter; w: { from: string; to: string } }

function useAnalytics<T>(path: AnalyticsPath, filter: AnalyticsFilter | null, w: { from: string; to: string }) {
  const params = analyticsQuery(filter, w)
  return useLive(analyticsKey(path, params), (signal) => fetchAnalytics<T>(path, params, signal))
}

function ChartCard({ title, path, filter, w, children, wide }: { title: string; path: AnalyticsPath; filter: AnalyticsFilter | null; w: { from: string; to: string }; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null)
  const qs = new URLSearchParams(analyticsQuery(filter, w))
  const slug = path.split('/').pop()!
  const png = () => {
    const svg = ref.current?.querySelector<SVGSVGElement>('svg.recharts-surface, svg.heatmap')
    if (svg) void exportPNG(svg, `baton-${slug}.png`)
  }
  return (
    <figure className={`chart-card${wide ? ' wide' : ''}`} data-chart={slug}>
      <figcaption className="section-head">
        <h2>{title}</h2>
        <span className="head-actions">
          <a className="button small" href={`${path}?${qs}&format=csv`} download={`baton-${slug}.csv`}>
            CSV
          </a>
          <a className="button small" href={`${path}?${qs}&format=json`} download={`baton-${slug}.json`}>
            JSON
          </a>
          <button type="button" className="button small" onClick={png}>
            PNG
          </button>
        </span>
      </figcaption>
      <div ref={ref} className="chart-body">
        {children}
      </div>
    </figure>
  )
}

function Completion({ filter, w }: Props) {
  const q = useAnalytics<Schemas['Completion']>('/v1/analytics/completion', filter, w)
  return (
    <ChartCard title="Completion" path="/v1/analytics/completion" filter={filter} w={w}>
      <QueryView {...q} isEmpty={(d) => !d.total} empty="No run finished in this window.">
        {(d) => (
          <ResponsiveContainer width="100%" height={240}>
            <PieChart>
              <Pie data={d.statuses ?? []} dataKey="runs" nameKey="status" innerRadius={50} outerRadius={90} isAnimationActive={false} label={(e) => `${e.name} ${Math.round(((e.payload as Schemas['StatusCount']).rate ?? 0) * 100)}%`}>
                {(d.statuses ?? []).map((s) => (
                  <Cell key={s.status} fill={statusColor[s.status] ?? '#9ca3af'} />
                ))}
              </Pie>
              <Tooltip />
            </PieChart>
          </ResponsiveContainer>
        )}
      </QueryView>
    </ChartCard>
  )
}

function Durations({ filter, w }: Props) {
  const q = useAnalytics<Schemas['DurationTrend']>('/v1/analytics/durations', filter, w)
  return (
    <ChartCard title="Run duration (p50 / p95 per day)" path="/v1/analytics/durations" filter={filter} w={w}>
      <QueryView {...q} isEmpty={(d) => !d.days?.length} empty="No finished run in this window.">
        {(d) => (
          <ResponsiveContainer width="100%" height={240}>
            <LineChart data={(d.days ?? []).map((x) => ({ ...x, day: x.day.slice(5, 10) }))}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="day" fontSize={11} />
              <YAxis fontSize={11} tickFormatter={(v: number) => formatDuration(v)} width={60} />
              <Tooltip formatter={(v) => formatDuration(Number(v))} />
              <Legend />
              <Line type="monotone" dataKey="p50_ms" name="p50" stroke="#2563eb" dot={false} isAnimationActive={false} />
              <Line type="monotone" dataKey="p95_ms" name="p95" stroke="#dc2626" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        )}
      </QueryView>
    </ChartCard>
  )
}

function TaskTypes({ filter, w }: Props) {
  const q = useAnalytics<Schemas['TaskTypeOutcomes']>('/v1/analytics/task-types', filter, w)
  return (
    <ChartCard title="Success rate by task type" path="/v1/analytics/task-types" filter={filter} w={w}>
      <QueryView {...q} isEmpty={(d) => !d.task_types?.length} empty="No attempt in this window.">
        {(d) => (
          <ResponsiveContainer width="100%" height={240}>
            <BarChart data={(d.task_types ?? []).map((t) => ({ ...t, pct: Math.round(t.success_rate * 1000) / 10, attempt_pct: Math.round(t.attempt_success_rate * 1000) / 10 }))}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="task_type" fontSize={11} />
              <YAxis domain={[0, 100]} unit="%" fontSize={11} />
              <Tooltip />
              <Legend />
              <Bar dataKey="pct" name="tasks succeeded" fill="#16a34a" isAnimationActive={false} />
              <Bar dataKey="attempt_pct" name="attempts succeeded" fill="#86efac" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        )}
      </QueryView>
    </ChartCard>
  )
}

function Errors({ filter, w }: Props) {
  const q = useAnalytics<Schemas['ErrorDistribution']>('/v1/analytics/errors', filter, w)
  return (
    <ChartCard title="Errors by class and message" path="/v1/analytics/errors" filter={filter} w={w} wide>
      <QueryView {...q} isEmpty={(d) => !d.classes?.length} empty="No failed attempt in this window.">
        {(d) => (
          <div className="split">
            <ResponsiveContainer width="40%" height={220}>
              <BarChart data={d.classes ?? []} layout="vertical">
                <XAxis type="number" fontSize={11} />
                <YAxis type="category" dataKey="error_class" width={90} fontSize={11} />
                <Tooltip />
                <Bar dataKey="occurrences" fill="#f97316" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
            <table className="table compact">
              <thead>
                <tr>
                  <th>Message</th>
                  <th>Class</th>
                  <th className="num">Count</th>
                </tr>
              </thead>
              <tbody>
                {(d.messages ?? []).slice(0, 8).map((m) => (
                  <tr key={`${m.error_class}:${m.message}`}>
                    <td className="wrap" title={(m.examples ?? []).join('\n')}>
                      <code className="small">{m.message}</code>
                    </td>
                    <td>{m.error_class}</td>
                    <td className="num">{m.occurrences}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
    </ChartCard>
  )
}

function Cost({ filter, w }: Props) {
  const q = useAnalytics<Schemas['CostBreakdown']>('/v1/analytics/cost', filter, w)
  const [by, setBy] = useState<'task_types' | 'workflows' | 'owners'>('task_types')
  return (
    <ChartCard title="Cost" path="/v1/analytics/cost" filter={filter} w={w}>
      <div className="tabs small" role="tablist">
        {(['task_types', 'workflows', 'owners'] as const).map((k) => (
          <button key={k} type="button" role="tab" aria-selected={by === k} className={`tab${by === k ? ' active' : ''}`} onClick={() => setBy(k)}>
            by {k.replace('_', ' ').replace(/s$/, '')}
          </button>
        ))}
      </div>
      <QueryView
        {...q}
        isEmpty={(d) => !(d[by] ?? []).some((l) => Number(l.cost) > 0)}
        empty="No cost in this window: no attempt, or their task types have no cost_per_second / cost_per_run."
      >
        {(d) => (
          <ResponsiveContainer width="100%" height={210}>
            <BarChart data={(d[by] ?? []).map((l) => ({ key: l.key || '(none)', cost: Number(l.cost), seconds: l.seconds }))}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="key" fontSize={11} />
              <YAxis fontSize={11} />
              <Tooltip />
              <Bar dataKey="cost" fill="#7c3aed" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        )}
      </QueryView>
    </ChartCard>
  )
}

function Queues({ w }: { w: { from: string; to: string } }) {
  const q = useAnalytics<Schemas['QueueStats']>('/v1/analytics/queues', null, w)
  return (
    <ChartCard title="Queue depth and wait" path="/v1/analytics/queues" filter={null} w={w}>
      <QueryView {...q} isEmpty={(d) => !d.queues?.length} empty="No queue activity.">
        {(d) => (
          <ResponsiveContainer width="100%" height={240}>
            <BarChart data={(d.queues ?? []).map((l) => ({ ...l, label: `${l.queue} p${l.priority}` }))}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="label" fontSize={11} />
              <YAxis yAxisId="n" fontSize={11} />
              <YAxis yAxisId="ms" orientation="right" fontSize={11} tickFormatter={(v: number) => formatDuration(v)} />
              <Tooltip />
              <Legend />
              <Bar yAxisId="n" dataKey="available" stackId="d" fill={palette[0]} isAnimationActive={false} />
              <Bar yAxisId="n" dataKey="running" stackId="d" fill={palette[1]} isAnimationActive={false} />
              <Bar yAxisId="n" dataKey="retryable" stackId="d" fill={palette[2]} isAnimationActive={false} />
              <Bar yAxisId="n" dataKey="scheduled" stackId="d" fill={palette[4]} isAnimationActive={false} />
              <Bar yAxisId="ms" dataKey="wait_p95_ms" name="wait p95" fill={palette[3]} isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        )}
      </QueryView>
    </ChartCard>
  )
}

function Heatmap({ filter, w }: Props) {
  const q = useAnalytics<Schemas['Heatmap']>('/v1/analytics/heatmap', filter, w)
  return (
    <ChartCard title="Node busy time by hour" path="/v1/analytics/heatmap" filter={filter} w={w} wide>
      <QueryView {...q} isEmpty={(d) => !d.cells?.length} empty={'No attempt in this window.'}>
        {(d) => {
          const g = heatmapGrid(d.cells ?? [])
          const cw = Math.max(6, Math.min(24, 900 / Math.max(1, g.hours.length)))
          const ch = 18
          const left = 140
          const width = left + g.hours.length * cw + 10
          const height = 24 + g.nodes.length * ch
          return (
            <>
              <svg className="heatmap" width={width} height={height} viewBox={`0 0 ${width} ${height}`} xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Busy seconds per node and hour">
                {g.nodes.map((n, i) => (
                  <text key={n} x={4} y={24 + i * ch + 13} fontSize={11}>
                    {n || '(no node)'}
                  </text>
                ))}
                {g.hours.map((h, j) =>
                  j % Math.ceil(60 / cw) === 0 ? (
                    <text key={h} x={left + j * cw} y={12} fontSize={10}>
                      {new Date(h).toISOString().slice(5, 13).replace('T', ' ')}h
                    </text>
                  ) : null,
                )}
                {g.cells.map((c) => (
                  <rect key={`${c.i}:${c.j}`} x={left + c.j * cw} y={24 + c.i * ch} width={cw - 1} height={ch - 1} fill="#dc2626" fillOpacity={0.1 + 0.9 * (c.busy / g.max)}>
                    <title>{`${g.nodes[c.i] || '(no node)'} ${new Date(g.hours[c.j]!).toISOString().slice(0, 13)}h: ${c.busy.toFixed(1)} s busy, ${c.attempts} attempts`}</title>
                  </rect>
                ))}
              </svg>
              {d.note && <p className="muted small">{d.note}</p>}
            </>
          )
        }}
      </QueryView>
    </ChartCard>
  )
}
