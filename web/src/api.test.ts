import { describe, expect, it } from 'vitest'
import {
  ApiError,
  appendPage,
  formatProblem,
  mergeFirstPage,
  parseRunInput,
  problemFromResponse,
  runsQuery,
  toApiError,
  type Run,
} from './api.ts'

function run(id: number, status: Run['status'] = 'running'): Run {
  return {
    attention: '',
    error: '',
    idempotency_key: '',
    input: {},
    owner: '',
    sla_deadline: null,
    sla_state: '',
    tags: null,
    tasks_remaining: 0,
    tasks_total: 0,
    trigger: 'api',
    trigger_ref: '',
    id,
    workflow: 'hello',
    workflow_version: 1,
    status,
    priority: 2,
    created_at: '2026-11-27T10:00:00Z',
    started_at: null,
    finished_at: null,
    task_counts: {},
  }
}

describe('problemFromResponse', () => {
  it('reads a Huma problem document', () => {
    const body = JSON.stringify({
      $schema: 'http://localhost:8080/schemas/ErrorModel.json',
      title: 'Unprocessable Entity',
      status: 422,
      detail: 'validation failed',
      errors: [{ message: 'expected required property workflow to be present', location: 'body', value: {} }],
    })
    const p = problemFromResponse(422, 'Unprocessable Entity', body)
    expect(p).toEqual({
      title: 'Unprocessable Entity',
      status: 422,
      detail: 'validation failed',
      errors: [{ message: 'expected required property workflow to be present', location: 'body' }],
    })
  })

  it('falls back to the status text for a non-JSON body', () => {
    expect(problemFromResponse(502, 'Bad Gateway', '<html><body>nginx</body></html>')).toEqual({
      title: 'Bad Gateway',
      status: 502,
      detail: undefined,
    })
    expect(problemFromResponse(500, '', 'boom')).toEqual({ title: 'HTTP 500', status: 500, detail: 'boom' })
    expect(problemFromResponse(404, 'Not Found', '')).toEqual({ title: 'Not Found', status: 404, detail: undefined })
  })

  it('fills a missing title and status', () => {
    expect(problemFromResponse(409, 'Conflict', '{"detail":"run already finished"}')).toEqual({
      title: 'Conflict',
      status: 409,
      detail: 'run already finished',
    })
  })
})

describe('formatProblem', () => {
  it('joins title, detail and field errors', () => {
    expect(
      formatProblem({
        title: 'Unprocessable Entity',
        status: 422,
        detail: 'validation failed',
        errors: [{ message: 'unknown workflow', location: 'body.workflow' }, { message: 'bad input' }],
      }),
    ).toBe('Unprocessable Entity: validation failed; body.workflow: unknown workflow; bad input')
  })

  it('does not repeat a detail equal to the title', () => {
    expect(formatProblem({ title: 'Not Found', status: 404, detail: 'Not Found' })).toBe('Not Found')
  })

  it('names the status when there is no title', () => {
    expect(formatProblem({ title: '', status: 503 })).toBe('HTTP 503')
  })

  it('is the message of an ApiError', () => {
    const err = new ApiError({ title: 'Not Found', status: 404, detail: 'no run 9' })
    expect(err.message).toBe('Not Found: no run 9')
    expect(err.status).toBe(404)
  })
})

describe('toApiError', () => {
  it('wraps network failures with status 0', () => {
    const err = toApiError(new TypeError('Failed to fetch'))
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).problem).toEqual({ title: 'Network error', status: 0, detail: 'Failed to fetch' })
  })

  it('passes aborts and ApiErrors through', () => {
    const abort = new DOMException('aborted', 'AbortError')
    expect(toApiError(abort)).toBe(abort)
    const api = new ApiError({ title: 'x', status: 400 })
    expect(toApiError(api)).toBe(api)
  })
})

describe('runsQuery', () => {
  it('leaves out empty filters', () => {
    expect(runsQuery({})).toBe('')
    expect(runsQuery({ limit: 50, status: '', workflow: '' })).toBe('?limit=50')
  })

  it('encodes filters and the cursor', () => {
    expect(runsQuery({ limit: 50, status: 'failed', workflow: 'nightly report', cursor: 'abc+/=' })).toBe(
      '?limit=50&status=failed&workflow=nightly+report&cursor=abc%2B%2F%3D',
    )
  })
})

describe('parseRunInput', () => {
  it('accepts an object, and nothing as {}', () => {
    expect(parseRunInput('{"day": "2026-11-27"}')).toEqual({ input: { day: '2026-11-27' } })
    expect(parseRunInput('  \n')).toEqual({ input: {} })
  })

  it('rejects invalid JSON and non-objects', () => {
    expect(parseRunInput('{day}')).toHaveProperty('error')
    expect(parseRunInput('[1, 2]')).toEqual({ error: expect.stringContaining('JSON object') })
    expect(parseRunInput('null')).toEqual({ error: expect.stringContaining('JSON object') })
  })
})

describe('run list paging', () => {
  it('keeps older pages and replaces the range the fresh page covers', () => {
    const shown = [run(10), run(9), run(8), run(5), run(4)]
    // Run 11 is new, run 9 finished and left a "running" filter, 8 is still running.
    const fresh = [run(11), run(10), run(8)]
    expect(mergeFirstPage(shown, fresh, false).map((r) => r.id)).toEqual([11, 10, 8, 5, 4])
  })

  it('replaces everything when the fresh page is complete', () => {
    expect(mergeFirstPage([run(3), run(2), run(1)], [run(3)], true).map((r) => r.id)).toEqual([3])
    expect(mergeFirstPage([run(3)], [], false)).toEqual([])
  })

  it('takes the fresh status of a run', () => {
    const merged = mergeFirstPage([run(2, 'running'), run(1)], [run(2, 'succeeded'), run(1)], false)
    expect(merged[0]?.status).toBe('succeeded')
  })

  it('appends a page without duplicates', () => {
    expect(appendPage([run(5), run(4)], [run(4), run(3)]).map((r) => r.id)).toEqual([5, 4, 3])
  })
})
