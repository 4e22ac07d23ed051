"""The errors the client raises."""

from __future__ import annotations

from typing import Any, Mapping

from baton._codec import parse_retry_after
from baton.models import ErrorDetail


class BatonError(Exception):
    """The base of every error this package raises."""


class ConnectionFailed(BatonError):
    """The server could not be reached (after the retries, for safe requests)."""


class WaitTimeout(BatonError, TimeoutError):
    """A wait ended before the run or batch finished; ``last`` is its latest state."""

    def __init__(self, message: str, last: Any = None) -> None:
        super().__init__(message)
        self.last = last


class WebhookVerificationError(BatonError):
    """A webhook delivery's signature or timestamp did not verify."""


class ProblemError(BatonError):
    """An error answer of the API: an RFC 9457 problem (``application/problem+json``).

    ``status``, ``title`` and ``detail`` come from the body (the status from the
    HTTP answer when the body has none); ``errors`` lists the individual problems,
    each with the ``location`` of the bad input (``body.members[2].workflow``) and
    a ``message``. ``body`` is the decoded body (or its text when it is not JSON).
    """

    def __init__(
        self,
        status: int,
        title: str = "",
        detail: str = "",
        errors: list[ErrorDetail] | None = None,
        *,
        type: str = "about:blank",
        instance: str = "",
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        method: str = "",
        url: str = "",
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.type = type
        self.instance = instance
        self.headers: Mapping[str, str] = headers or {}
        self.body = body
        self.method = method
        self.url = url
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.status} {self.title}".strip()
        if self.detail:
            text += f": {self.detail}"
        for e in self.errors:
            where = f" ({e.location})" if e.location else ""
            text += f"; {e.message or ''}{where}"
        if self.method:
            text += f" [{self.method} {self.url}]"
        return text


class BadRequest(ProblemError):
    """400: the request could not be read."""


class Unauthorized(ProblemError):
    """401: no key, or a key that is unknown, revoked or expired."""


class Forbidden(ProblemError):
    """403: the key's role does not allow the operation."""


class NotFound(ProblemError):
    """404: no such resource."""


class Conflict(ProblemError):
    """409: the request conflicts with the resource's state."""


class ValidationFailed(ProblemError):
    """422: the input broke a rule; ``errors`` names each bad field."""


class RateLimited(ProblemError):
    """429: the key's rate limit or quota is used up (after the client's retries)."""

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait, when it said."""
        return parse_retry_after(self.headers.get("Retry-After"))


class Unavailable(ProblemError):
    """503: the server cannot serve the request now (after the client's retries)."""


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: ValidationFailed,
    429: RateLimited,
    503: Unavailable,
}


def problem_from_response(
    status: int, headers: Mapping[str, str], raw: bytes, method: str, url: str
) -> ProblemError:
    """The typed error for an error answer, from its RFC 9457 body when it has one."""
    import json

    body: Any
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        body = raw.decode("utf-8", "replace")
    cls = _BY_STATUS.get(status, ProblemError)
    if not isinstance(body, dict):
        return cls(status, title=_reason(status), detail=body if isinstance(body, str) else "",
                   headers=headers, body=body, method=method, url=url)
    errors = []
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            errors.append(ErrorDetail.from_dict(item))
    return cls(
        status,
        title=str(body.get("title") or _reason(status)),
        detail=str(body.get("detail") or ""),
        errors=errors,
        type=str(body.get("type") or "about:blank"),
        instance=str(body.get("instance") or ""),
        headers=headers,
        body=body,
        method=method,
        url=url,
    )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
