"""The HTTP client of Baton's API v2 (standard library only)."""

from __future__ import annotations

import datetime
import http.client
import json
import os
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Generator, Iterable, Iterator, Mapping, Sequence

from baton._codec import format_time, parse_retry_after
from baton.errors import (
    BatonError,
    ConnectionFailed,
    ProblemError,
    Unavailable,
    WaitTimeout,
    problem_from_response,
)
from baton.models import (
    Batch,
    BatchMember,
    BatchMemberRun,
    DeadLetter,
    Event,
    Gantt,
    Me,
    Run,
    RunFound,
    RunSearchPage,
    StreamEvent,
    WebhookCreated,
    WebhookDelivery,
)

__version__ = "0.1.0"

#: Run statuses after which a run changes no more.
FINISHED_RUN_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

#: Statuses whose answers the client retries, honouring Retry-After.
RETRY_STATUSES = frozenset({429, 503})

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Query = Mapping[str, Any]


class Client:
    """A client of one Baton server.

    >>> client = Client("http://127.0.0.1:8080", api_key=os.environ.get("BATON_API_KEY"))
    >>> run = client.wait_for_run(client.start_run("hello", {"name": "Ada"}).id)

    ``api_key`` is sent as ``Authorization: Bearer <key>``; without one, ``baton dev``
    treats requests from loopback as an admin's. Answers 429 and 503 are retried up
    to ``retries`` times, waiting what ``Retry-After`` says (or an exponential backoff
    when it says nothing), but never longer than ``max_retry_wait`` seconds: a longer
    wait raises at once. Connection failures are retried for GET only. Errors are
    ProblemError subclasses (Forbidden, ValidationFailed, RateLimited, ...).
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        api_key: str | None = None,
        *,
        retries: int = 3,
        max_retry_wait: float = 60.0,
        timeout: float = 30.0,
        actor: str | None = None,
        user_agent: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self.timeout = timeout
        self.actor = actor
        self.user_agent = user_agent or f"baton-client-python/{__version__}"
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect())

    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        """A client for $BATON_URL (default http://127.0.0.1:8080) with $BATON_API_KEY, if set."""
        return cls(
            os.environ.get("BATON_URL") or "http://127.0.0.1:8080",
            os.environ.get("BATON_API_KEY") or None,
            **kwargs,
        )

    # ------------------------------------------------------------------ transport

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Sends one request (retrying 429 and 503) and returns the decoded JSON answer.

        ``path`` is relative to the base URL (``/v2/runs/42``); ``query`` values may be
        strings, numbers, booleans, datetimes or sequences (joined with commas);
        None values are left out. ``body`` is sent as JSON. A 204 returns None.
        Any operation of the API is reachable this way.
        """
        raw, _ = self._send(method, path, query=query, body=body, headers=headers, timeout=timeout)
        if not raw:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ProblemError(0, "Bad answer", f"the answer is not JSON: {e}",
                               method=method, url=self._url(path, query)) from None

    def paginate(
        self, path: str, items: str, *, cursor_param: str = "cursor", query: Query | None = None
    ) -> Iterator[Any]:
        """Every item of a keyset-paginated list, page after page (fetched lazily).

        ``items`` names the array in each page (``runs``, ``dead_letters`` ...); the
        page's ``next_cursor`` is sent back as ``cursor_param`` (``cursor``, or
        ``after``/``before`` where the operation says so) until a page has none.
        Items are the decoded JSON objects: pass them to a model's ``from_dict``.
        """
        params = dict(query or {})
        seen: set[str] = set()
        while True:
            page = self.request("GET", path, query=params)
            batch = page.get(items) or []
            yield from batch
            cursor = page.get("next_cursor")
            if cursor in (None, "", 0) or not batch:
                return
            if str(cursor) in seen:  # a server bug must not become an endless loop
                raise ProblemError(0, "Bad answer", f"{path} returned the cursor {cursor!r} twice")
            seen.add(str(cursor))
            params[cursor_param] = cursor

    def _url(self, path: str, query: Query | None = None) -> str:
        if not path.startswith("/"):
            path = "/" + path
        url = self.base_url + path
        pairs = _query_pairs(query)
        if pairs:
            url += "?" + urllib.parse.urlencode(pairs)
        return url

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        h = {"Accept": "application/json, application/problem+json", "User-Agent": self.user_agent}
        if self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        if self.actor:
            h["X-Baton-Actor"] = self.actor
        if extra:
            h.update(extra)
        return h

    def _open(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> http.client.HTTPResponse:
        """Opens a request, retrying 429/503 (and, for GET, connection failures);
        returns the open 2xx response or raises the answer's ProblemError."""
        url = self._url(path, query)
        data = None
        all_headers = self._headers(headers)
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            req = urllib.request.Request(url, data=data, headers=all_headers, method=method)
            try:
                resp = self._opener.open(req, timeout=timeout or self.timeout)
                return resp  # type: ignore[no-any-return]
            except urllib.error.HTTPError as e:
                with e:
                    raw = e.read()
                err = problem_from_response(e.code, _plain_headers(e.headers), raw, method, url)
                wait = self._retry_wait(e.code, err.headers.get("Retry-After"), attempt)
                if wait is None:
                    raise err from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
                if method.upper() not in _SAFE_METHODS or attempt >= self.retries:
                    reason = getattr(e, "reason", e)
                    raise ConnectionFailed(f"{method} {url}: {reason}") from e
                wait = _backoff(attempt)
            self._sleep(wait)
            attempt += 1

    def _retry_wait(self, status: int, retry_after: str | None, attempt: int) -> float | None:
        """How long to wait before retrying an error answer; None: do not retry."""
        if status not in RETRY_STATUSES or attempt >= self.retries:
            return None
        wait = parse_retry_after(retry_after)
        if wait is None:
            wait = _backoff(attempt)
        if wait > self.max_retry_wait:
            return None
        return wait

    def _send(self, method: str, path: str, **kwargs: Any) -> tuple[bytes, int]:
        with self._open(method, path, **kwargs) as resp:
            try:
                return resp.read(), resp.status
            except (OSError, http.client.HTTPException) as e:
                raise ConnectionFailed(f"{method} {path}: reading the answer: {e}") from e

    # ------------------------------------------------------------------ runs

    def start_run(
        self,
        workflow: str,
        input: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        priority: int | None = None,
        tags: Sequence[str] | None = None,
        owner: str | None = None,
        version: int | None = None,
    ) -> Run:
        """Starts a run of a workflow (the latest version unless ``version`` is given).

        With an ``idempotency_key``, starting again with the same key returns the
        first run instead of a second one, so the call is safe to repeat.
        """
        body: dict[str, Any] = {"workflow": workflow, "input": dict(input or {})}
        for name, value in (("idempotency_key", idempotency_key), ("priority", priority),
                            ("owner", owner), ("version", version)):
            if value is not None:
                body[name] = value
        if tags is not None:
            body["tags"] = list(tags)
        return Run.from_dict(self.request("POST", "/v2/runs", body=body))

    def get_run(self, run_id: int) -> Run:
        """A run with its tasks."""
        return Run.from_dict(self.request("GET", f"/v2/runs/{_id(run_id)}"))

    def wait_for_run(
        self,
        run_id: int,
        timeout: float = 300.0,
        *,
        poll_interval: float = 1.0,
        on_progress: Callable[[Run], None] | None = None,
    ) -> Run:
        """Waits until a run has finished (succeeded, failed or cancelled) and returns it.

        Polls, first quickly (0.05 s) then every ``poll_interval`` seconds at most;
        ``on_progress`` sees every state read. Raises WaitTimeout (with ``last``, the
        run as last read) when ``timeout`` seconds pass first. A failed run is
        returned, not raised: check ``run.status``.
        """
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            run = self.get_run(run_id)
            if on_progress is not None:
                on_progress(run)
            if run.status in FINISHED_RUN_STATUSES:
                return run
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(f"run {run_id} still {run.status} after {timeout:g} s", run)
            self._sleep(min(delay, left))
            delay = min(delay * 2, poll_interval)

    def cancel_run(self, run_id: int) -> Run:
        """Cancels a run's unfinished tasks."""
        return Run.from_dict(self.request("POST", f"/v2/runs/{_id(run_id)}/cancel"))

    def get_run_gantt(self, run_id: int) -> Gantt:
        """A run's Gantt data: every task's queued/started/finished times and attempts,
        and the critical path."""
        return Gantt.from_dict(self.request("GET", f"/v2/runs/{_id(run_id)}/gantt"))

    def list_run_events(self, run_id: int) -> list[Event]:
        """A run's event log, oldest first."""
        body = self.request("GET", f"/v2/runs/{_id(run_id)}/events")
        return [Event.from_dict(e) for e in body.get("events") or []]

    # ------------------------------------------------------------------ search

    def search_runs_page(self, cursor: str | None = None, **params: Any) -> RunSearchPage:
        """One page of ``GET /v2/runs`` (see :meth:`search_runs` for the parameters)."""
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        return RunSearchPage.from_dict(self.request("GET", "/v2/runs", query=query))

    def search_runs_pages(self, **params: Any) -> Iterator[RunSearchPage]:
        """Every page of a search, following ``next_cursor`` (keyset: stable under inserts)."""
        cursor: str | None = None
        while True:
            page = self.search_runs_page(cursor, **params)
            yield page
            cursor = page.next_cursor
            if not cursor or not page.runs:
                return

    def search_runs(self, **params: Any) -> Iterator[RunFound]:
        """Every run matching a search, page after page (fetched lazily).

        Parameters are those of ``GET /v2/runs``: ``workflow``, ``status`` (a string or
        a list), ``owner``, ``trigger``, ``priority``, ``tags_all``, ``tags_any``,
        ``created_from``/``_to`` (datetimes or RFC 3339), ``started_*``, ``finished_*``,
        ``min_duration_ms``, ``max_duration_ms``, ``batch``, ``step``, ``step_status``,
        ``q`` (full text, websearch syntax: results carry ``highlight``), ``sort``
        (created, finished, duration) and ``limit`` (the page size, 1 to 500).
        Use ``itertools.islice`` to stop early.
        """
        for page in self.search_runs_pages(**params):
            yield from page.runs

    list_runs = search_runs

    # ------------------------------------------------------------------ batches

    def start_batch(
        self,
        members: Iterable[BatchMember | Mapping[str, Any]],
        *,
        name: str | None = None,
        on_member_failure: str | None = None,
    ) -> Batch:
        """Starts 1 to 10,000 runs in one transaction: all start or none does (a 422
        lists every bad member). Members are BatchMember objects or dicts with
        ``workflow``, ``input``, ``idempotency_key``, ``priority``, ``version``,
        ``owner``, ``tags``. ``on_member_failure``: ``continue`` or ``rollback``."""
        body: dict[str, Any] = {
            "members": [m.to_dict() if isinstance(m, BatchMember) else dict(m) for m in members]
        }
        if name is not None:
            body["name"] = name
        if on_member_failure is not None:
            body["on_member_failure"] = on_member_failure
        return Batch.from_dict(self.request("POST", "/v2/batches", body=body))

    def get_batch(self, batch_id: int) -> Batch:
        """A batch's progress: members by status, tasks done of total, percent, estimated finish."""
        return Batch.from_dict(self.request("GET", f"/v2/batches/{_id(batch_id)}"))

    def wait_batch(
        self,
        batch_id: int,
        timeout: float = 600.0,
        *,
        on_progress: Callable[[Batch], None] | None = None,
        progress_interval: int = 1,
    ) -> Batch:
        """Waits until a batch has finished and returns it.

        Uses the server's long poll (``/wait``, at most 60 s a call). With
        ``on_progress``, each call waits ``progress_interval`` seconds at most and the
        callback sees the batch after each. Raises WaitTimeout after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            step = min(60, max(0, int(left)))
            if on_progress is not None:
                step = min(step, max(1, progress_interval))
            batch = Batch.from_dict(self.request(
                "GET", f"/v2/batches/{_id(batch_id)}/wait", query={"timeout": step},
                timeout=max(self.timeout, step + 30)))
            if on_progress is not None:
                on_progress(batch)
            if batch.status != "running":
                return batch
            if deadline - time.monotonic() <= 0:
                raise WaitTimeout(f"batch {batch_id} still running after {timeout:g} s", batch)

    def list_batch_members(self, batch_id: int, *, page_size: int = 100) -> Iterator[BatchMemberRun]:
        """Every member of a batch with its run, in member order (fetched lazily)."""
        for m in self.paginate(f"/v2/batches/{_id(batch_id)}/members", "members",
                               cursor_param="after", query={"limit": page_size}):
            yield BatchMemberRun.from_dict(m)

    def cancel_batch(self, batch_id: int) -> Batch:
        """Cancels every unfinished member of a batch."""
        return Batch.from_dict(self.request("POST", f"/v2/batches/{_id(batch_id)}/cancel"))

    # ------------------------------------------------------------------ webhooks and identity

    def create_webhook(
        self,
        url: str,
        event_types: Sequence[str] | None = None,
        *,
        workflows: Sequence[str] | None = None,
        owners: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        description: str | None = None,
    ) -> WebhookCreated:
        """Subscribes a URL to events; the answer's ``secret`` (``whsec_...``) is shown only once."""
        body: dict[str, Any] = {"url": url}
        for name, value in (("event_types", event_types), ("workflows", workflows),
                            ("owners", owners), ("tags", tags)):
            if value is not None:
                body[name] = list(value)
        if description is not None:
            body["description"] = description
        return WebhookCreated.from_dict(self.request("POST", "/v2/webhooks", body=body))

    def delete_webhook(self, webhook_id: int) -> None:
        """Removes a subscription."""
        self.request("DELETE", f"/v2/webhooks/{_id(webhook_id)}")

    def list_webhook_deliveries(self, webhook_id: int, *, page_size: int = 50) -> Iterator[WebhookDelivery]:
        """A subscription's deliveries with their attempts, newest first (fetched lazily)."""
        for d in self.paginate(f"/v2/webhooks/{_id(webhook_id)}/deliveries", "deliveries",
                               cursor_param="before", query={"limit": page_size}):
            yield WebhookDelivery.from_dict(d)

    # ------------------------------------------------------------------ dead letters

    def list_dead_letters(
        self,
        *,
        workflow: str | None = None,
        task_type: str | None = None,
        error_class: str | None = None,
        since: datetime.datetime | str | None = None,
        until: datetime.datetime | str | None = None,
        page_size: int = 100,
    ) -> Iterator[DeadLetter]:
        """Every dead task waiting for an operator, filtered (fetched lazily)."""
        query = {"workflow": workflow, "task_type": task_type, "error_class": error_class,
                 "since": since, "until": until, "limit": page_size}
        for d in self.paginate("/v2/dead-letters", "dead_letters", query=query):
            yield DeadLetter.from_dict(d)

    def me(self) -> Me:
        """Who the server takes the caller for (key name, role, limits)."""
        return Me.from_dict(self.request("GET", "/v2/me"))

    # ------------------------------------------------------------------ stream

    def stream(
        self,
        *,
        run_id: int | None = None,
        workflow: str | None = None,
        kinds: Sequence[str] | None = None,
        last_event_id: int | None = None,
        reconnect: bool = True,
        reconnect_delay: float | None = None,
        max_reconnects: int | None = None,
        read_timeout: float = 45.0,
    ) -> EventStream:
        """The live event stream (``GET /v2/stream``, Server-Sent Events) as an iterator
        of StreamEvent.

        Filter by ``run_id``, ``workflow`` and ``kinds``. ``last_event_id`` resumes after
        that event: the server replays what came after it from the database, then
        sends live events, with no gap and no duplicate. When the connection drops
        (or nothing, not even a heartbeat, arrives for ``read_timeout`` seconds),
        the stream reconnects by itself with ``Last-Event-ID`` after the server's
        ``retry:`` delay (or ``reconnect_delay``), up to ``max_reconnects`` times in a
        row (unbounded when None). Use it as a context manager or call ``close()``.
        """
        return EventStream(self, run_id=run_id, workflow=workflow, kinds=kinds,
                           last_event_id=last_event_id, reconnect=reconnect,
                           reconnect_delay=reconnect_delay, max_reconnects=max_reconnects,
                           read_timeout=read_timeout)


class EventStream:
    """An iterator over the live event stream that resumes after a disconnect.

    ``last_event_id`` is the id of the last event yielded; ``reconnects`` counts the
    reconnections so far. ``disconnect()`` drops the current connection (the next
    read reconnects, as after a network failure); ``close()`` ends the stream.
    """

    def __init__(
        self,
        client: Client,
        *,
        run_id: int | None,
        workflow: str | None,
        kinds: Sequence[str] | None,
        last_event_id: int | None,
        reconnect: bool,
        reconnect_delay: float | None,
        max_reconnects: int | None,
        read_timeout: float,
    ) -> None:
        self._client = client
        self._query: dict[str, Any] = {"run_id": run_id, "workflow": workflow,
                                       "kind": ",".join(kinds) if kinds else None}
        self.last_event_id = last_event_id
        self.reconnects = 0
        self._reconnect = reconnect
        self._reconnect_delay = reconnect_delay
        self._server_retry = 2.0
        self._max_reconnects = max_reconnects
        self._read_timeout = read_timeout
        self._resp: http.client.HTTPResponse | None = None
        self._closed = False
        self._failures = 0
        self._events: Generator[StreamEvent, None, None] = self._run()

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> StreamEvent:
        return next(self._events)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def disconnect(self) -> None:
        """Drops the current connection; iteration goes on after a reconnect."""
        resp, self._resp = self._resp, None
        if resp is not None:
            _close_quietly(resp)

    def close(self) -> None:
        """Ends the stream for good."""
        self._closed = True
        self.disconnect()
        self._events.close()

    def _connect(self) -> http.client.HTTPResponse:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_event_id:
            headers["Last-Event-ID"] = str(self.last_event_id)
        return self._client._open("GET", "/v2/stream", query=self._query, headers=headers,
                                  timeout=self._read_timeout)

    def _run(self) -> Generator[StreamEvent, None, None]:
        while not self._closed:
            try:
                self._resp = self._connect()
            except (ConnectionFailed, Unavailable):
                if not self._may_reconnect():
                    raise
                self._wait_before_reconnect()
                continue
            resp = self._resp
            try:
                for event in self._read(resp):
                    self._failures = 0
                    yield event
                    if self._resp is not resp:  # disconnect() while the caller held the event
                        break
            except (OSError, ValueError, AttributeError, http.client.HTTPException):
                pass  # the connection dropped or was dropped: reconnect below
            finally:
                _close_quietly(resp)
                if self._resp is resp:
                    self._resp = None
            if self._closed:
                return
            if not self._may_reconnect():
                raise ConnectionFailed(f"the event stream ended (last event {self.last_event_id})")
            self._wait_before_reconnect()

    def _may_reconnect(self) -> bool:
        if not self._reconnect:
            return False
        self._failures += 1
        return self._max_reconnects is None or self._failures <= self._max_reconnects

    def _wait_before_reconnect(self) -> None:
        self.reconnects += 1
        delay = self._reconnect_delay if self._reconnect_delay is not None else self._server_retry
        self._client._sleep(delay)

    def _read(self, resp: http.client.HTTPResponse) -> Iterator[StreamEvent]:
        """Parses the SSE wire format (WHATWG): events end at a blank line."""
        data: list[str] = []
        event_id: str | None = None
        while True:
            raw = resp.readline()
            if not raw:
                return  # the server closed the stream
            line = raw.decode("utf-8").rstrip("\r\n")
            if line == "":
                if data:
                    try:
                        ev = StreamEvent.from_dict(json.loads("\n".join(data)))
                    except (ValueError, TypeError, AttributeError) as e:
                        # Not a dropped connection: reconnecting would read it again.
                        raise BatonError(f"the stream sent an event that is not a StreamEvent: {e}") from None
                    if event_id is not None and event_id.isdigit():
                        self.last_event_id = int(event_id)
                    elif ev.id:
                        self.last_event_id = ev.id
                    # else: a transient hint (task_started, id 0) outside the
                    # event log: a reconnection resumes after the event before.
                    yield ev
                data, event_id = [], None
                continue
            if line.startswith(":"):
                continue  # a comment: the heartbeat
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
            elif name == "retry" and value.isdigit():
                self._server_retry = int(value) / 1000


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuses redirects: the API does not redirect, and following one would resend the key."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter: about 0.5, 1, 2, 4 ... s, at most 30 s."""
    return min(30.0, 0.5 * 2.0**attempt) * (0.75 + random.random() / 2)


def _id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an id must be an int, got {type(value).__name__}")
    return value


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return format_time(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_query_value(v) for v in value)
    return str(value)


def _query_pairs(query: Query | None) -> list[tuple[str, str]]:
    if not query:
        return []
    return [(k, _query_value(v)) for k, v in query.items() if v is not None]


def _plain_headers(headers: Any) -> dict[str, str]:
    """Headers as a dict with canonical names (Retry-After, Content-Type ...)."""
    out: dict[str, str] = {}
    if headers is None:
        return out
    for k, v in headers.items():
        out["-".join(p.capitalize() for p in k.split("-"))] = v
    return out


def _close_quietly(resp: Any) -> None:
    try:
        # Shut the socket down first so a read blocked in another thread returns.
        sock = getattr(getattr(resp, "fp", None), "raw", None)
        sock = getattr(sock, "_sock", None)
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        resp.close()
    except Exception:  # noqa: BLE001 - closing must not raise
        pass
