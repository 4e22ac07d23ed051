"""The client against a live baton (clients/python_test.go starts one).

Needs BATON_URL and the keys BATON_ADMIN_KEY, BATON_OPERATOR_KEY,
BATON_VIEWER_KEY and BATON_LIMITED_KEY (an operator's, rate limit 6/min,
burst 1); skipped without BATON_URL. The server must allow loopback webhook targets (BATON_ALLOW_PRIVATE_HTTP=true).
"""

from __future__ import annotations

import http.server
import os
import queue
import re
import subprocess
import sys
import threading
import time
import unittest
import uuid
from pathlib import Path
from typing import Any, Callable, TypeVar

from baton import (
    Client,
    Forbidden,
    NotFound,
    RateLimited,
    ValidationFailed,
    WebhookVerificationError,
    verify_webhook,
)

URL = os.environ.get("BATON_URL", "")
T = TypeVar("T")


def poll(what: str, fn: Callable[[], T | None], timeout: float = 15.0) -> T:
    """fn's first truthy result, polled with a deadline (async work: no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def key(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise unittest.SkipTest(f"{name} is not set")
    return value


@unittest.skipUnless(URL, "BATON_URL is not set: run through clients/python_test.go")
class LiveTest(unittest.TestCase):
    client: Client
    tag: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.client = Client(URL, key("BATON_OPERATOR_KEY"))
        cls.tag = "py-" + uuid.uuid4().hex[:8]

    def test_start_and_wait(self) -> None:
        run = self.client.start_run("hello", {"name": "Ada"}, tags=[self.tag], owner="py-tests")
        self.assertEqual(run.workflow, "hello")
        done = self.client.wait_for_run(run.id, timeout=30)
        self.assertEqual(done.status, "succeeded")
        self.assertEqual(done.tasks_remaining, 0)
        assert done.tasks is not None
        self.assertEqual(done.tasks[0].output, {"greeting": "Hello, Ada!"})
        self.assertIsNotNone(done.finished_at)
        assert done.finished_at is not None and done.started_at is not None
        self.assertGreaterEqual(done.finished_at, done.started_at)

    def test_idempotent_start(self) -> None:
        k = "py-idem-" + uuid.uuid4().hex
        first = self.client.start_run("hello", idempotency_key=k)
        again = self.client.start_run("hello", idempotency_key=k)
        self.assertEqual(first.id, again.id)

    def test_gantt(self) -> None:
        run = self.client.start_run("release-pipeline", {"version": "9.9"})
        self.assertEqual(self.client.wait_for_run(run.id, timeout=60).status, "succeeded")
        gantt = self.client.get_run_gantt(run.id)
        self.assertEqual(gantt.run_id, run.id)
        self.assertEqual(len(gantt.tasks), 22)
        self.assertEqual(gantt.critical_path[0], "checkout")
        self.assertEqual(gantt.critical_path[-1], "announce")
        self.assertGreater(gantt.critical_path_ms, 0)
        on_path = {t.step for t in gantt.tasks if t.critical}
        self.assertEqual(on_path, set(gantt.critical_path))
        for t in gantt.tasks:
            self.assertIsNotNone(t.started_at)
            self.assertGreaterEqual(len(t.attempts), 1)
            if t.critical:
                self.assertEqual(t.slack_ms, 0)

    def test_page_through_runs(self) -> None:
        tag = self.tag + "-page"
        ids = [self.client.start_run("hello", {"n": i}, tags=[tag]).id for i in range(7)]
        pages = poll("7 runs searchable", lambda: (
            lambda ps: ps if sum(len(p.runs) for p in ps) == 7 else None
        )(list(self.client.search_runs_pages(tags_any=tag, limit=3))))
        self.assertEqual([len(p.runs) for p in pages], [3, 3, 1])
        self.assertIsNone(pages[-1].next_cursor)
        found = [r.id for p in pages for r in p.runs]
        self.assertEqual(found, sorted(ids, reverse=True))  # newest first, no duplicate
        # The item iterator follows the same cursors.
        self.assertEqual([r.id for r in self.client.search_runs(tags_any=[tag], limit=2)], found)

    def test_search(self) -> None:
        word = "zebra" + uuid.uuid4().hex[:10]
        run = self.client.start_run("hello", {"name": word}, tags=[self.tag])
        self.client.wait_for_run(run.id, timeout=30)
        hits = poll("full-text hit", lambda: list(self.client.search_runs(q=word, status=["succeeded"])))
        self.assertEqual([h.id for h in hits], [run.id])
        self.assertIn("<mark>", hits[0].highlight or "")
        none = list(self.client.search_runs(q=word, status="failed"))
        self.assertEqual(none, [])
        with self.assertRaises(ValidationFailed) as ctx:
            list(self.client.search_runs(sort="sideways"))
        self.assertEqual(ctx.exception.status, 422)

    def test_batch_with_progress(self) -> None:
        batch = self.client.start_batch(
            [{"workflow": "hello", "input": {"name": f"member {i}"}} for i in range(5)],
            name="py-batch",
        )
        self.assertEqual(batch.members_total, 5)
        seen: list[float] = []
        done = self.client.wait_batch(batch.id, timeout=60, on_progress=lambda b: seen.append(b.percent))
        self.assertEqual(done.status, "succeeded")
        self.assertEqual(done.percent, 100)
        self.assertEqual(done.tasks_done, done.tasks_total)
        self.assertGreaterEqual(len(seen), 1)
        self.assertEqual(seen, sorted(seen))  # progress only grows
        self.assertEqual(self.client.get_batch(batch.id).members.get("succeeded"), 5)
        members = list(self.client.list_batch_members(batch.id, page_size=2))
        self.assertEqual([m.index for m in members], [0, 1, 2, 3, 4])
        self.assertTrue(all(m.status == "succeeded" for m in members))

    def test_batch_invalid_member(self) -> None:
        with self.assertRaises(ValidationFailed) as ctx:
            self.client.start_batch([{"workflow": "hello"}, {"workflow": "no-such-workflow"}])
        locations = [e.location for e in ctx.exception.errors]
        self.assertTrue(any(loc and "members[1]" in loc for loc in locations), locations)

    def test_stream_resumes_after_disconnect(self) -> None:
        run = self.client.start_run("release-pipeline", {"version": "stream"})
        ids: list[int] = []
        kinds: list[str] = []
        with self.client.stream(run_id=run.id) as events:
            for ev in events:
                if ev.id == 0:
                    continue  # task_started: a transient hint, not in the event log
                ids.append(ev.id)
                kinds.append(ev.kind)
                if len(ids) == 1:
                    # As if the network dropped, at the run's first event: the
                    # tasks' events are still to come.
                    events.disconnect()
                if ev.kind in ("run_succeeded", "run_failed", "run_cancelled"):
                    break
            self.assertEqual(events.reconnects, 1)
        self.assertEqual(kinds[-1], "run_succeeded")
        # The stream opened after the run started, so it may begin after the first
        # events; from there on it has every event once, in order, across the reconnect.
        logged = [e.id for e in self.client.list_run_events(run.id)]
        self.assertGreater(len(ids), 13)
        self.assertEqual(ids, logged[len(logged) - len(ids):])

        # An explicit resume from an id replays what came after it.
        with self.client.stream(run_id=run.id, last_event_id=ids[9]) as events:
            replayed = [next(events).id for _ in range(3)]
        self.assertEqual(replayed, ids[10:13])

    def test_viewer_gets_typed_403(self) -> None:
        viewer = Client(URL, key("BATON_VIEWER_KEY"))
        self.assertEqual(viewer.me().role, "viewer")
        with self.assertRaises(Forbidden) as ctx:
            viewer.start_run("hello")
        err = ctx.exception
        self.assertEqual(err.status, 403)
        self.assertTrue(err.title)
        self.assertIn("operator", err.detail)
        run = self.client.start_run("hello")
        self.assertEqual(viewer.get_run(run.id).id, run.id)  # reading is allowed

    def test_typed_validation_errors(self) -> None:
        with self.assertRaises(ValidationFailed) as ctx:
            self.client.start_run("hello", priority=9)
        self.assertEqual(ctx.exception.status, 422)
        self.assertIn("body.priority", [e.location for e in ctx.exception.errors])
        with self.assertRaises(NotFound):
            self.client.get_run(987654321)

    def test_webhook_delivery_verifies(self) -> None:
        received: queue.Queue[tuple[Any, bytes]] = queue.Queue()

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.put((self.headers, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)

        admin = Client(URL, key("BATON_ADMIN_KEY"))  # subscriptions are an admin's
        tag = self.tag + "-hook"
        hook = admin.create_webhook(
            f"http://127.0.0.1:{server.server_address[1]}/baton",
            event_types=["run.succeeded"], tags=[tag],
        )
        self.addCleanup(admin.delete_webhook, hook.id)
        self.assertTrue(hook.secret.startswith("whsec_"))
        run = self.client.start_run("hello", {"name": "hook"}, tags=[tag])
        headers, body = received.get(timeout=30)

        event = verify_webhook(hook.secret, headers, body)
        self.assertEqual(event.type, "run.succeeded")
        assert event.data.run is not None
        self.assertEqual(event.data.run.id, run.id)
        self.assertEqual(headers["webhook-id"][:4], "msg_")

        tampered = body.replace(b'"succeeded"', b'"failed"', 1)
        self.assertNotEqual(tampered, body)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(hook.secret, headers, tampered)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook("whsec_" + "QUJD" * 8, headers, body)  # another secret
        late = time.time() + 600
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(hook.secret, headers, body, now=late)

        deliveries = poll("delivery logged as succeeded", lambda: [
            d for d in admin.list_webhook_deliveries(hook.id) if d.status == "succeeded"])
        self.assertEqual(deliveries[0].message_id, headers["webhook-id"])


@unittest.skipUnless(URL, "BATON_URL is not set: run through clients/python_test.go")
class RateLimitTest(unittest.TestCase):
    """A class of its own: waiting out the limit (6 a minute) takes up to 10 s,
    so the Go harness runs it beside the other tests."""

    def test_rate_limit_429_is_waited_out(self) -> None:
        limited = key("BATON_LIMITED_KEY")
        # Without retries, the bucket (6 a minute + burst 1) runs dry within a few calls.
        strict = Client(URL, limited, retries=0)
        with self.assertRaises(RateLimited) as ctx:
            for _ in range(10):
                strict.me()
        err = ctx.exception
        self.assertEqual(err.status, 429)
        self.assertIsNotNone(err.retry_after)
        assert err.retry_after is not None
        self.assertGreaterEqual(err.retry_after, 1)

        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            time.sleep(seconds)

        patient = Client(URL, limited, retries=3, max_retry_wait=45, sleep=sleep)
        started = time.monotonic()
        me = patient.me()  # answered 429 first, then 200 after Retry-After
        self.assertEqual(me.rate_limit, 6)
        self.assertGreaterEqual(len(waits), 1)
        self.assertGreaterEqual(time.monotonic() - started, waits[0])
        print(f"429 handled: waited {sum(waits):.0f} s (Retry-After {waits})", file=sys.stderr)


@unittest.skipUnless(URL, "BATON_URL is not set: run through clients/python_test.go")
class ReadmeExampleTest(unittest.TestCase):
    def test_five_line_example_runs(self) -> None:
        readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
        block = re.search(r"```python\n(.*?)```", readme, re.S)
        assert block is not None, "README.md has no python example"
        code = block.group(1).replace("http://127.0.0.1:8080", URL)
        self.assertLessEqual(len(code.strip().splitlines()), 5)
        pkg_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=pkg_root)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=60, check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("succeeded", out.stdout)
        print("README example printed:", out.stdout.strip(), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
