"""Verification of webhook deliveries per the Standard Webhooks specification."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Mapping

from baton.errors import WebhookVerificationError
from baton.models import WebhookEvent

#: How far a delivery's timestamp may be from now, in seconds (5 minutes).
DEFAULT_TOLERANCE = 300


def verify_webhook(
    secret: str | bytes,
    headers: Mapping[str, str] | Any,
    body: bytes | str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> WebhookEvent:
    """Verifies a delivery from Baton and returns its decoded event.

    ``secret`` is the subscription's ``whsec_...`` secret; ``headers`` the request's
    headers (any mapping, case-insensitive names, or an ``http.client.HTTPMessage``);
    ``body`` the raw body exactly as received. The signature is
    ``base64(HMAC-SHA256(key, webhook-id + "." + webhook-timestamp + "." + body))``,
    and ``webhook-signature`` may carry several space-separated ``v1,<signature>``
    entries (during a secret rotation): one matching entry is enough. Timestamps
    more than ``tolerance`` seconds from ``now`` are refused, against replays.

    Raises WebhookVerificationError when anything does not verify.
    """
    key = _secret_key(secret)
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        sent = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number of seconds") from None
    current = time.time() if now is None else now
    if sent < current - tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old")
    if sent > current + tolerance:
        raise WebhookVerificationError("webhook-timestamp is in the future")

    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    signed = msg_id.encode("utf-8") + b"." + stamp.encode("utf-8") + b"." + raw
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    matched = False
    for entry in signatures.split():
        version, _, sig = entry.partition(",")
        if version != "v1":
            continue
        # Check every entry, without stopping at the first match.
        if hmac.compare_digest(expected, sig.encode("utf-8")):
            matched = True
    if not matched:
        raise WebhookVerificationError("no webhook-signature entry matches the body")
    try:
        payload = json.loads(raw.decode("utf-8"))
        return WebhookEvent.from_dict(payload)
    except (UnicodeDecodeError, ValueError, TypeError, AttributeError) as e:
        raise WebhookVerificationError(f"the signed body is not a webhook event: {e}") from None


def sign_webhook(secret: str | bytes, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``webhook-signature`` value Baton would send (for tests of a receiver)."""
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    signed = f"{msg_id}.{timestamp}.".encode("utf-8") + raw
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _secret_key(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        secret = secret.decode("utf-8")
    text = secret.strip()
    if text.startswith("whsec_"):
        text = text[len("whsec_"):]
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the secret is not whsec_ followed by base64") from None
    if not key:
        raise WebhookVerificationError("the secret is empty")
    return key


def _header(headers: Any, name: str) -> str:
    value = None
    if hasattr(headers, "get"):
        value = headers.get(name)
        if value is None:
            lower = name.lower()
            for k in headers.keys():
                if k.lower() == lower:
                    value = headers[k]
                    break
    if value is None or value == "":
        raise WebhookVerificationError(f"the {name} header is missing")
    if isinstance(value, (list, tuple)):
        value = value[0]
    return str(value)
