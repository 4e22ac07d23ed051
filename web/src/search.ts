// The runs page's search: its URL query string is the query of GET /v2/runs, so a saved
// search's dashboard_url (/runs?<query>) opens it as is. Pure, so it is unit-tested.

/** The filters the page's controls edit; every other v2 parameter in the URL passes through. */
export interface SearchFilters {
  status: string
  workflow: string
  trigger: string
  owner: string
  tags_all: string
  q: string
  created_from: string
  sort: string
}

/** The filters of the controls, as the URL holds them ('' when absent). */
export function searchFilters(query: URLSearchParams): SearchFilters {
  const get = (k: string) => query.get(k) ?? ''
  return {
    status: get('status'),
    workflow: get('workflow'),
    trigger: get('trigger'),
    owner: get('owner'),
    tags_all: get('tags_all'),
    q: get('q'),
    created_from: get('created_from'),
    sort: get('sort'),
  }
}

/** Parameters of the page's URL that are not part of the search. */
const notSearch = new Set(['cursor', 'limit'])

/**
 * The search of a runs page URL as a canonical query string: empty values and paging
 * dropped, parameters sorted (so the same search is the same cache key and matches the
 * saved search it came from regardless of order).
 */
export function searchQuery(query: URLSearchParams): string {
  const pairs = [...query.entries()].filter(([k, v]) => v !== '' && !notSearch.has(k))
  pairs.sort(([a, x], [b, y]) => (a === b ? x.localeCompare(y) : a.localeCompare(b)))
  return new URLSearchParams(pairs).toString()
}

/** Splits a search highlight ("… <mark>word</mark> …") into plain and marked text. */
export function highlightParts(text: string): { text: string; mark: boolean }[] {
  const out: { text: string; mark: boolean }[] = []
  const re = /<mark>([\s\S]*?)<\/mark>/g
  let last = 0
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index), mark: false })
    out.push({ text: m[1]!, mark: true })
    last = m.index + m[0].length
  }
  if (last < text.length) out.push({ text: text.slice(last), mark: false })
  return out
}
