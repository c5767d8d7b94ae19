"""The background app: replies, errors, port bookkeeping, and the developer build's diagnostics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest

from background.app import PROTOCOL_VERSION, App
from background.compose import Worker, compose
from background.keepalive import KeepAlive
from tests.support.aio import run_sync


class FakeHost:
    def __init__(self) -> None:
        self.sent: list[tuple[int, dict[str, Any]]] = []
        self.closed: set[int] = set()
        self.touches = 0

    def post(self, port_id: int, text: str) -> bool:
        if port_id in self.closed:
            return False
        self.sent.append((port_id, json.loads(text)))
        return True

    async def touch(self) -> None:
        self.touches += 1

    def boot_info(self) -> dict[str, object]:
        return {"state": "ready", "phases": [["start", 1.0], ["ready", 2.0]], "python": "3.x"}


def run_now(coro: Coroutine[Any, Any, None]) -> None:
    run_sync(coro)


def make_worker(**kw: Any) -> tuple[Worker, FakeHost]:
    """A developer build's worker (the diag.* tests need it) over a fake host."""
    host = kw.pop("host", None) or FakeHost()
    kw.setdefault("spawn", run_now)
    return compose(host, version="9.9.9", dev=True, **kw), host


def make_app(**kw: Any) -> tuple[App, FakeHost]:
    worker, host = make_worker(**kw)
    return worker.app, host


def ask(app: App, message: object, sender: str = "dev") -> dict[str, Any]:
    text = message if isinstance(message, str) else json.dumps(message)
    return json.loads(run_sync(app.on_runtime_message(text, sender)))  # type: ignore[no-any-return]


def test_ping_answers_with_python_version_and_boot_record() -> None:
    app, _ = make_app()
    reply = ask(app, {"type": "ping", "id": 4})
    assert reply["type"] == "pong" and reply["id"] == 4
    assert reply["python"].count(".") == 2
    assert reply["boot"]["phases"] == [["start", 1.0], ["ready", 2.0]]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "malformed"),
        ("[1, 2]", "malformed"),
        ('{"id": 1}', "malformed"),
        ('{"type": 5}', "malformed"),
        ('{"type": "nope", "id": 2}', "unknown_type"),
    ],
)
def test_bad_messages_get_an_error_reply(text: str, code: str) -> None:
    app, _ = make_app()
    reply = ask(app, text)
    assert reply["type"] == "error" and reply["code"] == code
    assert reply["message"]


def test_error_reply_echoes_the_id_when_there_is_one() -> None:
    app, _ = make_app()
    assert ask(app, {"type": "nope", "id": 42})["id"] == 42


def test_handler_crash_becomes_an_internal_error_reply() -> None:
    class BrokenHost(FakeHost):
        def boot_info(self) -> dict[str, object]:
            raise RuntimeError("boom")

    app, _ = make_app(host=BrokenHost())
    reply = ask(app, {"type": "ping", "id": 1})
    assert reply == {"type": "error", "id": 1, "code": "internal", "message": "boom"}


def test_failed_stream_reports_the_error() -> None:
    async def broken(url: str, method: str, body: str | None) -> AsyncIterator[bytes]:
        raise RuntimeError("refused")
        yield b""  # pragma: no cover

    app, _ = make_app(open_stream=broken)
    reply = ask(app, {"type": "diag.stream", "id": 1, "url": "http://x", "keepalive": False})
    assert (reply["type"], reply["code"], reply["message"]) == ("error", "internal", "refused")


def test_heartbeat_gets_no_reply() -> None:
    app, host = make_app()
    app.on_port_connect(1, "panel")
    host.sent.clear()
    app.on_port_message(1, '{"type": "heartbeat"}')
    assert host.sent == []


def test_port_connect_says_hello_and_messages_reply_on_the_same_port() -> None:
    app, host = make_app()
    app.on_port_connect(3, "panel")
    assert host.sent[0][0] == 3
    hello = host.sent[0][1]
    assert hello["type"] == "hello" and hello["v"] == PROTOCOL_VERSION
    assert hello["version"] == "9.9.9"
    app.on_port_message(3, json.dumps({"type": "ping", "id": 1}))
    assert host.sent[-1][0] == 3 and host.sent[-1][1]["type"] == "pong"


def test_a_port_that_cannot_be_posted_to_is_forgotten() -> None:
    app, host = make_app()
    app.on_port_connect(5, "panel")
    host.closed.add(5)
    app.on_port_message(5, json.dumps({"type": "ping", "id": 1}))
    assert 5 not in app.ports


def test_disconnect_forgets_the_port() -> None:
    app, _ = make_app()
    app.on_port_connect(6, "panel")
    app.on_port_disconnect(6)
    assert app.ports == {}


def test_diag_stream_counts_bytes_and_holds_the_keepalive() -> None:
    seen_active: list[bool] = []

    async def chunks(url: str, method: str, body: str | None) -> AsyncIterator[bytes]:
        assert (url, method, body) == ("http://127.0.0.1:1/drip", "GET", None)
        for part in (b"ab", b"", b"cde"):
            seen_active.append(worker.keepalive.active)
            yield part

    host = FakeHost()
    keepalive = KeepAlive(host.touch, spawn=lambda coro: coro.close())  # type: ignore[arg-type,return-value]
    worker, _ = make_worker(host=host, open_stream=chunks, keepalive=keepalive)
    reply = ask(worker.app, {"type": "diag.stream", "id": 9, "url": "http://127.0.0.1:1/drip"})
    assert reply["type"] == "diag.stream.done"
    assert (reply["bytes"], reply["chunks"]) == (5, 3)
    assert seen_active == [True, True, True]
    assert not worker.keepalive.active


def test_diag_stream_needs_a_url() -> None:
    async def never(url: str, method: str, body: str | None) -> AsyncIterator[bytes]:  # pragma: no cover
        yield b""

    app, _ = make_app(open_stream=never)
    assert ask(app, {"type": "diag.stream", "id": 1})["code"] == "bad_request"


def test_background_job_reports_later_and_unknown_jobs_mean_a_restart() -> None:
    spawned: list[Coroutine[Any, Any, None]] = []

    async def chunks(url: str, method: str, body: str | None) -> AsyncIterator[bytes]:
        assert (method, body) == ("POST", "{}")
        yield b"xyz"

    app, _ = make_app(open_stream=chunks, spawn=spawned.append)
    started = ask(app, {"type": "diag.stream", "id": 1, "url": "u", "method": "POST", "body": "{}",
                        "background": True, "keepalive": False})
    assert started["type"] == "diag.stream.running" and started["job"] == 1
    assert ask(app, {"type": "diag.result", "id": 2, "job": 1})["type"] == "diag.stream.running"
    run_sync(spawned.pop())
    done = ask(app, {"type": "diag.result", "id": 3, "job": 1})
    assert (done["type"], done["bytes"], done["id"]) == ("diag.stream.done", 3, 3)
    assert ask(app, {"type": "diag.result", "id": 4, "job": 99})["code"] == "unknown_job"


def test_failed_background_job_records_the_error() -> None:
    spawned: list[Coroutine[Any, Any, None]] = []

    async def broken(url: str, method: str, body: str | None) -> AsyncIterator[bytes]:
        raise OSError("connection reset")
        yield b""  # pragma: no cover

    app, _ = make_app(open_stream=broken, spawn=spawned.append)
    ask(app, {"type": "diag.stream", "id": 1, "url": "u", "background": True, "keepalive": False})
    run_sync(spawned.pop())
    failed = ask(app, {"type": "diag.result", "id": 2, "job": 1})
    assert failed["type"] == "error" and failed["message"] == "connection reset"
