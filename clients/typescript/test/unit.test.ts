// Unit tests that need no server: Retry-After parsing and retries, the SSE
// parser, and webhook verification against the Standard Webhooks vector.
import { describe, expect, test } from "vitest";

import {
  BatonClient,
  BatonProblemError,
  parseRetryAfter,
  parseSSE,
  retryingFetch,
  verifyWebhook,
  WebhookVerificationError,
  type RetryInfo,
  type SSEMessage,
} from "../src/index.js";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(enc.encode(c));
      controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>, onRetry?: (ms: number) => void): Promise<SSEMessage[]> {
  const out: SSEMessage[] = [];
  for await (const m of parseSSE(body, onRetry)) out.push(m);
  return out;
}

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  test("seconds", () => expect(parseRetryAfter("7", now)).toBe(7000));
  test("HTTP date", () => expect(parseRetryAfter("Tue, 01 Dec 2026 12:00:30 GMT", now)).toBe(30_000));
  test("a date in the past means now", () => expect(parseRetryAfter("Tue, 01 Dec 2026 11:00:00 GMT", now)).toBe(0));
  test("absent or malformed", () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("", now)).toBeUndefined();
    expect(parseRetryAfter("-3", now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});

describe("retryingFetch", () => {
  const tooMany = (retryAfter?: string) =>
    new Response(JSON.stringify({ title: "Too Many Requests", status: 429 }), {
      status: 429,
      headers: { "Content-Type": "application/problem+json", ...(retryAfter ? { "Retry-After": retryAfter } : {}) },
    });

  test("waits Retry-After and sends the same body again", async () => {
    const bodies: string[] = [];
    const answers = [tooMany("0"), tooMany("0"), new Response("{}", { status: 201 })];
    const retries: RetryInfo[] = [];
    const f = retryingFetch(
      async (req) => {
        bodies.push(await req.text());
        return answers.shift()!;
      },
      { onRetry: (i) => retries.push(i) },
    );
    const res = await f(new Request("http://x/v2/runs", { method: "POST", body: '{"workflow":"hello"}' }));
    expect(res.status).toBe(201);
    expect(bodies).toEqual(Array(3).fill('{"workflow":"hello"}'));
    expect(retries.map((r) => [r.attempt, r.status, r.retryAfterMs])).toEqual([
      [1, 429, 0],
      [2, 429, 0],
    ]);
  });

  test("is bounded by maxRetries", async () => {
    let calls = 0;
    const f = retryingFetch(async () => (calls++, tooMany("0")), { maxRetries: 2 });
    expect((await f(new Request("http://x/"))).status).toBe(429);
    expect(calls).toBe(3);
  });

  test("does not wait longer than maxDelayMs", async () => {
    let calls = 0;
    const f = retryingFetch(async () => (calls++, tooMany("3600")), { maxDelayMs: 1000 });
    const res = await f(new Request("http://x/"));
    expect(res.status).toBe(429);
    expect(calls).toBe(1);
  });

  test("backs off without Retry-After, only on 429 and 503", async () => {
    const seen: number[] = [];
    const answers = [new Response("", { status: 503 }), new Response("", { status: 500 })];
    const f = retryingFetch(async () => answers.shift()!, { baseDelayMs: 10, onRetry: (i) => seen.push(i.delayMs) });
    expect((await f(new Request("http://x/"))).status).toBe(500);
    expect(seen.length).toBe(1);
    expect(seen[0]).toBeGreaterThanOrEqual(5);
    expect(seen[0]).toBeLessThanOrEqual(10);
  });

  test("a problem answer becomes a typed error", async () => {
    const baton = new BatonClient({
      baseUrl: "http://baton.test",
      retry: false,
      fetch: async () =>
        new Response(
          JSON.stringify({
            type: "about:blank",
            title: "Unprocessable Entity",
            status: 422,
            detail: "validation failed",
            errors: [{ location: "body.workflow", message: "unknown workflow", value: "nope" }],
          }),
          { status: 422, headers: { "Content-Type": "application/problem+json" } },
        ),
    });
    const err = await baton.startRun({ workflow: "nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonProblemError);
    expect(err).toMatchObject({ status: 422, title: "Unprocessable Entity", detail: "validation failed" });
    expect((err as BatonProblemError).errors[0]?.location).toBe("body.workflow");
  });
});

describe("parseSSE", () => {
  test("fields, comments, multi-line data, ids that carry over, retry", async () => {
    const retries: number[] = [];
    const msgs = await collect(
      streamOf("retry: 2000\n\n: heartbeat\n\nid: 5\nevent: run_started\ndata: {\"a\":1}\n\n", "data: one\ndata: two\n\n"),
      (ms) => retries.push(ms),
    );
    expect(retries).toEqual([2000]);
    expect(msgs).toEqual([
      { event: "run_started", data: '{"a":1}', id: "5" },
      { event: "message", data: "one\ntwo", id: "5" },
    ]);
  });

  test("CRLF and CR line ends, lines split across chunks", async () => {
    const msgs = await collect(streamOf("id: 1\r", "\nevent: x\r\ndata: a", "b\r\r", "id: 2\rdata:c\r\n\r\n", "data: lost"));
    expect(msgs).toEqual([
      { event: "x", data: "ab", id: "1" },
      { event: "message", data: "c", id: "2" },
    ]);
  });

  test("multi-byte characters split across chunks", async () => {
    const bytes = new TextEncoder().encode('data: {"name":"Zoë ✓"}\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const b of bytes) c.enqueue(Uint8Array.of(b));
        c.close();
      },
    });
    expect((await collect(body))[0]?.data).toBe('{"name":"Zoë ✓"}');
  });
});

describe("verifyWebhook", () => {
  // The example of the Standard Webhooks specification.
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  const timestamp = "1614265330";
  const body = '{"test": 2432232314}';
  const signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
  const now = 1614265330 * 1000;
  const headers = (sig = signature, ts = timestamp) => ({
    "webhook-id": id,
    "webhook-timestamp": ts,
    "webhook-signature": sig,
  });

  test("accepts the specification's example, also among several signatures and as Headers or bytes", async () => {
    expect(await verifyWebhook(secret, headers(), body, { now })).toEqual({ test: 2432232314 });
    expect(await verifyWebhook(secret, headers(`v1,bm90IGl0 v2,abc ${signature}`), body, { now })).toBeTruthy();
    expect(await verifyWebhook(secret, new Headers(headers()), new TextEncoder().encode(body), { now })).toBeTruthy();
  });

  test("refuses a changed body, another secret, an old or future timestamp, missing headers", async () => {
    const refused = (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(WebhookVerificationError);
    await refused(verifyWebhook(secret, headers(), '{"test": 2432232315}', { now }));
    await refused(verifyWebhook("whsec_" + btoa("another key"), headers(), body, { now }));
    await refused(verifyWebhook(secret, headers(), body, { now: now + 301_000 }));
    await refused(verifyWebhook(secret, headers(), body, { now: now - 301_000 }));
    await refused(verifyWebhook(secret, { "webhook-id": id }, body, { now }));
    await refused(verifyWebhook(secret, headers("v1,"), body, { now }));
  });
});
