/** One message of a Server-Sent Events stream, as the HTML standard parses it. */
export interface SSEMessage {
  /** The `event:` field; "message" when the server sent none. */
  event: string;
  /** The `data:` lines joined by "\n". */
  data: string;
  /** The last `id:` seen so far in the stream (ids carry over to later messages). */
  id: string;
  /** The `retry:` field when this message carried one. */
  retry?: number;
}

/**
 * Parses an SSE byte stream into messages (the event stream interpretation
 * of the HTML standard): lines end in CRLF, LF or CR; a blank line dispatches;
 * lines starting with ":" are comments; a message without data is not
 * dispatched, but its id and retry still count. `onRetry` hears every retry
 * field, also those of messages without data (Baton opens its stream with one).
 */
export async function* parseSSE(
  body: ReadableStream<Uint8Array>,
  onRetry?: (ms: number) => void,
  lastEventId = "",
): AsyncGenerator<SSEMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id = lastEventId;
  let retry: number | undefined;
  let sawCR = false;

  const line = (text: string): SSEMessage | undefined => {
    if (text === "") {
      const hasData = data.length > 0;
      const msg: SSEMessage = { event: event || "message", data: data.join("\n"), id };
      if (retry !== undefined) msg.retry = retry;
      event = "";
      data = [];
      retry = undefined;
      return hasData ? msg : undefined;
    }
    if (text.startsWith(":")) return undefined;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        event = value;
        break;
      case "data":
        data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) id = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) {
          retry = Number(value);
          onRetry?.(retry);
        }
        break;
    }
    return undefined;
  };

  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c === "\n" && sawCR) {
          // The LF of a CRLF whose CR ended the previous line.
          sawCR = false;
          start = i + 1;
          continue;
        }
        sawCR = false;
        if (c === "\n" || c === "\r") {
          const msg = line(buffer.slice(start, i));
          sawCR = c === "\r";
          start = i + 1;
          if (msg) yield msg;
        }
      }
      buffer = buffer.slice(start);
    }
    // A message not ended by a blank line at the end of the stream is dropped (per the standard).
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}
