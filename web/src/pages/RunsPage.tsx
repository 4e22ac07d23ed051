import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState, type FormEvent, type ReactNode } from 'react'
import { Link, useNavigate } from 'react-router'
import { appendPage, mergeFirstPage, priorityName, runStatuses, toApiError, type ApiError } from '../api.ts'
import { actionHeaders, api, unwrap, type Schemas } from '../api/client.ts'
import { useLive } from '../api/live.tsx'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { StatusBadge } from '../components/StatusBadge.tsx'
import { formatAgo, formatDuration, formatTime } from '../format.ts'
import { useLocation } from '../router.tsx'
import { searchQuery, searchFilters, highlightParts } from '../search.ts'
import { useWorkflows } from '../useWorkflows.ts'

type RunFound = Schemas['RunFound']
type RunSearchPage = Schemas['RunSearchPage']
type SavedSearch = Schemas['SavedSearch']

const pageSize = 50

// The runs shown for one search. The first page refreshes when the stream says runs changed;
// "load more" appends older pages (keyset cursor), after which the cursor comes from the last
// page loaded.
interface ListState {
  key: string
  runs: RunFound[]
  cursor: string | null
  extended: boolean
}

function searchRuns(query: string, cursor: string | undefined, signal?: AbortSignal): Promise<RunSearchPage> {
  const q = Object.fromEntries(new URLSearchParams(query))
  q.limit = String(pageSize)
  if (cursor) q.cursor = cursor
  return unwrap(api.GET('/v2/runs', { params: { query: q as never }, signal }))
}

/**
 * The runs list: /runs?status=…&workflow=…&q=…&sort=… — the URL's query string is the v2
 * search (GET /v2/runs), so a saved search's dashboard URL opens it as is.
 */
export function RunsPage() {
  const { query } = useLocation()
  const navigate = useNavigate()
  const key = searchQuery(query)
  const filters = searchFilters(query)
  const sortByCreated = !filters.sort || filters.sort === 'created'

  const { workflows } = useWorkflows()
  const first = useLive(['runs', 'search', key], (signal) => searchRuns(key, undefined, signal))
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
      // Newest first (ids decrease down the list): a fresh first page merges into the pages
      // loaded after it. Other orders have no such key: the fresh page starts the list again.
      if (!sortByCreated) return { key, runs: page.runs ?? [], cursor: page.next_cursor || null, extended: false }
      return {
        key,
        runs: mergeFirstPage(base.runs, page.runs ?? [], complete),
        cursor: complete ? null : base.extended ? base.cursor : page.next_cursor || null,
        extended: complete ? false : base.extended,
      }
    })
  }, [first.data, key, sortByCreated])

  useEffect(() => setMore({ loading: false }), [key])

  const current = list.key === key && first.data ? list : undefined

  const loadMore = async () => {
    if (!current?.cursor) return
    setMore({ loading: true })
    try {
      const page = await searchRuns(key, current.cursor)
      setList((l) => (l.key !== key ? l : { ...l, runs: appendPage(l.runs, page.runs ?? []), cursor: page.next_cursor || null, extended: true }))
      setMore({ loading: false })
    } catch (err) {
      setMore({ loading: false, error: toApiError(err) as ApiError })
    }
  }

  const setFilter = (name: string, value: string) => {
    const q = new URLSearchParams(query)
    if (value) q.set(name, value)
    else q.delete(name)
    q.delete('cursor')
    const s = q.toString()
    void navigate(s ? `/runs?${s}` : '/runs', { replace: true })
  }

  const workflowNames = (workflows ?? []).map((w) => w.name)
  if (filters.workflow && !workflowNames.includes(filters.workflow)) workflowNames.unshift(filters.workflow)
  const now = Date.now()
  const filtered = key !== ''

  return (
    <section>
      <div className="page-head">
        <h1>Runs</h1>
        <Link className="button primary" to={filters.workflow ? `/runs/new?workflow=${encodeURIComponent(filters.workflow)}` : '/runs/new'}>
          Start run
        </Link>
      </div>

      <div className="filters" role="search" aria-label="Search runs">
        <label>
          Status
          <select value={filters.status} onChange={(e) => setFilter('status', e.target.value)}>
            <option value="">any</option>
            {runStatuses.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
            {filters.status && !(runStatuses as readonly string[]).includes(filters.status) && <option value={filters.status}>{filters.status}</option>}
          </select>
        </label>
        <label>
          Workflow
          <select value={filters.workflow} onChange={(e) => setFilter('workflow', e.target.value)}>
            <option value="">any</option>
            {workflowNames.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label>
          Trigger
          <select value={filters.trigger} onChange={(e) => setFilter('trigger', e.target.value)}>
            <option value="">any</option>
            {['api', 'sql', 'schedule', 'event', 'batch', 'library'].map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <TextFilter label="Owner" value={filters.owner} onChange={(v) => setFilter('owner', v)} />
        <TextFilter label="Tags" value={filters.tags_all} placeholder="a,b" onChange={(v) => setFilter('tags_all', v)} />
        <TextFilter label="Search" value={filters.q} placeholder="text, -not, &quot;phrase&quot;" onChange={(v) => setFilter('q', v)} size={18} />
        <label>
          Created after
          <input
            type="date"
            value={filters.created_from.slice(0, 10)}
            onChange={(e) => setFilter('created_from', e.target.value ? `${e.target.value}T00:00:00Z` : '')}
          />
        </label>
        <label>
          Sort
          <select value={filters.sort} onChange={(e) => setFilter('sort', e.target.value)}>
            <option value="">newest</option>
            <option value="finished">latest finished</option>
            <option value="duration">longest</option>
          </select>
        </label>
        {filtered && (
          <button type="button" className="link-button" onClick={() => void navigate('/runs', { replace: true })}>
            Clear filters
          </button>
        )}
      </div>

      <SavedSearches current={key} />

      <ProblemBanner error={first.error} onRetry={first.refresh} />

      {!current && !first.error && <p className="muted loading">Loading…</p>}
      {current && current.runs.length === 0 && (
        <div className="empty">
          {filtered ? 'No runs match this search.' : 'No runs yet.'} <Link to="/runs/new">Start one.</Link>
        </div>
      )}
      {current && current.runs.length > 0 && (
        <table className="table runs">
          <thead>
            <tr>
              <th className="num">Run</th>
              <th>Workflow</th>
              <th>Status</th>
              <th className="num">Tasks</th>
              <th>Owner</th>
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
                  <Link to={`/runs/${r.id}`}>{r.workflow}</Link> <span className="muted">v{r.version}</span>
                  {r.tags && r.tags.length > 0 && <span className="muted small"> {r.tags.join(', ')}</span>}
                  {r.highlight && <div className="small highlight">{highlight(r.highlight)}</div>}
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td className="num">{r.tasks_total}</td>
                <td>{r.owner || <span className="muted">–</span>}</td>
                <td>{priorityName(r.priority)}</td>
                <td title={formatTime(r.created_at)}>{formatAgo(r.created_at, now)}</td>
                <td className="num">{runDuration(r, now)}</td>
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

function runDuration(r: RunFound, now: number): string {
  if (r.duration_ms != null) return formatDuration(r.duration_ms)
  if (!r.started_at) return '–'
  return formatDuration(now - Date.parse(r.started_at))
}

// The search's highlight: text with its matches in <mark>…</mark>, drawn as elements (the
// text itself is never parsed as HTML).
function highlight(text: string): ReactNode[] {
  return highlightParts(text).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))
}

function TextFilter(props: { label: string; value: string; placeholder?: string; size?: number; onChange: (v: string) => void }) {
  const { label, value, placeholder, size, onChange } = props
  const [text, setText] = useState(value)
  useEffect(() => setText(value), [value])
  return (
    <label>
      {label}
      <input
        value={text}
        placeholder={placeholder ?? 'any'}
        size={size ?? 10}
        onChange={(e) => setText(e.target.value)}
        onBlur={() => text.trim() !== value && onChange(text.trim())}
        onKeyDown={(e) => e.key === 'Enter' && onChange(text.trim())}
      />
    </label>
  )
}

/** The saved searches (GET /v2/saved-searches), each opened by its dashboard URL, and saving the current one. */
function SavedSearches({ current }: { current: string }) {
  const saved = useLive(['saved-searches'], (signal) => unwrap(api.GET('/v2/saved-searches', { signal })))
  const qc = useQueryClient()
  const [name, setName] = useState('')
  const [state, setState] = useState<{ busy: boolean; error?: ApiError }>({ busy: false })
  const searches: SavedSearch[] = saved.data?.searches ?? []

  const save = async (e: FormEvent) => {
    e.preventDefault()
    if (!name.trim()) return
    setState({ busy: true })
    try {
      await unwrap(api.POST('/v2/saved-searches', { body: { name: name.trim(), query: current }, headers: actionHeaders }))
      setName('')
      setState({ busy: false })
      void qc.invalidateQueries({ queryKey: ['saved-searches'] })
    } catch (err) {
      setState({ busy: false, error: toApiError(err) as ApiError })
    }
  }

  return (
    <div className="saved-searches">
      <span className="muted">Saved searches:</span>{' '}
      {searches.length === 0 && !saved.error && <span className="muted">none yet</span>}
      {searches.map((s) => (
        <Link key={s.id} className={`tag${s.query === current ? ' active' : ''}`} to={s.dashboard_url} title={s.query || 'every run'}>
          {s.name}
        </Link>
      ))}
      <form className="inline-form" onSubmit={(e) => void save(e)}>
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="name this search" aria-label="Name of the saved search" size={16} maxLength={200} />
        <button type="submit" className="button small" disabled={state.busy || !name.trim()}>
          {state.busy ? 'Saving…' : 'Save search'}
        </button>
      </form>
      <ProblemBanner error={saved.error ?? state.error} />
    </div>
  )
}
