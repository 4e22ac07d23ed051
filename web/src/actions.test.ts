import { describe, expect, it } from 'vitest'
import {
  bulkResubmitBody,
  deadLettersQuery,
  formatParams,
  nextRetryAt,
  paramsBody,
  runActions,
  taskActions,
  taskStatuses,
  truncate,
  type TaskEvent,
} from './api.ts'

describe('taskActions', () => {
  it('offers retry for dead, failed, cancelled and skipped tasks', () => {
    const retry = taskStatuses.filter((s) => taskActions(s).retry)
    expect(retry).toEqual(['failed', 'skipped', 'cancelled', 'dead'])
  })

  it('offers skip for every task not already succeeded or skipped', () => {
    const skip = taskStatuses.filter((s) => taskActions(s).skip)
    expect(skip).toEqual(['pending', 'queued', 'running', 'failed', 'cancelled', 'dead'])
  })

  it('offers cancel for unfinished tasks only', () => {
    const cancel = taskStatuses.filter((s) => taskActions(s).cancel)
    expect(cancel).toEqual(['pending', 'queued', 'running'])
  })

  it('offers nothing for a succeeded task', () => {
    expect(taskActions('succeeded')).toEqual({ retry: false, skip: false, cancel: false })
  })
})

describe('runActions', () => {
  it('pauses a running run and resumes a paused one', () => {
    expect(runActions('running')).toEqual({ pause: true, resume: false, cancel: true })
    expect(runActions('paused')).toEqual({ pause: false, resume: true, cancel: true })
    expect(runActions('queued')).toEqual({ pause: false, resume: false, cancel: true })
  })

  it('offers nothing for a finished run', () => {
    for (const s of ['succeeded', 'failed', 'cancelled'] as const) {
      expect(runActions(s)).toEqual({ pause: false, resume: false, cancel: false })
    }
  })
})

describe('paramsBody', () => {
  const original = { url: 'https://example.com', retries: 2 }

  it('sends no body for unchanged params or an empty editor', () => {
    expect(paramsBody(formatParams(original), original)).toEqual({ body: undefined })
    expect(paramsBody('{"url":"https://example.com","retries":2}', original)).toEqual({ body: undefined })
    expect(paramsBody('   ', original)).toEqual({ body: undefined })
    expect(paramsBody('{}', undefined)).toEqual({ body: undefined })
  })

  it('sends edited params', () => {
    expect(paramsBody('{"url": "https://example.org"}', original)).toEqual({
      body: { params: { url: 'https://example.org' } },
    })
    expect(paramsBody('{"a": 1}', null)).toEqual({ body: { params: { a: 1 } } })
  })

  it('rejects invalid JSON and non-objects', () => {
    expect(paramsBody('{url}', original)).toEqual({ error: expect.stringContaining('not valid JSON') })
    expect(paramsBody('[1]', original)).toEqual({ error: 'Params must be a JSON object.' })
    expect(paramsBody('"x"', original)).toEqual({ error: 'Params must be a JSON object.' })
  })
})

describe('formatParams', () => {
  it('pretty-prints params, {} when absent', () => {
    expect(formatParams({ a: 1 })).toBe('{\n  "a": 1\n}')
    expect(formatParams(null)).toBe('{}')
    expect(formatParams(undefined)).toBe('{}')
  })
})

describe('dead-letter filters', () => {
  it('builds the list query, leaving out empty filters', () => {
    expect(deadLettersQuery({})).toBe('')
    expect(deadLettersQuery({ workflow: '', task_type: '', error_class: '', limit: 50 })).toBe('?limit=50')
    expect(
      deadLettersQuery({ workflow: 'nightly report', task_type: 'http', error_class: 'transient', cursor: 'a+b' }),
    ).toBe('?workflow=nightly+report&task_type=http&error_class=transient&cursor=a%2Bb')
  })

  it('builds the bulk resubmit body from the filters that are set', () => {
    expect(bulkResubmitBody({ workflow: '', task_type: '', error_class: '' })).toEqual({})
    expect(bulkResubmitBody({ workflow: 'etl', task_type: '', error_class: 'permanent' })).toEqual({
      workflow: 'etl',
      error_class: 'permanent',
    })
  })
})

describe('nextRetryAt', () => {
  const event = (data: TaskEvent['data']): TaskEvent => ({
    id: 1,
    time: '2026-11-27T10:00:00Z',
    run_id: 1,
    task_id: 2,
    step: 'fetch',
    kind: 'task_failed',
    attempt: 1,
    duration_ms: 120,
    error: 'boom',
    error_class: 'transient',
    node: 'n1',
    actor: '',
    data,
  })

  it('reads data.next_retry_at', () => {
    expect(nextRetryAt(event({ next_retry_at: '2026-11-27T10:00:05Z' }))).toBe('2026-11-27T10:00:05Z')
  })

  it('is null without one', () => {
    expect(nextRetryAt(event(null))).toBeNull()
    expect(nextRetryAt(event({}))).toBeNull()
    expect(nextRetryAt(event({ next_retry_at: 5 }))).toBeNull()
  })
})

describe('truncate', () => {
  it('keeps short text and cuts long text with an ellipsis', () => {
    expect(truncate('short', 10)).toBe('short')
    expect(truncate('0123456789abc', 10)).toBe('012345678…')
    expect(truncate('0123456789abc', 10)).toHaveLength(10)
  })
})
