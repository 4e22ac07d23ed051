// Tests against a live baton: clients/clients_test.go (make test-clients)
// starts one on a fresh database with the repository's examples and passes
// its URL and keys in the environment. Without BATON_URL they are skipped.
import http from "node:http";
import type { AddressInfo } from "node:net";

import { afterAll, beforeAll, describe, expect, test } from "vitest";

import {
  BatonClient,
  BatonProblemError,
  verifyWebhook,
  WebhookVerificationError,
  type RetryInfo,
  type StreamMessage,
  type WebhookEvent,
} from "../src/index.js";

const url = process.env.BATON_URL;
const key = (name: string) => process.env[name] ?? "";

/** A tag no other test (or earlier suite on the same server) uses. */
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** Polls check until it returns a value other than undefined, or fails after timeoutMs. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 50; ; pause = Math.min(500, pause * 2)) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pause)); // polling with a deadline
  }
}

describe.skipIf(!url).concurrent("against a live baton", () => {
  const baseUrl = url ?? "http://127.0.0.1:9"; // collected even when skipped
  const operator = new BatonClient({ baseUrl, apiKey: key("BATON_OPERATOR_KEY") });
  const viewer = new BatonClient({ baseUrl, apiKey: key("BATON_VIEWER_KEY") });
  const admin = new BatonClient({ baseUrl, apiKey: key("BATON_ADMIN_KEY") });

  test("start a run, wait for it, read its Gantt data", async () => {
    const started = await operator.startRun({ workflow: "hello", input: { name: "Ada" }, tags: ["ts-client"] });
    expect(["queued", "running"]).toContain(started.status);
    const seen: string[] = [];
    const run = await operator.waitForRun(started.id, { timeoutMs: 30_000, onUpdate: (r) => seen.push(r.status) });
    expect(run.status).toBe("succeeded");
    expect(run.id).toBe(started.id);
    expect(JSON.stringify(run.tasks)).toContain("Hello, Ada!");
    expect(seen.at(-1)).toBe("succeeded");

    const gantt = await operator.getRunGantt(run.id);
    expect(gantt.run_id).toBe(run.id);
    expect(gantt.workflow).toBe("hello");
    expect(gantt.tasks?.map((t) => t.step)).toEqual(["greet"]);
    expect(gantt.critical_path).toEqual(["greet"]);
    expect(gantt.tasks?.[0]?.critical).toBe(true);
    expect(gantt.critical_path_ms).toBeGreaterThanOrEqual(0);
  });

  test("page through runs with the keyset cursor", async () => {
    const tag = unique("page");
    const ids = new Set<number>();
    for (let i = 0; i < 5; i++) ids.add((await operator.startRun({ workflow: "hello", tags: [tag] })).id);

    const first = await viewer.searchRuns({ tags_all: tag, limit: 2 });
    expect(first.runs).toHaveLength(2);
    expect(first.next_cursor).toBeTruthy();

    const pages: number[] = [];
    const paged = viewer.searchRuns.bind(viewer);
    const counting = new BatonClient({ baseUrl, apiKey: key("BATON_VIEWER_KEY") });
    counting.searchRuns = async (p) => {
      const page = await paged(p);
      pages.push(page.runs?.length ?? 0);
      return page;
    };
    const found: number[] = [];
    for await (const run of counting.iterateRuns({ tags_all: tag, limit: 2 })) found.push(run.id);
    expect(new Set(found)).toEqual(ids);
    expect(found).toHaveLength(5); // no duplicate
    expect(found).toEqual([...found].sort((a, b) => b - a)); // newest first
    expect(pages).toEqual([2, 2, 1]);
  });

  test("full-text search finds a run by a word of its input, with a highlight", async () => {
    const word = `quokka${Math.random().toString(36).slice(2, 10)}`;
    const run = await operator.startRun({ workflow: "hello", input: { name: word } });
    const hit = await eventually("the run in search results", async () => {
      const page = await viewer.searchRuns({ q: word, workflow: "hello" });
      return page.runs?.find((r) => r.id === run.id);
    });
    expect(hit.highlight).toContain(word);
    const none = await viewer.searchRuns({ q: `${word} -${word}` });
    expect(none.runs ?? []).toHaveLength(0);
  });

  test("a batch reports progress until it has finished", async () => {
    const name = unique("batch");
    const batch = await operator.startBatch({
      name,
      members: Array.from({ length: 4 }, (_, i) => ({ workflow: "hello", input: { name: `member ${i}` } })),
    });
    expect(batch.members_total).toBe(4);
    const progress: number[] = [];
    const done = await operator.waitBatch(batch.id, {
      timeoutMs: 45_000,
      progressEveryMs: 1000,
      onProgress: (b) => progress.push(b.percent),
    });
    expect(done.status).toBe("succeeded");
    expect(done.percent).toBe(100);
    expect(done.tasks_done).toBe(done.tasks_total);
    expect(progress.at(-1)).toBe(100);
    expect(progress).toEqual([...progress].sort((a, b) => a - b)); // never goes back

    expect((await viewer.getBatch(batch.id)).status).toBe("succeeded");
    const members = [];
    for await (const m of viewer.iterateBatchMembers(batch.id, { pageSize: 3 })) members.push(m);
    expect(members).toHaveLength(4);
  });

  test("the stream resumes after a dropped connection with Last-Event-ID: no gap, no duplicate", async () => {
    // A fetch whose stream connections the test can cut, as a network would.
    // Each connection's Last-Event-ID header, and the id of the last event received before it.
    const connections: { header: string | null; lastReceived: number | undefined }[] = [];
    const got: StreamMessage[] = [];
    let cut: (() => void) | undefined;
    const flaky = new BatonClient({
      baseUrl,
      apiKey: key("BATON_VIEWER_KEY"),
      fetch: async (req) => {
        if (!new URL(req.url).pathname.endsWith("/stream")) return fetch(req);
        connections.push({ header: req.headers.get("Last-Event-ID"), lastReceived: got.at(-1)?.id });
        const res = await fetch(req);
        // The body the client reads is a stream the test can break, as a reset
        // connection would: aborting the fetch itself did not always make a body
        // already being read fail on Node 20 here, and then no reconnection followed.
        const wire = res.body!.getReader();
        let broken: ReadableStreamDefaultController<Uint8Array> | undefined;
        const body = new ReadableStream<Uint8Array>({
          start: (controller) => void (broken = controller),
          pull: async (controller) => {
            const { done, value } = await wire.read();
            if (done) controller.close();
            else controller.enqueue(value);
          },
          cancel: (reason) => wire.cancel(reason),
        });
        cut = () => {
          broken?.error(new Error("connection reset (test)"));
          void wire.cancel().catch(() => undefined);
        };
        return new Response(body, { status: res.status, headers: res.headers });
      },
    });

    // Watch the workflow (only this test runs it), start a run once
    // subscribed, and cut the connection after the run's third event.
    let runId = 0;
    let started: Promise<void> | undefined;
    for await (const msg of flaky.stream({
      workflow: "release-pipeline",
      reconnectDelayMs: 100,
      onOpen: ({ reconnects }) => {
        if (reconnects === 0) {
          started = operator.startRun({ workflow: "release-pipeline" }).then((r) => void (runId = r.id));
        }
      },
    })) {
      await started;
      if (msg.data.run_id !== runId) continue;
      if (msg.id === 0) continue; // task_started: a transient hint, not in the event log
      got.push(msg);
      // Cut at the run's first event: the 22 tasks' events are still to come, so
      // the cut cannot fall after the whole run was already read from the socket.
      if (got.length === 1) cut?.();
      if (msg.kind === "run_succeeded" || msg.kind === "run_failed") break;
    }
    const run = { id: runId };
    expect(connections.length).toBeGreaterThanOrEqual(2);
    expect(connections[0]).toEqual({ header: null, lastReceived: undefined });
    // Events read from the socket before the cut are still delivered; the
    // reconnection names the last of them.
    expect(connections[1]!.lastReceived).toBeGreaterThanOrEqual(got[0]!.id);
    expect(connections[1]!.header).toBe(String(connections[1]!.lastReceived));

    // Compare with the run's event log.
    const { data } = await viewer.api.GET("/v2/runs/{id}/events", { params: { path: { id: run.id } } });
    const last = got.at(-1)!.id;
    const logged = (data?.events ?? []).map((e) => e.id).filter((id) => id <= last).sort((a, b) => a - b);
    const ids = got.map((m) => m.id);
    expect(ids).toEqual(logged);
    expect(got.every((m) => m.data.run_id === run.id && m.kind === m.data.kind)).toBe(true);

    // A new stream from a remembered id continues where the other stopped.
    const resumed = flaky.stream({ runId: run.id, lastEventId: got[9]!.id });
    const next = await resumed.next();
    await resumed.return(undefined);
    expect((next.value as StreamMessage).id).toBe(got[10]!.id);
  });

  test("a 429 is waited out as Retry-After says", async () => {
    const limited = key("BATON_LIMITED_KEY");
    const impatient = new BatonClient({ baseUrl, apiKey: limited, retry: false });
    let refused: unknown;
    for (let i = 0; i < 30 && refused === undefined; i++) {
      await impatient.me().catch((e: unknown) => (refused = e));
    }
    expect(refused).toBeInstanceOf(BatonProblemError);
    const problem = refused as BatonProblemError;
    expect(problem.status).toBe(429);
    expect(problem.type).toBe("urn:baton:problem:rate-limited");
    expect(problem.retryAfterMs).toBeGreaterThan(0);
    expect(problem.retryAfterMs).toBeLessThanOrEqual(10_000);

    const retries: RetryInfo[] = [];
    const patient = new BatonClient({ baseUrl, apiKey: limited, retry: { onRetry: (r) => retries.push(r) } });
    const t0 = Date.now();
    const me = await patient.me();
    const waited = Date.now() - t0;
    expect(me.role).toBe("viewer");
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatchObject({ status: 429, attempt: 1 });
    expect(retries[0]!.retryAfterMs).toBe(retries[0]!.delayMs);
    expect(waited).toBeGreaterThanOrEqual(retries[0]!.delayMs - 50);
    console.log(`429 then ${retries.length} retr${retries.length === 1 ? "y" : "ies"} after Retry-After ${retries.map((r) => r.delayMs / 1000 + " s").join(", ")}; answered in ${waited} ms`);
  });

  test("typed problems: a viewer may not start a run; bad input names the field", async () => {
    const err = await viewer.startRun({ workflow: "hello" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonProblemError);
    expect(err).toMatchObject({ status: 403, title: "Forbidden" });
    expect((err as BatonProblemError).detail).toBeTruthy();

    const bad = await operator.startRun({ workflow: "hello", priority: 9 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BatonProblemError);
    expect((bad as BatonProblemError).status).toBe(422);
    expect((bad as BatonProblemError).errors.map((e) => e.location)).toContain("body.priority");

    const anonymous = new BatonClient({ baseUrl: baseUrl.replace("127.0.0.1", "localhost"), apiKey: "baton_nope_nope" });
    await expect(anonymous.me()).rejects.toMatchObject({ status: 401 });
  });

  describe("webhooks", () => {
    type Delivery = { headers: http.IncomingHttpHeaders; body: string };
    const deliveries: Delivery[] = [];
    let server: http.Server;
    let receiver = "";

    beforeAll(async () => {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      receiver = `http://127.0.0.1:${(server.address() as AddressInfo).port}/baton`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    test("a delivery from Baton verifies; a tampered one does not", async () => {
      const tag = unique("hook");
      const hook = await admin.createWebhook({ url: receiver, event_types: ["run.succeeded"], tags: [tag] });
      expect(hook.secret).toMatch(/^whsec_/);
      const run = await operator.startRun({ workflow: "hello", input: { name: "webhook" }, tags: [tag] });

      const delivery = await eventually(
        "the run.succeeded delivery",
        async () =>
          deliveries.find((d) => {
            try {
              return (JSON.parse(d.body) as WebhookEvent).data.run?.id === run.id;
            } catch {
              return false;
            }
          }),
        30_000,
      );
      const event = await verifyWebhook<WebhookEvent>(hook.secret, delivery.headers, delivery.body);
      expect(event.type).toBe("run.succeeded");
      expect(event.data.run?.id).toBe(run.id);
      expect(event.data.run?.status).toBe("succeeded");

      const tampered = delivery.body.replace('"succeeded"', '"failed"');
      expect(tampered).not.toBe(delivery.body);
      await expect(verifyWebhook(hook.secret, delivery.headers, tampered)).rejects.toBeInstanceOf(WebhookVerificationError);
      const replayedLater = Date.now() + 10 * 60_000;
      await expect(verifyWebhook(hook.secret, delivery.headers, delivery.body, { now: replayedLater })).rejects.toThrow(/too old/);
      await admin.deleteWebhook(hook.id);
    });
  });
});
