import createClient, { type Client } from "openapi-fetch";

import { BatonProblemError, BatonTimeoutError, type Problem } from "./errors.js";
import { parseRetryAfter, retryingFetch, sleep, type RetryOptions } from "./retry.js";
import type { components, paths } from "./schema.js";
import { parseSSE } from "./sse.js";

type Schemas = components["schemas"];
/** A run with its tasks (GET /v2/runs/{id}). */
export type Run = Schemas["Run"];
/** What POST /v2/runs takes. */
export type StartRunRequest = Schemas["StartRunRequest"];
/** A run's timeline and critical path (GET /v2/runs/{id}/gantt). */
export type Gantt = Schemas["Gantt"];
/** A run in search results. */
export type RunFound = Schemas["RunFound"];
/** One page of run search results. */
export type RunSearchPage = Schemas["RunSearchPage"];
/** A batch's progress. */
export type Batch = Schemas["Batch"];
/** What POST /v2/batches takes. */
export type BatchRequest = Schemas["BatchRequest"];
/** A member of a batch with its run. */
export type BatchMember = Schemas["BatchMemberRun"];
/** A dead-letter entry. */
export type DeadLetter = Schemas["DeadLetter"];
/** The data of every event of the live stream: a row of the event log. */
export type StreamEvent = Schemas["StreamEvent"];
/** The body of a webhook delivery. */
export type WebhookEvent = Schemas["WebhookEvent"];
/** What POST /v2/webhooks takes. */
export type WebhookRequest = Schemas["WebhookRequest"];
/** A new webhook subscription with its secret (shown once). */
export type WebhookCreated = Schemas["WebhookCreated"];
/** The caller's identity, role and quota (GET /v2/me). */
export type Me = Schemas["Me"];
/** A run's status. */
export type RunStatus = Run["status"];

/** The statuses a run ends in. */
export const terminalRunStatuses: readonly RunStatus[] = ["succeeded", "failed", "cancelled"];

/** The typed openapi-fetch client over every v2 operation. */
export type BatonAPI = Client<paths>;

/** Options of BatonClient. */
export interface BatonClientOptions {
  /** Where Baton listens, such as http://127.0.0.1:8080 (no /v2). */
  baseUrl: string;
  /** An API key (`baton_...`), sent as `Authorization: Bearer`. Leave out for `baton dev` from this machine. */
  apiKey?: string;
  /** The fetch to use; globalThis.fetch by default. */
  fetch?: (input: Request) => Promise<Response>;
  /** How refused requests (429, 503) are retried; false turns retries off. */
  retry?: RetryOptions | false;
  /** Sent as X-Baton-Actor: who the calls are made for, recorded in events beside the key's name. */
  actor?: string;
  /** Further headers sent with every request. */
  headers?: Record<string, string>;
}

/** Options of one call. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Parameters of GET /v2/runs (see docs/v2.md); every value is a string or a list joined by commas. */
export interface SearchRunsParams {
  workflow?: string;
  /** Any of these statuses. */
  status?: string | string[];
  owner?: string;
  trigger?: string;
  priority?: number;
  tags_all?: string | string[];
  tags_any?: string | string[];
  created_from?: string;
  created_to?: string;
  started_from?: string;
  started_to?: string;
  finished_from?: string;
  finished_to?: string;
  min_duration_ms?: number;
  max_duration_ms?: number;
  batch?: number;
  step?: string;
  step_status?: string;
  /** Full text, websearch syntax ("quoted phrase", or, -not). */
  q?: string;
  sort?: "created" | "finished" | "duration";
  /** Page size, 1 to 500 (default 50). */
  limit?: number;
  /** next_cursor of the previous page. */
  cursor?: string;
}

/** Options of waitForRun. */
export interface WaitForRunOptions extends CallOptions {
  /** Give up after this long (BatonTimeoutError). Default 10 minutes. */
  timeoutMs?: number;
  /** The first pause between polls, growing by half each time. Default 200 ms. */
  pollIntervalMs?: number;
  /** The longest pause between polls. Default 2 s. */
  maxPollIntervalMs?: number;
  /** Called with every state the run is seen in. */
  onUpdate?: (run: Run) => void;
}

/** Options of waitBatch. */
export interface WaitBatchOptions extends CallOptions {
  /** Give up after this long (BatonTimeoutError). Default 30 minutes. */
  timeoutMs?: number;
  /** How often progress is reported while the batch runs (each long poll's length). Default 5 s. */
  progressEveryMs?: number;
  /** Called with the batch's progress after each long poll. */
  onProgress?: (batch: Batch) => void;
}

/** Options of stream. */
export interface StreamOptions extends CallOptions {
  /** Only the events of this run. */
  runId?: number;
  /** Only the events of runs of this workflow. */
  workflow?: string;
  /** Only events of these kinds (task_succeeded, run_failed ...). */
  kinds?: string[];
  /**
   * Resume after this event id: the server replays the matching events that
   * came after it. Without it (or with 0) the stream starts with the next event.
   */
  lastEventId?: number;
  /**
   * Called each time a connection is open and subscribed (events committed
   * from then on will come): start the work to watch after the first call to
   * see all of its events without a lastEventId.
   */
  onOpen?: (info: { reconnects: number; lastEventId: number | undefined }) => void;
  /** Reconnect (with Last-Event-ID) when the connection drops. Default true. */
  reconnect?: boolean;
  /** The pause before reconnecting; the server's `retry:` (2 s) by default. */
  reconnectDelayMs?: number;
  /** Give up after this many reconnections in a row that brought no event. Default 5. */
  maxReconnects?: number;
}

/** One event of the live stream. */
export interface StreamMessage {
  /** The event's id: pass it as lastEventId to resume after it. 0 for a transient hint
   * outside the event log (task_started), which is not replayed after a reconnection. */
  id: number;
  /** The event's kind (the SSE event type), such as run_succeeded. */
  kind: string;
  data: StreamEvent;
}

/** Calls fetchPage with each cursor in turn and yields every item, until a page has no next cursor. */
export async function* paginate<T, C>(
  fetchPage: (cursor: C | undefined) => Promise<{ items: T[]; next: C | undefined | null }>,
): AsyncGenerator<T> {
  let cursor: C | undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.items;
    if (page.next === undefined || page.next === null || (page.next as unknown) === "") return;
    cursor = page.next;
  }
}

function joinList(v: string | string[] | number | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(",") : String(v);
}

/**
 * A client for Baton's API v2. Every method throws BatonProblemError when
 * the server answers with an error; requests refused with 429 or 503 are
 * retried after the server's Retry-After first. `api` is the typed
 * openapi-fetch client for any other operation.
 */
export class BatonClient {
  /** The typed client over every v2 operation (openapi-fetch: `{ data, error, response }`). */
  readonly api: BatonAPI;
  readonly baseUrl: string;
  readonly #fetch: (input: Request) => Promise<Response>;
  readonly #headers: Record<string, string>;

  constructor(options: BatonClientOptions) {
    if (!options || !options.baseUrl) throw new TypeError("BatonClient: baseUrl is required");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    const base = options.fetch ?? ((req: Request) => globalThis.fetch(req));
    this.#fetch = options.retry === false ? base : retryingFetch(base, options.retry ?? {});
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.apiKey) headers["Authorization"] = `Bearer ${options.apiKey}`;
    if (options.actor) headers["X-Baton-Actor"] = options.actor;
    this.#headers = headers;
    this.api = createClient<paths>({ baseUrl: this.baseUrl, fetch: this.#fetch, headers });
  }

  /** Turns an openapi-fetch result into its data, or throws the problem. */
  async #unwrap<T>(
    result: Promise<{ data?: T; error?: unknown; response: Response }>,
    method: string,
  ): Promise<T> {
    const { data, error, response } = await result;
    if (response.ok) return data as T;
    let problem: Problem;
    if (error && typeof error === "object" && !Array.isArray(error)) problem = error as Problem;
    else problem = typeof error === "string" && error ? { detail: error.slice(0, 500) } : {};
    if (typeof problem.status !== "number") problem = { ...problem, status: response.status };
    if (!problem.title && response.statusText) problem = { ...problem, title: response.statusText };
    throw new BatonProblemError({
      status: response.status,
      problem,
      method,
      url: response.url,
      retryAfterMs: parseRetryAfter(response.headers.get("Retry-After")),
    });
  }

  /** The caller: key name, role, runs started today and the quota. */
  me(opts: CallOptions = {}): Promise<Me> {
    return this.#unwrap(this.api.GET("/v2/me", { signal: opts.signal }), "GET");
  }

  /** Starts a run of a workflow (operator role). With idempotency_key, a repeat returns the first run. */
  startRun(req: StartRunRequest, opts: CallOptions = {}): Promise<Run> {
    return this.#unwrap(this.api.POST("/v2/runs", { body: req, signal: opts.signal }), "POST");
  }

  /** A run with its tasks. */
  getRun(id: number, opts: CallOptions = {}): Promise<Run> {
    return this.#unwrap(this.api.GET("/v2/runs/{id}", { params: { path: { id } }, signal: opts.signal }), "GET");
  }

  /** Cancels a run and its unfinished tasks (operator role). */
  async cancelRun(id: number, opts: CallOptions = {}): Promise<void> {
    await this.#unwrap(this.api.POST("/v2/runs/{id}/cancel", { params: { path: { id } }, signal: opts.signal }), "POST");
  }

  /**
   * Polls a run until it has succeeded, failed or been cancelled, and
   * returns it; polls start every 200 ms and slow down to every 2 s. Throws
   * BatonTimeoutError after timeoutMs.
   */
  async waitForRun(id: number, opts: WaitForRunOptions = {}): Promise<Run> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
    const maxPause = opts.maxPollIntervalMs ?? 2000;
    let pause = opts.pollIntervalMs ?? 200;
    for (;;) {
      const run = await this.getRun(id, opts);
      opts.onUpdate?.(run);
      if (terminalRunStatuses.includes(run.status)) return run;
      const left = deadline - Date.now();
      if (left <= 0) throw new BatonTimeoutError(`run ${id} is still ${run.status} after the timeout`);
      await sleep(Math.min(pause, left), opts.signal);
      pause = Math.min(maxPause, pause * 1.5);
    }
  }

  /** A run's tasks on a timeline, their attempts and the critical path. */
  async getRunGantt(id: number, opts: CallOptions = {}): Promise<Gantt> {
    const gantt = await this.#unwrap(
      this.api.GET("/v2/runs/{id}/gantt", { params: { path: { id }, query: { format: "json" } }, signal: opts.signal }),
      "GET",
    );
    return gantt as Gantt; // format=json: never the CSV string

  }

  /** One page of runs matching the search (GET /v2/runs). */
  searchRuns(params: SearchRunsParams = {}, opts: CallOptions = {}): Promise<RunSearchPage> {
    const query: Record<string, string> = {};
    for (const [name, value] of Object.entries(params)) {
      const v = joinList(value as string | string[] | number | undefined);
      if (v !== undefined && v !== "") query[name] = v;
    }
    // The v2 document does not list GET /v2/runs's parameters (the handler
    // reads the raw query), so they are passed untyped.
    const init = { params: { query }, signal: opts.signal } as unknown as Parameters<BatonAPI["GET"]>[1];
    return this.#unwrap(this.api.GET("/v2/runs", init) as Promise<{ data?: RunSearchPage; error?: unknown; response: Response }>, "GET");
  }

  /** Every run matching the search, page after page (keyset cursor: stable under inserts). */
  iterateRuns(params: Omit<SearchRunsParams, "cursor"> = {}, opts: CallOptions = {}): AsyncGenerator<RunFound> {
    return paginate<RunFound, string>(async (cursor) => {
      const page = await this.searchRuns(cursor ? { ...params, cursor } : params, opts);
      return { items: page.runs ?? [], next: page.next_cursor };
    });
  }

  /** Starts a batch of runs in one transaction (operator role); nothing starts when any member is invalid. */
  startBatch(req: BatchRequest, opts: CallOptions = {}): Promise<Batch> {
    return this.#unwrap(this.api.POST("/v2/batches", { body: req, signal: opts.signal }), "POST");
  }

  /** A batch's progress: members by status, tasks done of total, percent, estimated finish. */
  getBatch(id: number, opts: CallOptions = {}): Promise<Batch> {
    return this.#unwrap(this.api.GET("/v2/batches/{id}", { params: { path: { id } }, signal: opts.signal }), "GET");
  }

  /**
   * Waits until a batch has finished (long polls of progressEveryMs,
   * reporting progress after each) and returns it. Throws
   * BatonTimeoutError after timeoutMs.
   */
  async waitBatch(id: number, opts: WaitBatchOptions = {}): Promise<Batch> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30 * 60_000);
    const every = Math.max(0, Math.min(60, Math.round((opts.progressEveryMs ?? 5000) / 1000)));
    for (;;) {
      const left = deadline - Date.now();
      const timeout = Math.max(0, Math.min(every, Math.floor(left / 1000)));
      const batch = await this.#unwrap(
        this.api.GET("/v2/batches/{id}/wait", { params: { path: { id }, query: { timeout } }, signal: opts.signal }),
        "GET",
      );
      opts.onProgress?.(batch);
      if (batch.status !== "running") return batch;
      if (Date.now() >= deadline) throw new BatonTimeoutError(`batch ${id} is still running after the timeout`);
      if (timeout === 0) await sleep(Math.min(1000, Math.max(0, deadline - Date.now())), opts.signal);
    }
  }

  /** Every member of a batch with its run, in member order. */
  iterateBatchMembers(id: number, opts: CallOptions & { pageSize?: number } = {}): AsyncGenerator<BatchMember> {
    return paginate<BatchMember, number>(async (after) => {
      const page = await this.#unwrap(
        this.api.GET("/v2/batches/{id}/members", {
          params: { path: { id }, query: { after: after ?? -1, limit: opts.pageSize ?? 100 } },
          signal: opts.signal,
        }),
        "GET",
      );
      return { items: page.members ?? [], next: page.next_cursor };
    });
  }

  /** Every dead-letter entry matching the filter, page after page. */
  iterateDeadLetters(
    filter: { workflow?: string; task_type?: string; error_class?: "transient" | "permanent"; limit?: number } = {},
    opts: CallOptions = {},
  ): AsyncGenerator<DeadLetter> {
    return paginate<DeadLetter, string>(async (cursor) => {
      const page = await this.#unwrap(
        this.api.GET("/v2/dead-letters", {
          params: { query: { ...filter, ...(cursor ? { cursor } : {}) } },
          signal: opts.signal,
        }),
        "GET",
      );
      return { items: page.dead_letters ?? [], next: page.next_cursor };
    });
  }

  /** Subscribes a URL to events (admin role). The answer holds the signing secret, shown this once. */
  createWebhook(req: WebhookRequest, opts: CallOptions = {}): Promise<WebhookCreated> {
    return this.#unwrap(this.api.POST("/v2/webhooks", { body: req, signal: opts.signal }), "POST");
  }

  /** Deletes a webhook subscription (admin role). */
  async deleteWebhook(id: number, opts: CallOptions = {}): Promise<void> {
    await this.#unwrap(this.api.DELETE("/v2/webhooks/{id}", { params: { path: { id } }, signal: opts.signal }), "DELETE");
  }

  /**
   * The live event stream (GET /v2/stream, Server-Sent Events) as an async
   * iterator. When the connection drops it reconnects after the server's
   * retry delay, sending Last-Event-ID, and the server replays what was
   * missed: no gap, no duplicate. Break out of the loop, or abort the
   * signal, to close it. Errors answered at connection (401, 403, 422) are
   * thrown as BatonProblemError.
   */
  async *stream(opts: StreamOptions = {}): AsyncGenerator<StreamMessage> {
    const url = new URL(`${this.baseUrl}/v2/stream`);
    if (opts.runId !== undefined) url.searchParams.set("run_id", String(opts.runId));
    if (opts.workflow !== undefined) url.searchParams.set("workflow", opts.workflow);
    for (const kind of opts.kinds ?? []) url.searchParams.append("kind", kind);
    const reconnect = opts.reconnect ?? true;
    const maxReconnects = opts.maxReconnects ?? 5;
    let last = opts.lastEventId;
    let serverRetry = 2000;
    let idle = 0; // reconnections in a row without an event
    let reconnects = 0;

    for (;;) {
      const headers: Record<string, string> = { ...this.#headers, Accept: "text/event-stream" };
      if (last !== undefined) headers["Last-Event-ID"] = String(last);
      let body: ReadableStream<Uint8Array> | null = null;
      try {
        const res = await this.#fetch(new Request(url, { headers, signal: opts.signal ?? null }));
        if (!res.ok) {
          throw await BatonProblemError.fromResponse(res, "GET", parseRetryAfter(res.headers.get("Retry-After")));
        }
        body = res.body;
        opts.onOpen?.({ reconnects, lastEventId: last });
      } catch (err) {
        if (err instanceof BatonProblemError || opts.signal?.aborted || !reconnect) throw err;
      }
      if (body) {
        try {
          for await (const msg of parseSSE(body, (ms) => (serverRetry = ms), last === undefined ? "" : String(last))) {
            const data = JSON.parse(msg.data) as StreamEvent;
            // task_started is a transient hint outside the event log: id 0 and no SSE id of
            // its own (the parser's id is the previous event's), so it moves no resume point.
            const transient = data.id === 0;
            const id = transient ? 0 : msg.id !== "" && /^\d+$/.test(msg.id) ? Number(msg.id) : data.id;
            if (!transient) last = id;
            idle = 0;
            yield { id, kind: msg.event, data };
          }
        } catch (err) {
          // A SyntaxError is a malformed event, not a dropped connection: reconnecting would read it again.
          if (opts.signal?.aborted || !reconnect || err instanceof SyntaxError) throw err;
          // The connection dropped: reconnect below.
        }
      }
      if (!reconnect) return;
      idle++;
      if (idle > maxReconnects) {
        throw new Error(`baton stream: no event after ${maxReconnects} reconnections`);
      }
      await sleep(opts.reconnectDelayMs ?? serverRetry, opts.signal);
      reconnects++;
    }
  }
}
