import { useEffect, useState } from 'react'
import {
  appendPage,
  listRuns,
  mergeFirstPage,
  priorityName,
  runStatuses,
  toApiError,
  type ApiError,
  type Run,
} from '../api.ts'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { StatusBadge } from '../components/StatusBadge.tsx'
import { TaskCounts } from '../components/TaskCounts.tsx'
import { elapsed, formatAgo, formatTime } from '../format.ts'
import { Link, useNavigate } from 'react-router'
import { useLocation } from '../router.tsx'
import { useLive } from '../api/live.tsx'
import { useWorkflows } from '../useWorkflows.ts'

const pageSize = 50

// The runs shown for one filter. The first page refreshes every poll; "load more" appends
// older pages, after which the cursor comes from the last page loaded.
interface ListState {
  key: string
  runs: Run[]
  cursor: string | null
  extended: boolean
}

/** The runs list: /runs?status=…&workflow=… */
export function RunsPage() {
  const { query } = useLocation()
  const navigate = useNavigate()
  const status = query.get('status') ?? ''
  const workflow = query.get('workflow') ?? ''
  const key = `${status}\u0000${workflow}`

  const { workflows } = useWorkflows()
  const first = useLive(['runs', key], (signal) => listRuns({ limit: pageSize, status, workflow }, signal))
  const [list, setList] = useState<ListState>({ key, runs: [], cursor: null, extended: false })
  const [more, setMore] = useState<{ loading: boolean; error?: ApiError }>({ loading: false })

  useEffect(() => {
    document.title = 'Runs · Baton'
  }, [])

  useEffect(() => {
    const page = first.data
    if (!page) return
    setList((l) => {
      const base = l.key === key ? l : { key, runs: [], cursor: null, extended: false }
      const complete = !page.next_cursor
      return {
        key,
        runs: mergeFirstPage(base.runs, page.runs, complete),
        cursor: complete ? null : base.extended ? base.cursor : (page.next_cursor ?? null),
        extended: complete ? false : base.extended,
      }
    })
  }, [first.data, key])

  useEffect(() => setMore({ loading: false }), [key])

  const current = list.key === key && first.data ? list : undefined

  const loadMore = async () => {
    if (!current?.cursor) return
    setMore({ loading: true })
    try {
      const page = await listRuns({ limit: pageSize, status, workflow, cursor: current.cursor })
      setList((l) =>
        l.key !== key
          ? l
          : { ...l, runs: appendPage(l.runs, page.runs), cursor: page.next_cursor || null, extended: true },
      )
      setMore({ loading: false })
    } catch (err) {
      setMore({ loading: false, error: toApiError(err) as ApiError })
    }
  }

  const setFilter = (name: 'status' | 'workflow', value: string) => {
    const q = new URLSearchParams(query)
    if (value) q.set(name, value)
    else q.delete(name)
    const s = q.toString()
    navigate(s ? `/runs?${s}` : '/runs', { replace: true })
  }

  const workflowNames = (workflows ?? []).map((w) => w.name)
  if (workflow && !workflowNames.includes(workflow)) workflowNames.unshift(workflow)
  const now = Date.now()

  return (
    <section>
      <div className="page-head">
        <h1>Runs</h1>
        <Link className="button primary" to={workflow ? `/runs/new?workflow=${encodeURIComponent(workflow)}` : '/runs/new'}>
          Start run
        </Link>
      </div>

      <div className="filters">
        <label>
          Status
          <select value={status} onChange={(e) => setFilter('status', e.target.value)}>
            <option value="">any</option>
            {runStatuses.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Workflow
          <select value={workflow} onChange={(e) => setFilter('workflow', e.target.value)}>
            <option value="">any</option>
            {workflowNames.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        {(status || workflow) && (
          <button type="button" className="link-button" onClick={() => navigate('/runs', { replace: true })}>
            Clear filters
          </button>
        )}
        <span className="live" title="Refreshes every 2 seconds">
          <span className={first.error ? 'dot dot-error' : 'dot'} /> {first.error ? 'offline' : 'live'}
        </span>
      </div>

      <ProblemBanner error={first.error} onRetry={first.refresh} />

      {!current && !first.error && <p className="muted">Loading…</p>}
      {current && current.runs.length === 0 && (
        <div className="empty">
          {status || workflow ? 'No runs match these filters.' : 'No runs yet.'}{' '}
          <Link to="/runs/new">Start one.</Link>
        </div>
      )}
      {current && current.runs.length > 0 && (
        <table className="table runs">
          <thead>
            <tr>
              <th className="num">Run</th>
              <th>Workflow</th>
              <th>Status</th>
              <th>Tasks</th>
              <th>Priority</th>
              <th>Created</th>
              <th className="num">Duration</th>
            </tr>
          </thead>
          <tbody>
            {current.runs.map((r) => (
              <tr key={r.id}>
                <td className="num">
                  <Link to={`/runs/${r.id}`}>#{r.id}</Link>
                </td>
                <td>
                  <Link to={`/runs/${r.id}`}>{r.workflow}</Link> <span className="muted">v{r.workflow_version}</span>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>
                  <TaskCounts counts={r.task_counts ?? {}} />
                </td>
                <td>{priorityName(r.priority)}</td>
                <td title={formatTime(r.created_at)}>{formatAgo(r.created_at, now)}</td>
                <td className="num">{elapsed(r.started_at, r.finished_at, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <ProblemBanner error={more.error} />
      {current?.cursor && (
        <div className="more">
          <button type="button" className="button" disabled={more.loading} onClick={() => void loadMore()}>
            {more.loading ? 'Loading…' : 'Load more'}
          </button>
        </div>
      )}
    </section>
  )
}
