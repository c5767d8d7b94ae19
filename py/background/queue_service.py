"""The request queue in the worker: storage, the drain, the timer, ``queue.state`` pushes.

:mod:`background.queue` decides (order, limits, holds); this module does the I/O.

* **Storage.** The queue is the ``queue`` record (:class:`~background.queue.QueueRecord`);
  a queued message is a user message stored with ``queued: true`` in its conversation.
  Both are written in **one** storage operation (``ConversationStore.save(extra=...)``),
  so a worker stopped at any moment leaves either both or neither. The snapshot the
  holds are computed from is the app's ``limits`` record.
* **Resume.** The worker may be stopped at any moment and keeps nothing: the record is
  read on first use (a panel connecting, ``hello``, a ``chat.*`` request, the queue's
  alarm) and the queue drains from there.
* **Drain.** When a turn ends, a message is queued or cancelled, the limits change or a
  hold ends, the next ready message (:meth:`RequestQueue.next_ready`) starts its turn.
* **Timer.** While a hold keeps messages waiting, one timer wakes the drain when it ends
  (holding the keep-alive for short waits, so a closed panel does not let the worker
  die first), and a ``chrome.alarms`` alarm backs it up: it wakes a stopped worker.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from .diag import ProtocolError
from .keepalive import KeepAlive
from .protocol import QueueConfig, Request, reply
from .queue import QUEUE_KEY, QueueItem, QueueLimits, QueueRecord, RequestQueue, error_hold, scope_of
from .records import LimitsRecord, StoredConversation
from .storage import Records, StorageProblem

if TYPE_CHECKING:
    from .chat import ChatService
    from .conversations import ConversationStore
    from .turns import Turn
    from .vaultsession import Alarms

__all__ = ["QUEUE_ALARM", "QueueService"]

QUEUE_ALARM = "sidepy.queue"
# Requests after which the queue looks again: another server or key may not be held.
RESCOPE_AFTER = frozenset({"settings.set", "key.set", "key.clear", "vault.set", "vault.unlock",
                           "auth.import", "auth.clear"})
LIMITS_KEY = "limits"  # the app's latest rate-limit snapshot (background.app)
KEEPALIVE_WAIT_S = 60.0  # waits up to this long keep the worker awake; longer ones rely on the alarm

Message = dict[str, Any]


class QueueService:
    """The app's request queue (see the module docstring).

    Args:
        push: posts a message to every panel (``queue.state``).
        after_reply: runs a callable once the current request's reply is posted.
    """

    def __init__(self, records: Records, conversations: ConversationStore, chat: ChatService, *,
                 clock_ms: Callable[[], int], spawn: Callable[[Coroutine[Any, Any, None]], object],
                 sleep: Callable[[float], Awaitable[None]], keepalive: KeepAlive,
                 push: Callable[[Message], None], after_reply: Callable[[Callable[[], None]], None]) -> None:
        self.records = records
        self.conversations = conversations
        self.chat = chat
        self.clock_ms = clock_ms
        self._spawn = spawn
        self._sleep = sleep
        self.keepalive = keepalive
        self._push = push
        self._after_reply = after_reply
        self.alarms: Alarms | None = None  # chrome.alarms in the worker (background.main)
        # ``call_later(seconds, fn)``: the drain's timer (tests replace it with a fake clock's).
        self.call_later: Callable[[float, Callable[[], None]], object] = self._call_later
        self.core = RequestQueue()
        self._loaded = False
        self._loading: asyncio.Event | None = None
        self._draining = False
        self._again = False
        self._armed: int | None = None
        self._alarm_at: int | None = None
        self._published: Message | None = None
        self._scope: str | None = None  # the server the settings name (holds of another are dropped)
        chat.queue = self
        conversations.on_delete = self._deleted

    # ------------------------------------------------------------------ loading

    async def load(self) -> None:
        """Read the stored queue once per worker (concurrent callers wait for the same read)."""
        if self._loaded:
            return
        if self._loading is not None:
            await self._loading.wait()
            return
        self._loading = asyncio.Event()
        try:
            record = await self._read()
            core = RequestQueue(record)
            if self.core.snapshot is not None:  # a turn reported newer limits meanwhile
                core.note_snapshot(self.core.snapshot, self.core.snapshot_at, self.core.snapshot_scope)
            else:
                await self._read_snapshot(core)
            self.core = core
            await self.check_scope()
            for item in core.items:
                self.conversations.hold(item.conversation_id)  # not evicted by the storage bound
            self._published = self.state()  # what hello tells a panel: no push until it changes
            self._loaded = True
        finally:
            self._loading.set()
            self._loading = None

    async def _read(self) -> QueueRecord | None:
        try:
            return await self.records.read(QUEUE_KEY, QueueRecord, "The request queue")
        except StorageProblem:
            # Never written over: kept aside, and the queue starts empty. Its messages stay in
            # their conversations; ``settle`` turns them into plain messages when they are read.
            found = await self.records.store.get([QUEUE_KEY])
            backup = f"corrupt.{QUEUE_KEY}.{self.clock_ms()}"
            await self.records.write({backup: found.get(QUEUE_KEY, "")})
            self.records.problems.pop(QUEUE_KEY, None)
            self.records.problems[backup] = StorageProblem(
                backup, f"The request queue was damaged; it starts empty (the damaged copy is '{backup}').",
                "queue reset")
            return None

    async def _read_snapshot(self, core: RequestQueue) -> None:
        try:
            stored = await self.records.read(LIMITS_KEY, LimitsRecord, "The saved rate limits")
        except StorageProblem:
            return
        if stored is not None:  # saved by this worker's predecessor, for today's settings
            settings = await self.chat.settings.load()
            core.note_snapshot(stored.limits, stored.at, scope_of(settings.provider, settings.base_url))

    async def check_scope(self) -> None:
        """Drop holds that another server set: the provider or base URL changed since."""
        settings = await self.chat.settings.load()
        self._scope = scope_of(settings.provider, settings.base_url)
        if self.core.rescope(self._scope):
            await self.persist()

    async def resume(self) -> None:
        """Load, then start what may start (after a worker restart, or when woken)."""
        await self.load()
        await self.drain()

    async def settle(self, conversation: StoredConversation) -> None:
        """Messages marked queued that the queue does not hold (its record was damaged) become plain."""
        await self.load()
        held = {i.message_id for i in self.core.items if i.conversation_id == conversation.id}
        stale = [m for m in conversation.messages if m.queued and m.id not in held]
        if not stale:
            return
        for message in stale:
            message.queued = False
        try:
            await self.conversations.save(conversation)
        except Exception as exc:  # shown right anyway; saved with the next change
            print(f"background: could not save the conversation: {exc}", file=sys.stderr)

    # ------------------------------------------------------------------ changes

    def extra(self) -> dict[str, BaseModel]:
        """The queue record, to store in the same write as a conversation."""
        return {QUEUE_KEY: self.core.record()}

    async def persist(self) -> None:
        """Store the queue alone (a hold, a removed entry)."""
        try:
            await self.records.write({QUEUE_KEY: self.core.record()})
        except Exception as exc:  # memory stays right; the next write catches up
            print(f"background: could not save the request queue: {exc}", file=sys.stderr)

    def queued(self, item: QueueItem) -> None:
        """A message was queued (and stored): tell the panels, keep its conversation."""
        self.conversations.hold(item.conversation_id)
        self._after_reply(self.changed)

    def released(self, item: QueueItem) -> None:
        """A message left the queue (started, cancelled, gone)."""
        self.conversations.release(item.conversation_id)

    def changed(self) -> None:
        """Something changed: push the state, start what may start."""
        self.publish()
        self._drain_soon()

    def after_request(self, kind: str, result: Message | None) -> None:
        """A request was handled: after a change of server or key, drain (its holds may be gone)."""
        if kind in RESCOPE_AFTER and result is not None and result.get("type") != "error" and self.core.items:
            self._after_reply(self._drain_soon)

    def _drain_soon(self) -> None:
        self._later(self.drain)

    def note_limits(self, limits: dict[str, Any], at_ms: int) -> None:
        """A turn received a rate-limit snapshot (a hold may begin or end with it)."""
        self.core.note_snapshot(limits, at_ms, self._scope)
        if self.core.items:
            self.publish()
            self._arm()

    def turn_ended(self, turn: Turn) -> None:
        """A turn ended: a 429 sets a hold; then the next message may start."""
        now = self.clock_ms()
        hold = error_hold(turn.error, now, retry_after_ms=turn.retry_after_ms,
                          fallback_ms=self.core.limits.retry_hold_ms)
        if hold is not None:
            hold.scope = scope_of(turn.settings.provider, turn.settings.base_url)
        if hold is not None and (self.core.hold is None or hold.until > self.core.hold.until):
            self.core.hold = hold
            self._later(self.persist)
        self._later(self.drain)

    async def drain(self) -> None:
        """Start every message that may start now (one at a time; re-entry only asks for one more pass)."""
        await self.load()
        if self._draining:
            self._again = True
            return
        self._draining = True
        try:
            await self.check_scope()
            while True:
                self._again = False
                item = self.core.next_ready(self.clock_ms(), self.chat.running())
                if item is not None:
                    await self.chat.start_queued(item)
                elif not self._again:
                    break
        finally:
            self._draining = False
        self._arm()
        self.publish()

    # ------------------------------------------------------------------ requests

    async def configure(self, request: Request) -> Message:
        """``queue.config``: new limits (a partial ``QueueLimits``) and/or drop the holds."""
        assert isinstance(request, QueueConfig)
        await self.load()
        unknown = sorted(set(request.limits) - set(QueueLimits.model_fields))
        if unknown:
            raise ProtocolError("bad_request", f"queue.config: unknown limit {unknown[0]!r}")
        try:
            limits = QueueLimits.model_validate({**self.core.limits.model_dump(), **request.limits})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ProtocolError("bad_request", f"queue.config: 'limits.{where}': {first['msg']}") from None
        self.core.limits = limits
        if request.clear_hold:
            self.core.clear_holds()
        await self.persist()
        self._after_reply(self.changed)
        return reply("queue.state", request, **self.state())

    def state(self) -> Message:
        """``QueueState`` (for ``hello`` and the pushes)."""
        return self.core.view(self.clock_ms())

    def publish(self) -> None:
        """Push ``queue.state`` to every panel when it differs from the last push."""
        state = self.state()
        if state == self._published:
            return
        self._published = state
        self._push({"type": "queue.state", **state})

    def push_error(self, code: str, message: str) -> None:
        """Tell every panel about a failure no request is waiting for (an ``error`` without ``id``)."""
        self._push({"type": "error", "code": code, "message": message})

    def _deleted(self, conversation_id: str) -> None:
        gone = self.core.remove_conversation(conversation_id)
        for item in gone:
            self.released(item)
        if gone:
            self._later(self.persist)
            self.publish()

    # ------------------------------------------------------------------ the timer

    def _arm(self) -> None:
        now = self.clock_ms()
        hold = self.core.active_hold(now) if self.core.items else None
        until = hold.until if hold is not None else None
        if until is not None and until != self._armed:
            self._armed = until
            self.call_later(max(0.0, (until - now) / 1000), lambda: self._wake(until))
        elif until is None:
            self._armed = None
        self._sync_alarm(until)

    def _wake(self, until: int) -> None:
        if self._armed == until:
            self._armed = None
        self._later(self.drain)

    def _call_later(self, seconds: float, fn: Callable[[], None]) -> object:
        async def later() -> None:
            if seconds <= KEEPALIVE_WAIT_S:
                async with self.keepalive.hold():
                    await self._sleep(seconds)
            else:
                await self._sleep(seconds)
            fn()

        return self._later(later)

    def _sync_alarm(self, until: int | None) -> None:
        alarms = self.alarms
        if alarms is None or until == self._alarm_at:
            return
        self._alarm_at = until
        if until is not None:
            self._later(lambda: alarms.schedule(QUEUE_ALARM, until))
        else:
            self._later(lambda: alarms.cancel(QUEUE_ALARM))

    def _later(self, work: Callable[[], Awaitable[None]]) -> object:
        """Run ``work()`` as a task that logs its failure (created only when the task runs)."""

        async def run() -> None:
            try:
                await work()
            except Exception as exc:  # background work logs; it must not take the worker down
                print(f"background: request queue: {exc!r}", file=sys.stderr)

        return self._spawn(run())
