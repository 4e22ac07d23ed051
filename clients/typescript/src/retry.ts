/** How the client retries refused requests. */
export interface RetryOptions {
  /** Retries after the first attempt; 0 turns retrying off. Default 3. */
  maxRetries?: number;
  /** The statuses retried. Default [429, 503]: the server did not act on the request. */
  statuses?: number[];
  /**
   * The longest single wait. When the server's Retry-After asks for more,
   * the client does not wait: the error is returned at once. Default 60 s.
   */
  maxDelayMs?: number;
  /** The first wait when the server sends no Retry-After, doubled each time (with jitter). Default 500 ms. */
  baseDelayMs?: number;
  /** Called before each wait, for logging or tests. */
  onRetry?: (info: RetryInfo) => void;
}

/** What onRetry is told. */
export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  status: number;
  /** How long the client waits before the next attempt. */
  delayMs: number;
  /** The delay the server's Retry-After asked for, if it sent one. */
  retryAfterMs: number | undefined;
  method: string;
  url: string;
}

export const defaultRetry: Required<Omit<RetryOptions, "onRetry">> = {
  maxRetries: 3,
  statuses: [429, 503],
  maxDelayMs: 60_000,
  baseDelayMs: 500,
};

/**
 * Parses a Retry-After header (RFC 9110: delay-seconds or an HTTP date)
 * into milliseconds from now; undefined when absent or malformed.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (v === "") return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP date names its day and month ("Sun, 06 Nov 1994 08:49:37 GMT"):
  // without letters, Date.parse would read "-3" as a year.
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Waits ms milliseconds, or rejects when signal aborts. */
export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Wraps fetch so that a request answered with a retryable status is sent
 * again after the server's Retry-After (or an exponential backoff), at most
 * maxRetries times and never waiting longer than maxDelayMs at once. The
 * last answer is returned as it is, so callers see the final error.
 */
export function retryingFetch(
  fetchFn: (input: Request) => Promise<Response>,
  options: RetryOptions = {},
): (input: Request) => Promise<Response> {
  const opts = { ...defaultRetry, ...options };
  return async (request: Request) => {
    // A Request's body can be read once: keep a pristine copy for retries.
    const pristine = opts.maxRetries > 0 ? request.clone() : request;
    let attempt = 0;
    let current = request;
    for (;;) {
      const res = await fetchFn(current);
      if (attempt >= opts.maxRetries || !opts.statuses.includes(res.status)) return res;
      const retryAfterMs = parseRetryAfter(res.headers.get("Retry-After"));
      let delayMs: number;
      if (retryAfterMs !== undefined) {
        delayMs = retryAfterMs;
      } else {
        const backoff = opts.baseDelayMs * 2 ** attempt;
        delayMs = backoff / 2 + Math.random() * (backoff / 2);
      }
      if (delayMs > opts.maxDelayMs) return res;
      attempt++;
      opts.onRetry?.({ attempt, status: res.status, delayMs, retryAfterMs, method: request.method, url: request.url });
      await res.body?.cancel().catch(() => undefined);
      await sleep(delayMs, request.signal);
      current = pristine.clone();
    }
  };
}
