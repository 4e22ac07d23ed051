import { afterEach, describe, expect, it, vi } from 'vitest'
import { apiFetch, getText, setUnauthorizedHandler } from './client.ts'
import { ApiError } from './problem.ts'

afterEach(() => vi.unstubAllGlobals())

function stubFetch(res: () => Response) {
  const seen: Request[] = []
  vi.stubGlobal('fetch', async (req: Request) => {
    seen.push(req)
    return res()
  })
  return seen
}

describe('apiFetch', () => {
  it('sends same-origin credentials, JSON Accept and the dashboard as actor of changes', async () => {
    const seen = stubFetch(() => new Response('{}'))
    await apiFetch('http://x/v1/runs')
    await apiFetch('http://x/v1/runs/1/cancel', { method: 'POST' })
    expect(seen[0]!.credentials).toBe('same-origin')
    expect(seen[0]!.headers.get('Accept')).toContain('application/problem+json')
    expect(seen[0]!.headers.has('X-Baton-Actor')).toBe(false)
    expect(seen[1]!.headers.get('X-Baton-Actor')).toBe('dashboard')
  })

  it('calls the one 401 handler, until it is removed', async () => {
    stubFetch(() => new Response('{"title":"Unauthorized","status":401}', { status: 401 }))
    const calls: number[] = []
    const remove = setUnauthorizedHandler((res) => calls.push(res.status))
    await apiFetch('http://x/v1/runs')
    remove()
    await apiFetch('http://x/v1/runs')
    expect(calls).toEqual([401])
  })

  it('turns a network failure into an ApiError with status 0', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('connection refused')
    })
    await expect(apiFetch('http://x/v1/runs')).rejects.toMatchObject({ name: 'ApiError', status: 0 })
  })

  it('getText reports problems with their detail', async () => {
    stubFetch(() => new Response('{"title":"Unprocessable Entity","status":422,"detail":"from must be before to"}', { status: 422 }))
    const err = await getText('http://x/v1/analytics/cost?format=csv').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).problem.detail).toBe('from must be before to')
  })
})
