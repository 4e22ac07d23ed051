import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useRef, useState } from 'react'
import { getGantt } from '../api.ts'
import { useLive, useStreamEvents } from '../api/live.tsx'
import type { StreamEvent } from '../api/sse.ts'
import { ApiError } from '../api/problem.ts'
import { exportPDF, exportPNG } from '../export.ts'
import { formatDuration } from '../format.ts'
import { applyEvent, isFinished, type Gantt as GanttData } from '../gantt.ts'
import { Gantt, type TimeRange } from './Gantt.tsx'
import { ProblemBanner } from './ProblemBanner.tsx'

/**
 * The run page's timeline: the Gantt data (its own query, patched in place by each task
 * event of the stream, so only the chart re-renders), the clock that moves the "now" line,
 * and the exports.
 */
export function RunTimeline(props: {
  id: number
  title: string
  workflow: string
  selected?: string
  onSelect: (step: string) => void
  params?: Record<string, unknown>
  zoom?: TimeRange | null
  onZoomChange?: (zoom: TimeRange | null) => void
}) {
  const { id, title, workflow, selected, onSelect, params, zoom, onZoomChange } = props
  // The run's task events seen so far: a refetch (after a run-level event) may answer with
  // data read before some of them, so they are replayed onto it (applyEvent skips what the
  // data already reflects).
  const seen = useRef<StreamEvent[]>([])
  const gantt = useLive(['gantt', id], async (signal) => seen.current.reduce(applyEvent, await getGantt(id, signal)))
  const qc = useQueryClient()
  const wrap = useRef<HTMLDivElement>(null)
  const [exporting, setExporting] = useState<string | null>(null)
  const [exportError, setExportError] = useState<ApiError>()

  // A task event changes its bar at once: the cached Gantt is patched, not refetched.
  useStreamEvents((e) => {
    if (e.run_id !== id || !e.step) return
    seen.current.push(e)
    qc.setQueryData<GanttData>(['gantt', id], (g) => (g ? applyEvent(g, e) : g))
  })
  const finished = gantt.data ? isFinished(gantt.data.status) : false
  const now = useNow(finished ? 0 : 1000)

  const doExport = async (kind: 'png' | 'pdf') => {
    const svg = wrap.current?.querySelector<SVGSVGElement>('svg.gantt-svg')
    if (!svg) return
    setExporting(kind)
    setExportError(undefined)
    try {
      const name = `run-${id}-${workflow}.${kind}`
      if (kind === 'png') await exportPNG(svg, name)
      else await exportPDF(svg, title, name)
    } catch (err) {
      setExportError(new ApiError({ title: 'Export failed', status: 0, detail: err instanceof Error ? err.message : String(err) }))
    } finally {
      setExporting(null)
    }
  }

  return (
    <>
      <div className="section-head">
        <h2>Timeline</h2>
        <div className="head-actions">
          <button type="button" className="button" disabled={!gantt.data || exporting !== null} onClick={() => void doExport('png')}>
            {exporting === 'png' ? 'Exporting…' : 'Export PNG'}
          </button>
          <button type="button" className="button" disabled={!gantt.data || exporting !== null} onClick={() => void doExport('pdf')}>
            {exporting === 'pdf' ? 'Exporting…' : 'Export PDF'}
          </button>
          <a className="button" href={`/v1/runs/${id}/gantt?format=csv`} download={`run-${id}-gantt.csv`}>
            CSV
          </a>
        </div>
      </div>
      <ProblemBanner error={gantt.error} onRetry={gantt.refresh} />
      <ProblemBanner error={exportError} />
      {gantt.loading && <p className="muted">Loading the timeline…</p>}
      {gantt.data && (
        <div ref={wrap}>
          <Gantt
            data={gantt.data}
            title={title}
            now={now}
            selected={selected}
            onSelect={onSelect}
            params={params}
            zoom={zoom}
            onZoomChange={onZoomChange}
          />
          {gantt.data.critical_path && gantt.data.critical_path.length > 0 && (
            <p className="muted small">
              Critical path ({formatDuration(gantt.data.critical_path_ms)}): {gantt.data.critical_path.join(' → ')}
            </p>
          )}
        </div>
      )}
    </>
  )
}

/** Re-renders every `interval` ms (0: never) and returns the current time. */
function useNow(interval: number): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (interval <= 0) return
    const t = setInterval(() => setNow(Date.now()), interval)
    return () => clearInterval(t)
  }, [interval])
  return interval <= 0 ? now : Math.max(now, Date.now())
}
