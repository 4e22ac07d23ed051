import { Fragment, useEffect, useState } from 'react'
import {
  appendPage,
  bulkResubmitDeadLetters,
  discardDeadLetter,
  errorClasses,
  listDeadLetters,
  resubmitDeadLetter,
  toApiError,
  truncate,
  type ApiError,
  type BulkResubmitResult,
  type DeadLetter,
  type DeadLetterFilter,
  type ParamsBody,
  type Json,
} from '../api.ts'
import { ParamsEditor } from '../components/ParamsEditor.tsx'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { formatAgo, formatTime } from '../format.ts'
import { Link, useNavigate } from 'react-router'
import { useLocation } from '../router.tsx'
import { useAction } from '../useAction.ts'
import { useDeadLetterStats } from '../useDeadLetterStats.ts'
import { useLive } from '../api/live.tsx'
import { useWorkflows } from '../useWorkflows.ts'

const pageSize = 50
const errorPreview = 90

type FilterName = keyof DeadLetterFilter

// The entries shown for one filter: the first page, then pages appended by "load more".
interface ListState {
  key: string
  items: DeadLetter[]
  cursor: string | null
}

/** The dead-letter queue: /dead-letters?workflow=…&task_type=…&error_class=… */
export function DeadLettersPage() {
  const { query } = useLocation()
  const navigate = useNavigate()
  const filter: DeadLetterFilter = {
    workflow: query.get('workflow') ?? '',
    task_type: query.get('task_type') ?? '',
    error_class: query.get('error_class') ?? '',
  }
  const key = `${filter.workflow}\u0000${filter.task_type}\u0000${filter.error_class}`
  const filtered = Boolean(filter.workflow || filter.task_type || filter.error_class)

  const { workflows } = useWorkflows()
  const stats = useDeadLetterStats()
  // The first page loads once per filter, and again when the live stream reports a change
  // to the queue (a task died, an entry was resubmitted or discarded).
  const first = useLive(['dead-letters', key], (signal) => listDeadLetters({ ...filter, limit: pageSize }, signal))
  const [list, setList] = useState<ListState>({ key, items: [], cursor: null })
  const [more, setMore] = useState<{ loading: boolean; error?: ApiError }>({ loading: false })
  const [taskType, setTaskType] = useState(filter.task_type ?? '')
  const [expanded, setExpanded] = useState<Set<number>>(new Set())
  const [editing, setEditing] = useState<number | null>(null)
  const [resubmitted, setResubmitted] = useState<Map<number, number>>(new Map()) // entry id → run id
  const [bulk, setBulk] = useState<BulkResubmitResult>()
  const act = useAction()

  useEffect(() => {
    document.title = 'Dead letters · Baton'
  }, [])

  useEffect(() => setTaskType(filter.task_type ?? ''), [filter.task_type])

  useEffect(() => {
    const page = first.data
    if (!page) return
    setList({ key, items: page.dead_letters ?? [], cursor: page.next_cursor || null })
  }, [first.data, key])

  useEffect(() => {
    setMore({ loading: false })
    setBulk(undefined)
  }, [key])

  const current = list.key === key && first.data ? list : undefined

  const loadMore = async () => {
    if (!current?.cursor) return
    setMore({ loading: true })
    try {
      const page = await listDeadLetters({ ...filter, limit: pageSize, cursor: current.cursor })
      setList((l) =>
        l.key !== key ? l : { ...l, items: appendPage(l.items, page.dead_letters ?? []), cursor: page.next_cursor || null },
      )
      setMore({ loading: false })
    } catch (err) {
      setMore({ loading: false, error: toApiError(err) as ApiError })
    }
  }

  const setFilter = (name: FilterName, value: string) => {
    const q = new URLSearchParams(query)
    if (value) q.set(name, value)
    else q.delete(name)
    const s = q.toString()
    navigate(s ? `/dead-letters?${s}` : '/dead-letters', { replace: true })
  }

  const resubmit = async (d: DeadLetter, body: ParamsBody | undefined) => {
    const res = await act.run(`resubmit:${d.id}`, () => resubmitDeadLetter(d.id, body))
    stats.refresh()
    if (!res) return
    setEditing(null)
    setResubmitted((m) => new Map(m).set(d.id, res.run?.id ?? d.run_id))
  }

  const discard = async (d: DeadLetter) => {
    if (!window.confirm(`Discard dead letter #${d.id} (${d.workflow} / ${d.step})? The task stays dead.`)) return
    const ok = await act.run(`discard:${d.id}`, async () => {
      await discardDeadLetter(d.id)
      return true
    })
    stats.refresh()
    if (ok) setList((l) => ({ ...l, items: l.items.filter((x) => x.id !== d.id) }))
  }

  const resubmitAll = async () => {
    const what = filtered ? 'every dead letter matching the filters' : 'every dead letter'
    if (!window.confirm(`Resubmit ${what}?`)) return
    setBulk(undefined)
    const res = await act.run('bulk', () => bulkResubmitDeadLetters(filter))
    if (res) setBulk(res)
    stats.refresh()
    first.refresh()
  }

  const toggleExpanded = (id: number) =>
    setExpanded((s) => {
      const next = new Set(s)
      if (next.has(id)) next.delete(id)
      else next.add(id)
      return next
    })

  const workflowNames = (workflows ?? []).map((w) => w.name)
  if (filter.workflow && !workflowNames.includes(filter.workflow)) workflowNames.unshift(filter.workflow)
  const now = Date.now()
  const busy = act.pending !== null
  const columns = 10

  return (
    <section>
      <div className="page-head">
        <h1>
          Dead letters
          {stats.data && (
            <span className="muted head-stats">
              {stats.data.size} {stats.data.size === 1 ? 'entry' : 'entries'}
              {stats.data.oldest && (
                <span title={formatTime(stats.data.oldest)}> · oldest {formatAgo(stats.data.oldest, now)}</span>
              )}
            </span>
          )}
        </h1>
        <button
          type="button"
          className="button"
          disabled={busy || !current || current.items.length === 0}
          onClick={() => void resubmitAll()}
        >
          {act.pending === 'bulk' ? 'Resubmitting…' : filtered ? 'Resubmit all matching' : 'Resubmit all'}
        </button>
      </div>

      <div className="filters">
        <label>
          Workflow
          <select value={filter.workflow} onChange={(e) => setFilter('workflow', e.target.value)}>
            <option value="">any</option>
            {workflowNames.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault()
            setFilter('task_type', taskType.trim())
          }}
        >
          <label>
            Task type
            <input
              value={taskType}
              placeholder="any"
              size={14}
              onChange={(e) => setTaskType(e.target.value)}
              onBlur={() => setFilter('task_type', taskType.trim())}
            />
          </label>
        </form>
        <label>
          Error class
          <select value={filter.error_class} onChange={(e) => setFilter('error_class', e.target.value)}>
            <option value="">any</option>
            {errorClasses.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        {filtered && (
          <button type="button" className="link-button" onClick={() => navigate('/dead-letters', { replace: true })}>
            Clear filters
          </button>
        )}
        <button type="button" className="link-button refresh" onClick={first.refresh}>
          Refresh
        </button>
      </div>

      <ProblemBanner error={first.error} onRetry={first.refresh} />
      <ProblemBanner error={stats.error} />
      <ProblemBanner error={act.error} />
      {bulk && <BulkResult result={bulk} onClose={() => setBulk(undefined)} />}

      {!current && !first.error && <p className="muted">Loading…</p>}
      {current && current.items.length === 0 && (
        <div className="empty">{filtered ? 'No dead letters match these filters.' : 'The dead-letter queue is empty.'}</div>
      )}
      {current && current.items.length > 0 && (
        <table className="table dead-letters">
          <thead>
            <tr>
              <th className="num">Id</th>
              <th>Workflow</th>
              <th>Step</th>
              <th>Task type</th>
              <th>Class</th>
              <th>Error</th>
              <th className="num">Attempts</th>
              <th>First failed</th>
              <th>Last failed</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {current.items.map((d) => {
              const runId = resubmitted.get(d.id)
              const open = expanded.has(d.id)
              const long = d.error.length > errorPreview || d.error.includes('\n')
              return (
                <Fragment key={d.id}>
                  <tr className={runId !== undefined ? 'done' : undefined}>
                    <td className="num">#{d.id}</td>
                    <td>
                      {d.workflow} <span className="muted">v{d.workflow_version}</span>
                    </td>
                    <td>
                      <Link to={`/runs/${d.run_id}`} title={`Run #${d.run_id}`}>
                        {d.step}
                      </Link>{' '}
                      <span className="muted">#{d.run_id}</span>
                    </td>
                    <td>{d.task_type}</td>
                    <td>
                      <span className={`class class-${d.error_class}`}>{d.error_class || '–'}</span>
                    </td>
                    <td className="wrap error-cell">
                      {long ? (
                        <button
                          type="button"
                          className="link-button error-toggle"
                          aria-expanded={open}
                          onClick={() => toggleExpanded(d.id)}
                          title={open ? 'Hide the full error' : 'Show the full error'}
                        >
                          <span className="caret">{open ? '▾' : '▸'}</span>{' '}
                          {truncate(d.error.split('\n')[0] ?? '', errorPreview)}
                        </button>
                      ) : (
                        d.error || <span className="muted">–</span>
                      )}
                    </td>
                    <td className="num">{d.attempts}</td>
                    <td title={formatTime(d.first_failed_at)}>{formatAgo(d.first_failed_at, now)}</td>
                    <td title={formatTime(d.last_failed_at)}>{formatAgo(d.last_failed_at, now)}</td>
                    <td className="task-actions">
                      {runId !== undefined ? (
                        <span>
                          Resubmitted · <Link to={`/runs/${runId}`}>run #{runId}</Link>
                        </span>
                      ) : (
                        <>
                          <button
                            type="button"
                            className="link-button"
                            aria-expanded={editing === d.id}
                            disabled={busy}
                            onClick={() => setEditing(editing === d.id ? null : d.id)}
                          >
                            Resubmit…
                          </button>
                          <button
                            type="button"
                            className="link-button danger"
                            disabled={busy}
                            onClick={() => void discard(d)}
                          >
                            {act.pending === `discard:${d.id}` ? 'Discarding…' : 'Discard'}
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                  {open && (
                    <tr className="detail">
                      <td colSpan={columns}>
                        <pre className="json error">{d.error}</pre>
                      </td>
                    </tr>
                  )}
                  {editing === d.id && runId === undefined && (
                    <tr className="detail">
                      <td colSpan={columns}>
                        <h3>Resubmit #{d.id}</h3>
                        <ParamsEditor
                          params={d.params as Json}
                          submitLabel="Resubmit"
                          pending={act.pending === `resubmit:${d.id}`}
                          onSubmit={(body) => void resubmit(d, body)}
                          onClose={() => setEditing(null)}
                        />
                      </td>
                    </tr>
                  )}
                </Fragment>
              )
            })}
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

function BulkResult({ result, onClose }: { result: BulkResubmitResult; onClose: () => void }) {
  const resubmitted = result.resubmitted ?? []
  const failed = Object.entries(result.failed ?? {})
  return (
    <div className={failed.length > 0 ? 'notice notice-warn' : 'notice'} role="status">
      <div className="problem-head">
        <strong>
          Resubmitted {resubmitted.length}, failed {failed.length}
        </strong>
        <button type="button" className="link-button" onClick={onClose}>
          Dismiss
        </button>
      </div>
      {failed.length > 0 && (
        <ul className="problem-errors">
          {failed.map(([id, why]) => (
            <li key={id}>
              <code>#{id}</code> {why}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}
