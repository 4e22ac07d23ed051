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

describe("stream", () => {
  const event = (id: number, kind: string) =>
    `id: ${id}\nevent: ${kind}\ndata: ${JSON.stringify({ id, kind, run_id: 7 })}\n\n`;

  test("reconnects after a drop with Last-Event-ID and the server's retry delay", async () => {
    const seen: (string | null)[] = [];
    const enc = new TextEncoder();
    const baton = new BatonClient({
      baseUrl: "http://baton.test",
      apiKey: "baton_k",
      fetch: async (req) => {
        seen.push(req.headers.get("Last-Event-ID"));
        expect(req.headers.get("Authorization")).toBe("Bearer baton_k");
        expect(new URL(req.url).search).toBe("?run_id=7&kind=task_succeeded&kind=run_succeeded");
        const first = seen.length === 1;
        let pulls = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(c) {
            if (first && pulls++ === 0) {
              c.enqueue(enc.encode("retry: 5\n\n" + event(1, "task_succeeded") + event(2, "task_succeeded")));
            } else if (first) {
              c.error(new TypeError("terminated")); // the connection drops
            } else {
              c.enqueue(enc.encode(": heartbeat\n\n" + event(3, "run_succeeded")));
              c.close();
            }
          },
        });
        return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
      },
    });
    const t0 = Date.now();
    const got = [];
    const opens: number[] = [];
    for await (const m of baton.stream({
      runId: 7,
      kinds: ["task_succeeded", "run_succeeded"],
      onOpen: (o) => opens.push(o.reconnects),
    })) {
      got.push([m.id, m.kind, m.data.run_id]);
      if (m.kind === "run_succeeded") break;
    }
    expect(got).toEqual([
      [1, "task_succeeded", 7],
      [2, "task_succeeded", 7],
      [3, "run_succeeded", 7],
    ]);
    expect(seen).toEqual([null, "2"]);
    expect(opens).toEqual([0, 1]);
    expect(Date.now() - t0).toBeLessThan(1000); // waited the server's 5 ms, not the default 2 s
  });

  test("an error answer at connection is thrown, not retried", async () => {
    let calls = 0;
    const baton = new BatonClient({
      baseUrl: "http://baton.test",
      fetch: async () => {
        calls++;
        return new Response(JSON.stringify({ title: "Forbidden", status: 403, detail: "needs viewer" }), {
          status: 403,
          headers: { "Content-Type": "application/problem+json" },
        });
      },
    });
    const it = baton.stream();
    await expect(it.next()).rejects.toMatchObject({ name: "BatonProblemError", status: 403, detail: "needs viewer" });
    expect(calls).toBe(1);
  });
});
