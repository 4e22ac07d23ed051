import { describe, expect, it } from 'vitest'
import { highlightParts, searchFilters, searchQuery } from './search.ts'

describe('searchQuery', () => {
  it('is canonical: sorted, without empty values or paging', () => {
    expect(searchQuery(new URLSearchParams('workflow=hello&status=failed&q=&cursor=abc&limit=5'))).toBe('status=failed&workflow=hello')
    expect(searchQuery(new URLSearchParams('status=failed&workflow=hello'))).toBe(searchQuery(new URLSearchParams('workflow=hello&status=failed')))
    expect(searchQuery(new URLSearchParams(''))).toBe('')
  })
  it('keeps v2 parameters the page has no control for', () => {
    expect(searchQuery(new URLSearchParams('step_status=dead&min_duration_ms=1000'))).toBe('min_duration_ms=1000&step_status=dead')
  })
})

describe('searchFilters', () => {
  it('reads the controls from the URL', () => {
    expect(searchFilters(new URLSearchParams('status=running&q=timeout'))).toMatchObject({ status: 'running', q: 'timeout', workflow: '', sort: '' })
  })
})

describe('highlightParts', () => {
  it('splits marked matches from the text without parsing HTML', () => {
    expect(highlightParts('a <mark>time</mark> out <b>x</b>')).toEqual([
      { text: 'a ', mark: false },
      { text: 'time', mark: true },
      { text: ' out <b>x</b>', mark: false },
    ])
  })
})
