"""Baton's Python client: standard library only.

    from baton import Client
    client = Client("http://127.0.0.1:8080")            # or Client(url, api_key="baton_...")
    run = client.wait_for_run(client.start_run("hello", {"name": "Ada"}).id)
    print(run.status)

The typed models of the API are in ``baton.models`` (generated from the v2
OpenAPI document); errors in ``baton.errors``; webhook verification in
``baton.webhooks``.
"""

from baton.client import FINISHED_RUN_STATUSES, Client, EventStream, __version__
from baton.errors import (
    BadRequest,
    BatonError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    ProblemError,
    RateLimited,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    WaitTimeout,
    WebhookVerificationError,
)
from baton.webhooks import sign_webhook, verify_webhook

__all__ = [
    "FINISHED_RUN_STATUSES",
    "BadRequest",
    "BatonError",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "EventStream",
    "Forbidden",
    "NotFound",
    "ProblemError",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "WaitTimeout",
    "WebhookVerificationError",
    "__version__",
    "sign_webhook",
    "verify_webhook",
]
