/** One entry of a problem's `errors` list: where the input was wrong and why. */
export interface ProblemDetail {
  /** Where the error is, such as `body.members[2].workflow` or `query.limit`. */
  location?: string;
  message?: string;
  value?: unknown;
}

/** The fields of an RFC 9457 problem body (`application/problem+json`). */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  errors?: ProblemDetail[] | null;
  [extension: string]: unknown;
}

/**
 * An error answer from Baton (any 4xx or 5xx). Baton answers errors with an
 * RFC 9457 problem: its fields are copied here; `problem` keeps the whole
 * body. An answer that is not a problem (a proxy's HTML page) still gives
 * status and title.
 */
export class BatonProblemError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The problem type URI, `about:blank` when the server gave none. */
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly instance: string | undefined;
  /** What was wrong with each bad input field; empty when not a validation error. */
  readonly errors: ProblemDetail[];
  /** The whole problem body as sent. */
  readonly problem: Problem;
  /** The request's method and URL, for messages and logs. */
  readonly method: string;
  readonly url: string;
  /** The server's Retry-After in milliseconds (429 and 503), if it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(init: {
    status: number;
    problem: Problem;
    method: string;
    url: string;
    retryAfterMs?: number | undefined;
  }) {
    const { status, problem } = init;
    const title = problem.title ?? `HTTP ${status}`;
    super(`${init.method} ${init.url}: ${status} ${title}${problem.detail ? `: ${problem.detail}` : ""}`);
    this.name = "BatonProblemError";
    this.status = status;
    this.type = problem.type ?? "about:blank";
    this.title = title;
    this.detail = problem.detail;
    this.instance = problem.instance;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
    this.method = init.method;
    this.url = init.url;
    this.retryAfterMs = init.retryAfterMs;
  }

  /**
   * Reads an error response into a BatonProblemError. The body is consumed.
   */
  static async fromResponse(res: Response, method: string, retryAfterMs?: number): Promise<BatonProblemError> {
    let problem: Problem = {};
    const text = await res.text().catch(() => "");
    if (text) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
          problem = parsed as Problem;
        } else {
          problem = { detail: text.slice(0, 500) };
        }
      } catch {
        problem = { detail: text.slice(0, 500) };
      }
    }
    if (typeof problem.status !== "number") problem = { ...problem, status: res.status };
    if (!problem.title && res.statusText) problem = { ...problem, title: res.statusText };
    return new BatonProblemError({ status: res.status, problem, method, url: res.url, retryAfterMs });
  }
}

/** Thrown by the wait helpers when their timeout passes first. */
export class BatonTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BatonTimeoutError";
  }
}

/** Thrown by verifyWebhook when a delivery is not authentic or too old. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}
