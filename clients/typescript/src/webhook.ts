import { WebhookVerificationError } from "./errors.js";

/** Headers as fetch's Headers or Node's IncomingHttpHeaders (names any case). */
export type WebhookHeaders =
  | Headers
  | Record<string, string | string[] | undefined>;

/** Options of verifyWebhook. */
export interface VerifyWebhookOptions {
  /** How far webhook-timestamp may be from now, either way. Default 300 s (Standard Webhooks). */
  toleranceSeconds?: number;
  /** The current time in ms (for tests). */
  now?: number;
}

const encoder = new TextEncoder();

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  for (const key of Object.keys(record)) {
    if (key.toLowerCase() === name) {
      const v = record[key];
      return Array.isArray(v) ? v.join(" ") : v;
    }
  }
  return undefined;
}

function fromBase64(s: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

/** Compares two byte strings in time independent of where they differ. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Checks a webhook delivery from Baton by the Standard Webhooks algorithm
 * and returns its parsed body. The signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`; `webhook-signature` holds
 * space-separated `v1,<base64 HMAC-SHA256>` entries (several while a secret
 * rotation overlaps) and one must match. The secret is the `whsec_<base64>`
 * string Baton returned when the subscription was created.
 *
 * Pass the body exactly as received (the raw bytes or text, not re-serialized
 * JSON). Throws WebhookVerificationError when a header is missing, the
 * timestamp is more than toleranceSeconds away from now, or no signature
 * matches. Uses WebCrypto, so it runs on Node 20+ and in browsers.
 */
export async function verifyWebhook<T = unknown>(
  secret: string,
  headers: WebhookHeaders,
  body: string | Uint8Array | ArrayBuffer,
  options: VerifyWebhookOptions = {},
): Promise<T> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (!/^\d+$/.test(timestamp)) {
    throw new WebhookVerificationError("webhook-timestamp is not a number of seconds");
  }
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const ts = Number(timestamp);
  if (ts < now - tolerance) throw new WebhookVerificationError("webhook-timestamp is too old");
  if (ts > now + tolerance) throw new WebhookVerificationError("webhook-timestamp is too far in the future");

  const key = fromBase64(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
  if (!key || key.length === 0) throw new WebhookVerificationError("the secret is not whsec_<base64>");

  const bytes =
    typeof body === "string" ? encoder.encode(body) : body instanceof Uint8Array ? body : new Uint8Array(body);
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + bytes.length);
  signed.set(prefix, 0);
  signed.set(bytes, prefix.length);

  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const expected = new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, signed));

  let matched = false;
  for (const entry of signatures.split(" ")) {
    const [version, sig] = entry.split(",", 2);
    if (version !== "v1" || !sig) continue;
    const given = fromBase64(sig);
    if (given && equalBytes(given, expected)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError("no signature matches");

  const text = typeof body === "string" ? body : new TextDecoder().decode(bytes);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WebhookVerificationError("the body is not JSON");
  }
}
