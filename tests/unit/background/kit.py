"""Test kit for the chat app: an App over in-memory bridges, scripted SSE replies, a fake clock.

Everything runs without an event loop: ``spawn`` runs coroutines at once (or
collects them), sleeps return at once, the clock only moves when a test moves it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any

from background.attachments.store import MemoryAttachments
from background.compose import Worker, compose
from background.keepalive import KeepAlive
from background.router import GRANTS, capability_of
from background.settings.model import MemoryKeySource
from background.store.storage import MemoryStore
from modelclient import HttpRequest, MockTransport
from tests.support.aio import run_sync
from tests.support.images import ModelRenderer
from tests.unit.background.test_app import FakeHost

KEY = "sk-test-0123456789abcdefWXYZ"
# SettingsView.key with the default settings: a key ending in WXYZ, and none
KEY_VIEW = {"set": True, "masked": "sk-…WXYZ", "origin": "https://api.openai.com", "approved": True}
NO_KEY_VIEW = {"set": False, "masked": None, "origin": "https://api.openai.com", "approved": False}


def sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def reply_events(
    *deltas: str, usage: dict[str, int] | None = None, reasoning: Iterable[str] = (), response_id: str = "r1"
) -> list[bytes]:
    """A complete streamed reply: reasoning summary deltas, text deltas, the message item, completed."""
    events = [sse({"type": "response.created", "response": {"id": response_id}})]
    for part in reasoning:
        events.append(sse({"type": "response.reasoning_summary_text.delta", "delta": part}))
    if reasoning:
        events.append(
            sse(
                {
                    "type": "response.output_item.done",
                    "item": {
                        "type": "reasoning",
                        "id": "rs_1",
                        "summary": [{"type": "summary_text", "text": "".join(reasoning)}],
                        "encrypted_content": "opaque",
                    },
                }
            )
        )
    for delta in deltas:
        events.append(sse({"type": "response.output_text.delta", "delta": delta}))
    events.append(
        sse(
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "id": "msg_1",
                    "content": [{"type": "output_text", "text": "".join(deltas)}],
                },
            }
        )
    )
    done_usage = usage or {"input_tokens": 20, "output_tokens": 5, "total_tokens": 25}
    events.append(sse({"type": "response.completed", "response": {"id": response_id, "usage": done_usage}}))
    return events


class Clock:
    """Epoch and monotonic seconds that move only when told."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTimers:
    """The request queue's ``call_later`` on the fake clock: timers fire when a test says so."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.pending: list[tuple[float, Callable[[], None]]] = []
        self.delays: list[float] = []  # every delay asked for, in seconds

    def call_later(self, seconds: float, fn: Callable[[], None]) -> None:
        self.delays.append(seconds)
        self.pending.append((self.clock.now + seconds, fn))

    def fire(self) -> int:
        """Run the timers due at the clock's time; return how many ran."""
        due = [p for p in self.pending if p[0] <= self.clock.now]
        self.pending = [p for p in self.pending if p[0] > self.clock.now]
        for _, fn in due:
            fn()
        return len(due)


def no_sleep(seconds: float) -> Coroutine[Any, Any, None]:
    async def nothing() -> None:
        return None

    return nothing()


def run_now(coro: Coroutine[Any, Any, None]) -> None:
    run_sync(coro)


class Harness:
    """An App plus everything a test looks at: sent messages, store, transport, clock."""

    def __init__(
        self,
        *,
        store: MemoryStore | None = None,
        key: str | None = KEY,
        handler: Callable[[HttpRequest], Any] | None = None,
        spawn: Callable[[Coroutine[Any, Any, None]], Any] = run_now,
        pages: Any = None,
        clock: Clock | None = None,
        counter: Iterator[int] | None = None,
        keys: MemoryKeySource | None = None,
        alarms: Any = None,
        extension_origin: str = "",
        attachments: MemoryAttachments | None = None,
        capture: Any = None,
        access: Any = None,
    ) -> None:
        self.store = store if store is not None else MemoryStore()
        # IndexedDB's twin; images are "rendered" by a model of an encoder (tests/support/images.py)
        self.attachments = attachments if attachments is not None else MemoryAttachments()
        self.host = FakeHost()
        self.clock = clock or Clock()
        self.replies: list[Callable[[HttpRequest], Any]] = []
        self.transport = MockTransport(handler or self._next_reply)
        self.keys = keys if keys is not None else MemoryKeySource(key)
        touch = self.host.touch
        keepalive = KeepAlive(touch, spawn=lambda coro: coro.close())  # type: ignore[arg-type,return-value]
        options = {"with_timeout": lambda awaitable, seconds: awaitable, "sleep": no_sleep}
        self.counter = counter or iter(range(1, 1_000_000))  # shared by restarts: ids stay unique
        counter = self.counter
        self.timers = FakeTimers(self.clock)
        self.worker: Worker = compose(
            self.host,
            version="9.9.9",
            keepalive=keepalive,
            transport=lambda: self.transport,
            client_options=options,
            spawn=spawn,
            store=self.store,
            keys=self.keys,
            pages=pages,
            clock=self.clock,
            monotonic=self.clock,
            sleep=no_sleep,
            ids=lambda prefix: f"{prefix}{next(counter)}",
            call_later=self.timers.call_later,
            alarms=alarms,
            extension_origin=extension_origin,
            attachment_store=self.attachments,
            renderer=ModelRenderer(),
            capture=capture,
            access=access,
        )
        self.app = self.worker.app

    def _next_reply(self, request: HttpRequest) -> Any:
        if not self.replies:
            return 200, {}, reply_events("Hello", " world")
        return self.replies.pop(0)(request)

    def ask(self, message: dict[str, Any], sender: str | None = None) -> dict[str, Any]:
        """A one-shot message from ``sender`` (default: the page that may send it); its reply
        (the turn, if any, has run by then). Time moves 1 s."""
        self.clock.advance(1)
        reply = run_sync(self.app.on_runtime_message(json.dumps(message), sender or sender_for(message)))
        return json.loads(reply)  # type: ignore[no-any-return]

    def connect(self, port: int = 1) -> dict[str, Any]:
        """Connect a panel port; return the pushed hello."""
        self.app.on_port_connect(port, "panel")
        hello = [m for p, m in self.host.sent if p == port and m["type"] == "hello"]
        return hello[-1]

    def send(self, port: int, message: dict[str, Any]) -> None:
        self.clock.advance(1)
        self.app.on_port_message(port, json.dumps(message))

    def sent(self, port: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for p, m in self.host.sent
            if (port is None or p == port) and (kind is None or m["type"] == kind)
        ]

    def restart(self) -> Harness:
        """A new worker over the same storage (and the same session key)."""
        fresh = Harness(store=self.store, key=None, clock=self.clock, counter=self.counter,
                        attachments=self.attachments)
        fresh.keys._key = self.keys._key
        return fresh

    def stored(self, key: str) -> Any:
        return json.loads(self.store.data[key])


def sender_for(message: dict[str, Any]) -> str:
    """The page that may send ``message``: the panel if it may, else the options page."""
    capability = capability_of(str(message.get("type")))
    return "panel" if capability in GRANTS["panel"] or capability is None else "options"


def chunks_then(before: list[bytes], action: Callable[[], None], after: list[bytes]) -> Iterator[bytes]:
    """Yield ``before``, run ``action`` (e.g. a stop request), then yield ``after``."""
    yield from before
    action()
    yield from after
