// A Server-Sent Events reader over apiFetch (rather than EventSource, which would need a
// listener per event name and cannot share the 401 hook): it parses the text/event-stream
// format and reconnects with the last event id, so nothing is missed across a reconnect.
import { apiFetch } from './client.ts'
import type { Schemas } from './client.ts'

/** One row of the event log as the stream sends it. */
export type StreamEvent = Schemas['StreamEvent']

/** One parsed SSE message. */
export interface SSEMessage {
  event: string
  data: string
  id?: string
}

/**
 * Parses complete messages out of buffered stream text. Returns them and the unparsed rest
 * (an incomplete message), which the caller prepends to the next chunk. Comments
 * (heartbeats) and retry fields are dropped.
 */
export function parseSSE(text: string): { messages: SSEMessage[]; rest: string } {
  const messages: SSEMessage[] = []
  const normalized = text.replace(/\r\n?/g, '\n')
  const blocks = normalized.split('\n\n')
  const rest = blocks.pop() ?? ''
  for (const block of blocks) {
    let event = 'message'
    let id: string | undefined
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      let value = colon < 0 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'event') event = value
      else if (field === 'data') data.push(value)
      else if (field === 'id') id = value
    }
    if (data.length > 0) messages.push({ event, data: data.join('\n'), id })
  }
  return { messages, rest }
}

/** Callbacks of openStream. */
export interface StreamHandlers {
  /** Called for every event, in id order. */
  onEvent: (e: StreamEvent) => void
  /** Called when a connection opens; `resumed` is true after a reconnect. */
  onOpen?: (resumed: boolean) => void
  /** Called when the connection drops (before the reconnect wait). */
  onDown?: () => void
}

/**
 * Reads GET /v1/stream until signal aborts, reconnecting after a drop (2 s, or 10 s after
 * an error answer) from the last event id received.
 */
export async function openStream(h: StreamHandlers, signal: AbortSignal): Promise<void> {
  let lastId = ''
  let opened = false
  while (!signal.aborted) {
    let wait = 2000
    try {
      const url = lastId ? `/v1/stream?last_event_id=${encodeURIComponent(lastId)}` : '/v1/stream'
      const res = await apiFetch(url, { headers: { Accept: 'text/event-stream' }, signal })
      if (!res.ok || !res.body) {
        wait = 10000
        throw new Error(`stream answered ${res.status}`)
      }
      h.onOpen?.(opened)
      opened = true
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buf = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        const { messages, rest } = parseSSE(buf + value)
        buf = rest
        for (const m of messages) {
          if (m.id) lastId = m.id
          let ev: StreamEvent
          try {
            ev = JSON.parse(m.data) as StreamEvent
          } catch {
            continue
          }
          try {
            h.onEvent(ev)
          } catch (err) {
            // A failing subscriber must not cost the stream (and a reconnect).
            console.error('live stream subscriber failed', err)
          }
        }
      }
    } catch {
      // reconnect below
    }
    if (signal.aborted) return
    h.onDown?.()
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, wait)
      signal.addEventListener('abort', () => {
        clearTimeout(t)
        resolve()
      })
    })
  }
}
