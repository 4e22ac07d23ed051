import { scaleTime } from 'd3-scale'
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react'
import { formatDuration } from '../format.ts'
import {
  criticalColor,
  criticalEdges,
  ganttStatuses,
  ganttWindow,
  isFinished,
  statusColor,
  taskMetrics,
  taskSegments,
  type Gantt as GanttData,
  type GanttTask,
} from '../gantt.ts'

const labelWidth = 170
const rowHeight = 22
const barHeight = 14
const top = 52 // title and axis
const legendHeight = 34

/** Props of the Gantt chart. */
export interface GanttProps {
  data: GanttData
  /** The chart's title (the run), drawn inside the SVG so exports carry it. */
  title: string
  now: number
  selected?: string
  onSelect: (step: string) => void
  /** Each step's params, for the hover card. */
  params?: Record<string, unknown>
  /** The zoomed time range to start with (from the URL); null shows the whole run. */
  zoom?: TimeRange | null
  /** Called (debounced) when the user zooms or pans, to keep the range in the URL. */
  onZoomChange?: (zoom: TimeRange | null) => void
}

/** A time range in epoch milliseconds. */
export interface TimeRange {
  start: number
  end: number
}

/** How long the zoom waits after the last change before reporting it (drag and wheel fire often). */
const zoomReportMs = 250

/**
 * The run's tasks on one time axis: a row per task, a segment per queue wait and attempt,
 * the critical path outlined in red with arrows between its steps, a "now" line while the
 * run is going, a legend, zoom (wheel, +/- keys, buttons) and pan (drag, arrow keys).
 */
export function Gantt({ data, title, now, selected, onSelect, params, zoom: initialZoom = null, onZoomChange }: GanttProps) {
  const wrap = useRef<HTMLDivElement>(null)
  const svg = useRef<SVGSVGElement>(null)
  // 0 until the layout effect below has measured the container (before the
  // first paint): the chart is drawn once, at its real width.
  const [width, setWidth] = useState(0)
  const [zoom, setZoom] = useState<TimeRange | null>(initialZoom)
  // Report the range once it settles, unless it is the one we were given.
  const reported = useRef(initialZoom)
  const reportRef = useRef(onZoomChange)
  useEffect(() => {
    reportRef.current = onZoomChange
  })
  useEffect(() => {
    const same = (a: TimeRange | null, b: TimeRange | null) => a === b || (!!a && !!b && a.start === b.start && a.end === b.end)
    if (same(zoom, reported.current)) return
    const t = setTimeout(() => {
      reported.current = zoom
      // Whole milliseconds: what the URL's timestamps can hold.
      reportRef.current?.(zoom && { start: Math.round(zoom.start), end: Math.round(zoom.end) })
    }, zoomReportMs)
    return () => clearTimeout(t)
  }, [zoom])
  const [hover, setHover] = useState<{ step: string; x: number; y: number } | null>(null)
  const drag = useRef<{ x: number; start: number; end: number } | null>(null)

  useLayoutEffect(() => {
    const el = wrap.current
    if (!el) return
    const ro = new ResizeObserver(() => setWidth(Math.max(480, el.clientWidth)))
    ro.observe(el)
    setWidth(Math.max(480, el.clientWidth))
    return () => ro.disconnect()
  }, [])

  const tasks = useMemo(() => data.tasks ?? [], [data.tasks])
  const full = ganttWindow(data, now)
  const domain = zoom ?? full
  const plotWidth = width - labelWidth - 16
  const x = scaleTime()
    .domain([domain.start, domain.end])
    .range([labelWidth, labelWidth + plotWidth])
  const height = top + tasks.length * rowHeight + legendHeight + 8
  const rowOf = new Map(tasks.map((t, i) => [t.step, i]))
  const critical = new Set(data.critical_path ?? [])
  const running = !isFinished(data.status)

  const zoomBy = (factor: number, at?: number) => {
    const c = at ?? (domain.start + domain.end) / 2
    const span = Math.max(50, (domain.end - domain.start) * factor)
    const ratio = (c - domain.start) / (domain.end - domain.start)
    setZoom({ start: c - span * ratio, end: c - span * ratio + span })
  }
  const panBy = (fraction: number) => {
    const d = (domain.end - domain.start) * fraction
    setZoom({ start: domain.start + d, end: domain.end + d })
  }

  // Wheel zoom needs a non-passive listener to keep the page from scrolling.
  const zoomRef = useRef(zoomBy)
  useEffect(() => {
    zoomRef.current = zoomBy
  })
  useEffect(() => {
    const el = svg.current
    if (!el) return
    const onWheel = (e: WheelEvent) => {
      if (!e.ctrlKey && !e.metaKey && !e.shiftKey) return
      e.preventDefault()
      const rect = el.getBoundingClientRect()
      const at = x.invert(e.clientX - rect.left).getTime()
      zoomRef.current(e.deltaY > 0 ? 1.25 : 0.8, at)
    }
    el.addEventListener('wheel', onWheel, { passive: false })
    return () => el.removeEventListener('wheel', onWheel)
  })

  const onKey = (e: KeyboardEvent) => {
    if (e.key === '+' || e.key === '=') zoomBy(0.8)
    else if (e.key === '-') zoomBy(1.25)
    else if (e.key === 'ArrowLeft' && e.shiftKey) panBy(-0.2)
    else if (e.key === 'ArrowRight' && e.shiftKey) panBy(0.2)
    else if (e.key === '0') setZoom(null)
    else return
    e.preventDefault()
  }
  const onPointerDown = (e: PointerEvent) => {
    if (e.button !== 0 || (e.target as Element).closest('.gantt-row')) return
    drag.current = { x: e.clientX, start: domain.start, end: domain.end }
    ;(e.currentTarget as Element).setPointerCapture(e.pointerId)
  }
  const onPointerMove = (e: PointerEvent) => {
    const d = drag.current
    if (!d) return
    const ms = ((e.clientX - d.x) / plotWidth) * (d.end - d.start)
    setZoom({ start: d.start - ms, end: d.end - ms })
  }
  const onPointerUp = () => {
    drag.current = null
  }

  // Stable callbacks, so rows whose task did not change skip rendering (Row is memoized).
  const selectRef = useRef(onSelect)
  useEffect(() => {
    selectRef.current = onSelect
  })
  const select = useCallback((step: string) => selectRef.current(step), [])
  const onHover = useCallback((step: string, h: { x: number; y: number } | null) => setHover(h ? { step, ...h } : null), [])

  const ticks = x.ticks(Math.max(2, Math.floor(plotWidth / 110)))
  const t0 = full.start
  const hoverTask = hover ? tasks.find((t) => t.step === hover.step) : undefined

  const barY = (i: number) => top + i * rowHeight + (rowHeight - barHeight) / 2
  const edges = criticalEdges(data)
    .map(([a, b]) => {
      const ia = rowOf.get(a)
      const ib = rowOf.get(b)
      if (ia === undefined || ib === undefined) return null
      const ta = tasks[ia]!
      const tb = tasks[ib]!
      const segA = taskSegments(ta, now)
      const segB = taskSegments(tb, now)
      if (segA.length === 0 || segB.length === 0) return null
      const x1 = x(segA[segA.length - 1]!.end)
      const y1 = barY(ia) + barHeight / 2
      const x2 = x(segB[0]!.start)
      const y2 = barY(ib) + barHeight / 2
      return { key: `${a}>${b}`, x1, y1, x2, y2 }
    })
    .filter((e) => e !== null)

  return (
    <div className="gantt" ref={wrap}>
      <div className="gantt-tools" role="toolbar" aria-label="Timeline zoom">
        <button type="button" className="button small" onClick={() => zoomBy(0.8)} aria-label="Zoom in">
          +
        </button>
        <button type="button" className="button small" onClick={() => zoomBy(1.25)} aria-label="Zoom out">
          −
        </button>
        <button type="button" className="button small" onClick={() => panBy(-0.2)} aria-label="Pan left">
          ←
        </button>
        <button type="button" className="button small" onClick={() => panBy(0.2)} aria-label="Pan right">
          →
        </button>
        <button type="button" className="button small" onClick={() => setZoom(null)} disabled={!zoom}>
          Reset
        </button>
        <span className="muted small">Shift/Ctrl + wheel zooms, drag pans; +, −, 0 and Shift+arrows when focused.</span>
      </div>
      {width > 0 && (
        <svg
          ref={svg}
          className="gantt-svg"
          width={width}
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          xmlns="http://www.w3.org/2000/svg"
          tabIndex={0}
          role="img"
          aria-label={`Timeline of ${title}`}
          onKeyDown={onKey}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          data-critical-path={(data.critical_path ?? []).join(',')}
        >
          <defs>
            <clipPath id="gantt-plot">
              <rect x={labelWidth} y={top - 6} width={plotWidth} height={tasks.length * rowHeight + 12} />
            </clipPath>
            <marker id="gantt-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M0,0 L8,4 L0,8 z" fill={criticalColor} />
            </marker>
          </defs>
          <text className="gantt-title" x={8} y={18} fontSize={14} fontWeight={600}>
            {title}
          </text>
          {ticks.map((tick) => (
            <g key={tick.getTime()}>
              <line className="gantt-grid" x1={x(tick)} x2={x(tick)} y1={top - 8} y2={top + tasks.length * rowHeight} />
              <text className="gantt-tick" x={x(tick)} y={top - 12} fontSize={10} textAnchor="middle">
                +{formatDuration(tick.getTime() - t0)}
              </text>
            </g>
          ))}
          {tasks.map((task, i) => (
            <Row
              key={task.step}
              task={task}
              i={i}
              d0={domain.start}
              d1={domain.end}
              plotWidth={plotWidth}
              now={task.status === 'running' || task.status === 'queued' || task.status === 'pending' ? now : 0}
              critical={critical.has(task.step)}
              selected={selected === task.step}
              onSelect={select}
              onHover={onHover}
            />
          ))}
          <g clipPath="url(#gantt-plot)">
            {edges.map((e) => (
              <path
                key={e.key}
                className="gantt-edge"
                d={`M${e.x1},${e.y1} C${e.x1 + 12},${e.y1} ${e.x2 - 12},${e.y2} ${e.x2},${e.y2}`}
                fill="none"
                stroke={criticalColor}
                strokeWidth={1.5}
                markerEnd="url(#gantt-arrow)"
              />
            ))}
            {running && now >= domain.start && now <= domain.end && (
              <g className="gantt-now">
                <line x1={x(now)} x2={x(now)} y1={top - 8} y2={top + tasks.length * rowHeight} stroke="#2563eb" strokeDasharray="4 3" />
                <text x={x(now) + 3} y={top - 2} fontSize={10} fill="#2563eb">
                  now
                </text>
              </g>
            )}
          </g>
          <Legend y={top + tasks.length * rowHeight + 14} width={width} />
        </svg>
      )}
      {hover && hoverTask && (
        <HoverCard task={hoverTask} now={now} x={Math.min(hover.x, width - 380)} y={hover.y} params={params?.[hoverTask.step]} />
      )}
    </div>
  )
}

const Row = memo(function Row(props: {
  task: GanttTask
  i: number
  d0: number
  d1: number
  plotWidth: number
  now: number
  critical: boolean
  selected: boolean
  onSelect: (step: string) => void
  onHover: (step: string, h: { x: number; y: number } | null) => void
}) {
  const { task, i, d0, d1, plotWidth, critical, selected, onSelect } = props
  const now = props.now || Date.now()
  const x = (t: number) => labelWidth + ((t - d0) / (d1 - d0)) * plotWidth
  const onHover = (h: { x: number; y: number } | null) => props.onHover(task.step, h)
  const segs = taskSegments(task, now)
  const rowY = top + i * rowHeight
  const y = rowY + (rowHeight - barHeight) / 2
  const first = segs[0]
  const last = segs[segs.length - 1]
  return (
    <g
      className={`gantt-row${selected ? ' selected' : ''}${task.compensates ? ' compensation' : ''}`}
      data-step={task.step}
      data-compensates={task.compensates || undefined}
      data-status={task.status}
      data-critical={critical ? 'true' : 'false'}
      tabIndex={0}
      role="button"
      aria-label={`${task.step}: ${task.status}${task.compensates ? `, undoes ${task.compensates}` : ''}${critical ? ', on the critical path' : ''}`}
      onClick={() => onSelect(task.step)}
      onKeyDown={(e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault()
          onSelect(task.step)
        }
      }}
      onMouseMove={(e) => {
        const box = (e.currentTarget.ownerSVGElement as SVGSVGElement).getBoundingClientRect()
        onHover({ x: e.clientX - box.left, y: e.clientY - box.top })
      }}
      onMouseLeave={() => onHover(null)}
      onFocus={() => onHover({ x: labelWidth + 40, y: rowY + rowHeight })}
      onBlur={() => onHover(null)}
    >
      <rect className="gantt-band" x={0} y={rowY} width="100%" height={rowHeight} fill="transparent" />
      <text
        className="gantt-label"
        x={8}
        y={rowY + rowHeight / 2 + 4}
        fontSize={12}
        fontWeight={critical ? 600 : 400}
        fontStyle={task.compensates ? 'italic' : undefined}
      >
        {task.compensates ? `↩ ${task.step}` : task.step}
      </text>
      <g clipPath="url(#gantt-plot)">
        {segs.map((s, k) => (
          <rect
            key={k}
            className={`gantt-seg gantt-${s.kind}`}
            data-kind={s.kind}
            data-attempt={s.attempt}
            data-outcome={s.outcome}
            x={x(s.start)}
            y={s.kind === 'wait' ? y + barHeight / 2 - 2 : y}
            width={Math.max(2, x(s.end) - x(s.start))}
            height={s.kind === 'wait' ? 4 : barHeight}
            fill={s.color}
            opacity={s.kind === 'wait' ? 0.6 : 1}
            rx={2}
          />
        ))}
        {segs.length === 0 && (
          <rect className="gantt-seg gantt-pending" x={x(now)} y={y} width={0} height={barHeight} fill={statusColor.pending} />
        )}
        {critical && first && last && (
          <rect
            className="gantt-critical"
            x={x(first.start) - 1.5}
            y={y - 1.5}
            width={Math.max(2, x(last.end) - x(first.start)) + 3}
            height={barHeight + 3}
            fill="none"
            stroke={criticalColor}
            strokeWidth={2}
            rx={3}
          />
        )}
      </g>
    </g>
  )
})

function Legend({ y, width }: { y: number; width: number }) {
  const items: { label: string; color: string; outline?: boolean }[] = [
    ...ganttStatuses.map((s) => ({ label: s, color: statusColor[s]! })),
    { label: 'critical path', color: criticalColor, outline: true },
  ]
  const step = Math.min(100, (width - 16) / items.length)
  return (
    <g className="gantt-legend" transform={`translate(8, ${y})`}>
      {items.map((it, i) => (
        <g key={it.label} transform={`translate(${i * step}, 0)`}>
          <rect
            width={12}
            height={12}
            rx={2}
            fill={it.outline ? 'none' : it.color}
            stroke={it.outline ? it.color : 'none'}
            strokeWidth={2}
          />
          <text x={16} y={10} fontSize={11} className="gantt-legend-label">
            {it.label}
          </text>
        </g>
      ))}
    </g>
  )
}

function HoverCard({ task, now, x, y, params }: { task: GanttTask; now: number; x: number; y: number; params: unknown }) {
  const m = taskMetrics(task, now)
  return (
    <div className="gantt-card" role="tooltip" style={{ left: Math.min(x + 14, 9999), top: y + 56 }}>
      <strong>{task.step}</strong> <span className="muted">{task.task_type}</span>
      <dl>
        <dt>Status</dt>
        <dd>{task.status}</dd>
        <dt>Queue wait</dt>
        <dd>{m.queueWaitMs === null ? '–' : formatDuration(m.queueWaitMs)}</dd>
        <dt>Duration</dt>
        <dd>{m.durationMs === null ? '–' : formatDuration(m.durationMs)}</dd>
        <dt>Attempts</dt>
        <dd>{m.attempts}</dd>
        <dt>Slack</dt>
        <dd>{formatDuration(task.slack_ms)}</dd>
        {m.node && (
          <>
            <dt>Node</dt>
            <dd>{m.node}</dd>
          </>
        )}
        {m.error && (
          <>
            <dt>Error</dt>
            <dd className="error">{m.error}</dd>
          </>
        )}
      </dl>
      {params !== undefined && params !== null && <pre className="json small">{JSON.stringify(params, null, 1)}</pre>}
    </div>
  )
}
