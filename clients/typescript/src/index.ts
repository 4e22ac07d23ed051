/**
 * @baton-run/client: a TypeScript client for Baton's API v2.
 *
 * @example
 * const baton = new BatonClient({ baseUrl: "http://127.0.0.1:8080" });
 * const run = await baton.startRun({ workflow: "hello", input: { name: "Ada" } });
 * console.log((await baton.waitForRun(run.id)).status);
 */
export {
  BatonClient,
  paginate,
  terminalRunStatuses,
  type BatonAPI,
  type BatonClientOptions,
  type Batch,
  type BatchMember,
  type BatchRequest,
  type CallOptions,
  type DeadLetter,
  type Gantt,
  type Me,
  type Run,
  type RunFound,
  type RunSearchPage,
  type RunStatus,
  type SearchRunsParams,
  type StartRunRequest,
  type StreamEvent,
  type StreamMessage,
  type StreamOptions,
  type WaitBatchOptions,
  type WaitForRunOptions,
  type WebhookCreated,
  type WebhookEvent,
  type WebhookRequest,
} from "./client.js";
export { BatonProblemError, BatonTimeoutError, WebhookVerificationError, type Problem, type ProblemDetail } from "./errors.js";
export { parseRetryAfter, retryingFetch, type RetryInfo, type RetryOptions } from "./retry.js";
export { parseSSE, type SSEMessage } from "./sse.js";
export { verifyWebhook, type VerifyWebhookOptions, type WebhookHeaders } from "./webhook.js";
export type { components, operations, paths } from "./schema.js";
