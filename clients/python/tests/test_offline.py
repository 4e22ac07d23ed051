"""Tests that need no baton: timestamps, webhook signatures, retries against a stub, the generator."""

from __future__ import annotations

import base64
import datetime
import http.server
import importlib.util
import itertools
import json
import threading
import time
import unittest
from pathlib import Path
from typing import Any

from baton import (
    Client,
    ConnectionFailed,
    Forbidden,
    ProblemError,
    RateLimited,
    Unavailable,
    ValidationFailed,
    WebhookVerificationError,
    sign_webhook,
    verify_webhook,
)
from baton._codec import format_time, parse_retry_after, parse_time
from baton.models import Run, StartRunRequest

ROOT = Path(__file__).resolve().parent.parent
UTC = datetime.timezone.utc


class CodecTest(unittest.TestCase):
    def test_parse_time(self) -> None:
        self.assertEqual(parse_time("2026-12-02T00:35:45Z"), datetime.datetime(2026, 12, 2, 0, 35, 45, tzinfo=UTC))
        t = parse_time("2026-12-02T00:35:45.123456789Z")  # Go's nanoseconds
        self.assertEqual(t.microsecond, 123456)
        t = parse_time("2026-12-02T01:35:45.5+01:00")
        self.assertEqual(t.astimezone(UTC), datetime.datetime(2026, 12, 2, 0, 35, 45, 500000, tzinfo=UTC))
        with self.assertRaises(ValueError):
            parse_time("yesterday")

    def test_format_time(self) -> None:
        self.assertEqual(format_time(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)), "2026-01-02T03:04:05Z")
        self.assertEqual(format_time(datetime.datetime(2026, 1, 2, 3, 4, 5)), "2026-01-02T03:04:05Z")

    def test_retry_after(self) -> None:
        self.assertEqual(parse_retry_after("7"), 7.0)
        self.assertIsNone(parse_retry_after(None))
        self.assertIsNone(parse_retry_after("soon"))
        now = datetime.datetime(2026, 12, 2, 0, 0, 0, tzinfo=UTC)
        self.assertEqual(parse_retry_after("Wed, 02 Dec 2026 00:00:10 GMT", now), 10.0)

    def test_model_round_trip(self) -> None:
        body = {
            "id": 42, "workflow": "hello", "workflow_version": 1, "status": "succeeded",
            "priority": 2, "input": {"name": "Ada"}, "trigger": "api", "trigger_ref": "",
            "idempotency_key": "", "owner": "", "tags": None, "error": "", "attention": "",
            "tasks_total": 1, "tasks_remaining": 0, "task_counts": {"succeeded": 1},
            "created_at": "2026-12-02T00:00:00.000000001Z", "started_at": None,
            "finished_at": "2026-12-02T00:00:01Z", "sla_deadline": None, "sla_state": "",
            "a_field_from_a_newer_server": True,
        }
        run = Run.from_dict(body)
        self.assertEqual(run.tags, [])  # null arrays decode as empty lists
        self.assertIsNone(run.tasks)
        self.assertEqual(run.finished_at, datetime.datetime(2026, 12, 2, 0, 0, 1, tzinfo=UTC))
        out = run.to_dict()
        self.assertEqual(out["finished_at"], "2026-12-02T00:00:01Z")
        self.assertNotIn("tasks", out)
        self.assertNotIn("a_field_from_a_newer_server", out)
        with self.assertRaisesRegex(ValueError, "Run: the server's answer has no 'id'"):
            Run.from_dict({k: v for k, v in body.items() if k != "id"})
        self.assertEqual(StartRunRequest(workflow="hello").to_dict(), {"workflow": "hello"})


SECRET = "whsec_" + base64.b64encode(b"a secret of thirty-two bytes!!!!").decode()
BODY = json.dumps({"type": "run.succeeded", "timestamp": "2026-12-02T00:00:00Z",
                   "data": {"event_id": 7, "kind": "run_succeeded"}}).encode()


class WebhookTest(unittest.TestCase):
    def headers(self, body: bytes = BODY, stamp: int | None = None, sig: str | None = None) -> dict[str, str]:
        stamp = int(time.time()) if stamp is None else stamp
        return {
            "Webhook-Id": "msg_7_1",
            "Webhook-Timestamp": str(stamp),
            "Webhook-Signature": sig or sign_webhook(SECRET, "msg_7_1", stamp, body),
        }

    def test_valid(self) -> None:
        event = verify_webhook(SECRET, self.headers(), BODY)
        self.assertEqual(event.type, "run.succeeded")
        self.assertEqual(event.data.event_id, 7)
        verify_webhook(SECRET, self.headers(), BODY.decode())  # str bodies too

    def test_known_vector(self) -> None:
        # Standard Webhooks' published example.
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        body = '{"test": 2432232314}'
        headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
                   "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(secret, headers, body)  # the timestamp is years old ...
        with self.assertRaisesRegex(WebhookVerificationError, "not a webhook event"):
            verify_webhook(secret, headers, body, now=1614265330)  # ... but the signature holds

    def test_several_signatures(self) -> None:
        stamp = int(time.time())
        good = sign_webhook(SECRET, "msg_7_1", stamp, BODY)
        other = sign_webhook("whsec_" + base64.b64encode(b"old").decode(), "msg_7_1", stamp, BODY)
        verify_webhook(SECRET, self.headers(stamp=stamp, sig=f"{other} v2,xyz {good}"), BODY)

    def test_refusals(self) -> None:
        h = self.headers()
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(SECRET, h, BODY + b" ")
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(SECRET, dict(h, **{"Webhook-Id": "msg_8_1"}), BODY)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(SECRET, self.headers(stamp=int(time.time()) - 301), BODY)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(SECRET, self.headers(stamp=int(time.time()) + 301), BODY)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(SECRET, {k: v for k, v in h.items() if k != "Webhook-Signature"}, BODY)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook("whsec_***", h, BODY)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(SECRET, dict(h, **{"Webhook-Timestamp": "noon"}), BODY)


class Stub(http.server.BaseHTTPRequestHandler):
    """Answers from a script: a list of (status, headers, body) per request."""

    script: list[tuple[int, dict[str, str], Any]] = []
    seen: list[tuple[str, str, dict[str, str]]] = []

    def handle_any(self) -> None:
        Stub.seen.append((self.command, self.path, dict(self.headers)))
        status, headers, body = Stub.script.pop(0)
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = handle_any  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


def problem(status: int, detail: str, **extra: Any) -> dict[str, Any]:
    return {"title": "Problem", "status": status, "detail": detail, **extra}


class RetryTest(unittest.TestCase):
    server: http.server.ThreadingHTTPServer
    url: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.url = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self) -> None:
        Stub.script, Stub.seen = [], []
        self.waits: list[float] = []

    def client(self, **kw: Any) -> Client:
        return Client(self.url, "baton_test_key", sleep=self.waits.append, **kw)

    def test_retries_429_and_503_honouring_retry_after(self) -> None:
        Stub.script = [
            (429, {"Retry-After": "3", "Content-Type": "application/problem+json"}, problem(429, "slow down")),
            (503, {"Retry-After": "1"}, problem(503, "busy")),
            (200, {"Content-Type": "application/json"}, {"ok": True}),
        ]
        self.assertEqual(self.client().request("GET", "/v2/me"), {"ok": True})
        self.assertEqual(self.waits, [3.0, 1.0])
        self.assertEqual(Stub.seen[0][2]["Authorization"], "Bearer baton_test_key")

    def test_retries_are_bounded(self) -> None:
        Stub.script = [(429, {"Retry-After": "1"}, problem(429, "slow down"))] * 3
        with self.assertRaises(RateLimited) as ctx:
            self.client(retries=2).request("POST", "/v2/runs", body={"workflow": "x"})
        self.assertEqual(ctx.exception.retry_after, 1.0)
        self.assertEqual(len(Stub.seen), 3)

    def test_too_long_a_wait_raises_at_once(self) -> None:
        Stub.script = [(503, {"Retry-After": "120"}, problem(503, "down for a while"))]
        with self.assertRaises(Unavailable):
            self.client(max_retry_wait=60).request("GET", "/v2/me")
        self.assertEqual(self.waits, [])

    def test_backoff_without_retry_after(self) -> None:
        Stub.script = [(503, {}, None), (200, {}, {"ok": 1})]
        self.client().request("GET", "/v2/me")
        self.assertEqual(len(self.waits), 1)
        self.assertTrue(0.3 <= self.waits[0] <= 0.7, self.waits)

    def test_typed_problems(self) -> None:
        Stub.script = [
            (403, {"Content-Type": "application/problem+json"}, problem(403, "needs operator")),
            (422, {"Content-Type": "application/problem+json"},
             problem(422, "validation failed", errors=[{"location": "body.priority", "message": "too big", "value": 9}])),
            (418, {}, "not a problem"),
        ]
        c = self.client()
        with self.assertRaises(Forbidden) as f:
            c.request("POST", "/v2/runs", body={})
        self.assertEqual((f.exception.status, f.exception.detail), (403, "needs operator"))
        with self.assertRaises(ValidationFailed) as v:
            c.request("POST", "/v2/runs", body={})
        self.assertEqual(v.exception.errors[0].location, "body.priority")
        self.assertIn("body.priority", str(v.exception))
        with self.assertRaises(ProblemError) as p:
            c.request("GET", "/x")
        self.assertEqual(p.exception.status, 418)
        self.assertEqual(self.waits, [])

    def test_connection_failure(self) -> None:
        c = Client("http://127.0.0.1:9", retries=1, sleep=self.waits.append)
        with self.assertRaises(ConnectionFailed):
            c.request("GET", "/v2/me")
        self.assertEqual(len(self.waits), 1)  # GET is retried
        self.waits.clear()
        with self.assertRaises(ConnectionFailed):
            c.request("POST", "/v2/runs", body={})
        self.assertEqual(self.waits, [])  # POST is not

    def test_paginate_follows_the_cursor(self) -> None:
        Stub.script = [
            (200, {}, {"deliveries": [{"id": 3}, {"id": 2}], "next_cursor": 2}),
            (200, {}, {"deliveries": [{"id": 1}]}),
        ]
        items = list(self.client().paginate("/v2/webhooks/1/deliveries", "deliveries",
                                            cursor_param="before", query={"limit": 2}))
        self.assertEqual([i["id"] for i in items], [3, 2, 1])
        self.assertEqual([p for _, p, _ in Stub.seen],
                         ["/v2/webhooks/1/deliveries?limit=2", "/v2/webhooks/1/deliveries?limit=2&before=2"])

    def test_paginate_refuses_a_repeated_cursor(self) -> None:
        Stub.script = [(200, {}, {"runs": [{"id": 1}], "next_cursor": "c1"})] * 2
        with self.assertRaisesRegex(ProblemError, "twice"):
            list(self.client().paginate("/v2/runs", "runs"))

    def test_query_encoding(self) -> None:
        Stub.script = [(200, {}, {"runs": [], "query": ""})]
        when = datetime.datetime(2026, 12, 1, tzinfo=UTC)
        list(self.client().search_runs(status=["failed", "cancelled"], q="a b", created_from=when, owner=None))
        self.assertEqual(Stub.seen[0][1],
                         "/v2/runs?status=failed%2Ccancelled&q=a+b&created_from=2026-12-01T00%3A00%3A00Z")


def sse_event(i: int, kind: str = "task_succeeded") -> bytes:
    data = {"id": i, "time": "2026-12-02T00:00:00Z", "run_id": 1, "task_id": None, "workflow": "w",
            "step": "s", "kind": kind, "attempt": None, "duration_ms": None, "error": "",
            "error_class": "", "node": "", "queue": "", "priority": None, "actor": "", "data": None}
    return f"id: {i}\nevent: {kind}\ndata: {json.dumps(data)}\n\n".encode()


class SSEStub(http.server.BaseHTTPRequestHandler):
    """Serves events 1-2, then drops the connection; a reconnect gets what follows Last-Event-ID."""

    last_ids: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802
        last = self.headers.get("Last-Event-ID")
        SSEStub.last_ids.append(last)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b"retry: 10\n\n: heartbeat\n\n")
        if last is None:
            self.wfile.write(sse_event(1) + sse_event(2))
        else:
            self.wfile.write(sse_event(int(last) + 1, "run_succeeded"))
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


class StreamTest(unittest.TestCase):
    def test_reconnects_with_last_event_id(self) -> None:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SSEStub)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        SSEStub.last_ids = []
        waits: list[float] = []
        client = Client(f"http://127.0.0.1:{server.server_address[1]}", sleep=waits.append)
        with client.stream(run_id=1) as events:
            got = [(e.id, e.kind) for e in itertools.islice(events, 3)]
            self.assertEqual(events.reconnects, 1)
            self.assertEqual(events.last_event_id, 3)
        self.assertEqual(got, [(1, "task_succeeded"), (2, "task_succeeded"), (3, "run_succeeded")])
        self.assertEqual(SSEStub.last_ids, [None, "2"])
        self.assertEqual(waits, [0.01])  # the server's retry: 10 ms

    def test_gives_up_after_max_reconnects(self) -> None:
        client = Client("http://127.0.0.1:9", sleep=lambda s: None, retries=0)
        with self.assertRaises(ConnectionFailed):
            list(client.stream(max_reconnects=2))


class GeneratorTest(unittest.TestCase):
    def load(self) -> Any:
        spec = importlib.util.spec_from_file_location("generate", ROOT / "scripts" / "generate.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    def test_deterministic_and_strict(self) -> None:
        gen = self.load()
        doc = {"components": {"schemas": {
            "B": {"type": "object", "properties": {"when": {"type": ["string", "null"], "format": "date-time"},
                                                    "from": {"type": "integer"}}, "required": ["from"]},
            "A": {"type": "object", "properties": {"bs": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/B"}},
                                                    "m": {"type": "object", "additionalProperties": {"type": "number"}}},
                  "required": ["bs"]},
        }}}
        first = gen.generate(doc)
        self.assertEqual(first, gen.generate(json.loads(json.dumps(doc))))
        self.assertLess(first.index("class A:"), first.index("class B:"))
        ns: dict[str, Any] = {}
        exec(compile(first, "models.py", "exec"), ns)  # noqa: S102 - our own output
        a = ns["A"].from_dict({"bs": [{"from": 1, "when": "2026-12-02T00:00:00Z"}], "m": {"x": 1}})
        self.assertEqual(a.bs[0].from_, 1)
        self.assertEqual(a.m, {"x": 1.0})
        self.assertEqual(a.to_dict(), {"bs": [{"from": 1, "when": "2026-12-02T00:00:00Z"}], "m": {"x": 1.0}})
        with self.assertRaises(gen.Unsupported):
            gen.generate({"components": {"schemas": {"C": {"type": "object", "properties": {"x": {"oneOf": []}}}}}})


if __name__ == "__main__":
    unittest.main()
