import { describe, expect, it } from 'vitest'
import { invalidationsFor } from './invalidate.ts'
import { parseSSE, type StreamEvent } from './sse.ts'

describe('parseSSE', () => {
  it('parses complete messages and keeps the incomplete rest', () => {
    const { messages, rest } = parseSSE('retry: 2000\n\n: heartbeat\n\nid: 5\nevent: task_succeeded\ndata: {"id":5}\n\nid: 6\nevent: run_')
    expect(messages).toEqual([{ event: 'task_succeeded', data: '{"id":5}', id: '5' }])
    expect(rest).toBe('id: 6\nevent: run_')
  })
  it('joins data lines and accepts CRLF', () => {
    const { messages } = parseSSE('data: a\r\ndata: b\r\n\r\n')
    expect(messages).toEqual([{ event: 'message', data: 'a\nb', id: undefined }])
  })
})

describe('invalidationsFor', () => {
  const ev = (kind: string, over: Partial<StreamEvent> = {}) => ({ id: 1, kind, run_id: 3, step: '', time: '', workflow: 'w', ...over }) as StreamEvent
  it('leaves task outcomes of a run to the run page patch', () => {
    expect(invalidationsFor(ev('task_succeeded', { step: 's' }))).toEqual([['runs'], ['attempts', 3, 's']])
    expect(invalidationsFor(ev('task_started', { id: 0, step: 's' }))).toEqual([['runs'], ['attempts', 3, 's']])
  })
  it('refetches the run and its Gantt on run-level events', () => {
    expect(invalidationsFor(ev('run_succeeded'))).toEqual([['runs'], ['run', 3], ['gantt', 3]])
  })
  it('refreshes the dead-letter queue when a task dies', () => {
    expect(invalidationsFor(ev('task_dead', { step: 's' }))).toContainEqual(['dead-letter-stats'])
  })
  it('routes breaker events to the breakers page', () => {
    expect(invalidationsFor(ev('breaker_opened', { run_id: null }))).toEqual([['breakers']])
  })
})
