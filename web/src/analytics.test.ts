import { describe, expect, it } from 'vitest'
import { analyticsQuery, heatmapGrid, rangeWindow } from './analytics.ts'

describe('analytics helpers', () => {
  it('builds the query in a stable order and cleans tags', () => {
    const w = { from: 'F', to: 'T' }
    expect(analyticsQuery({ range: '7d', workflow: 'wf', task_type: '', owner: 'o', tags: ' a, ,b ' }, w)).toEqual([
      ['from', 'F'],
      ['to', 'T'],
      ['workflow', 'wf'],
      ['owner', 'o'],
      ['tags', 'a,b'],
    ])
    expect(analyticsQuery(null, w)).toEqual([
      ['from', 'F'],
      ['to', 'T'],
    ])
  })
  it('turns a range into a window ending now', () => {
    const now = Date.parse('2026-12-01T00:00:00Z')
    expect(rangeWindow('24h', now)).toEqual({ from: '2026-11-30T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' })
    expect(rangeWindow('bogus', now).from).toBe('2026-11-24T00:00:00.000Z')
    // Rounded up to 10 s, so pages opened together share the API's cached answers.
    expect(rangeWindow('1h', now + 1234)).toEqual({ from: '2026-11-30T23:00:10.000Z', to: '2026-12-01T00:00:10.000Z' })
  })
  it('lays the heatmap out as nodes × consecutive hours', () => {
    const g = heatmapGrid([
      { node: 'b', hour: '2026-12-01T02:00:00Z', attempts: 1, busy_seconds: 2 },
      { node: 'a', hour: '2026-12-01T00:00:00Z', attempts: 3, busy_seconds: 8 },
    ])
    expect(g.nodes).toEqual(['a', 'b'])
    expect(g.hours).toHaveLength(3)
    expect(g.cells).toEqual([
      { i: 1, j: 2, busy: 2, attempts: 1 },
      { i: 0, j: 0, busy: 8, attempts: 3 },
    ])
    expect(g.max).toBe(8)
  })
})
