"""When turns start: at once, or later from the persisted request queue; and the live turns.

:mod:`background.chat.queue` decides (order, limits, holds); this module does the I/O
and owns the turns that run.

* **Turns.** :meth:`Scheduler.launch` adds the assistant placeholder, persists, and runs
  a :class:`~background.chat.turns.Turn` once the reply is posted; the live turns are
  kept here, one per conversation (:meth:`running`, :meth:`live`).
* **Storage.** The queue is the ``queue`` record (:class:`~background.chat.queue.QueueRecord`);
  a queued message is a user message stored with ``queued: true`` in its conversation.
  Both are written in **one** storage operation (``ConversationStore.save(extra=...)``),
  so a worker stopped at any moment leaves either both or neither. The snapshot the
  holds are computed from is the ``limits`` record (:mod:`background.chat.limits`).
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
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ..errors import ProtocolError
from ..protocol import QueueConfig, Request, reply
from ..settings.credentials import Keys, guarded, origin_of
from ..settings.model import Settings, SettingsStore
from ..store.conversations import ConversationStore
from ..store.records import StoredConversation, StoredMessage
from ..store.storage import Records, StorageFullError, StorageProblem
from .limits import LimitStore
from .queue import QUEUE_KEY, QueueItem, QueueLimits, QueueRecord, RequestQueue, error_hold, scope_of
from .stream_processor import Send
from .turns import Turn, TurnDeps

if TYPE_CHECKING:
    from ..vault.session import Alarms

__all__ = ["QUEUE_ALARM", "STORAGE_FULL", "Scheduler"]

QUEUE_ALARM = "sidepy.queue"
# Requests after which the queue looks again: another server or key may not be held.
RESCOPE_AFTER = frozenset({"settings.set", "settings.approve", "key.set", "key.clear", "vault.set",
                           "vault.unlock", "auth.import", "auth.clear"})
KEEPALIVE_WAIT_S = 60.0  # waits up to this long keep the worker awake; longer ones rely on the alarm
STORAGE_FULL = (
    "Your message could not be saved: browser storage is full. Delete or export old conversations "
    "to make room."
)

Message = dict[str, Any]


class Scheduler:
    """The live turns and the request queue (see the module docstring).

    Args:
        sink: ``sink(conversation_id)`` posts one message to every panel showing it.
        push: posts a message to every panel (``queue.state``).
        after_reply: runs a callable once the current request's reply is posted.
        call_later: ``call_later(seconds, fn)``, the drain's timer (tests pass a fake clock's).
        alarms: ``chrome.alarms`` in the worker, so a long hold wakes a stopped worker.
    """

    def __init__(self, records: Records, conversations: ConversationStore, settings: SettingsStore,
                 keys: Keys, limits: LimitStore, deps: TurnDeps, *, sink: Callable[[str], Send],
                 push: Callable[[Message], None], after_reply: Callable[[Callable[[], None]], None],
                 ids: Callable[[str], str],
                 call_later: Callable[[float, Callable[[], None]], object] | None = None,
                 alarms: Alarms | None = None) -> None:
        self.records = records
        self.conversations = conversations
        self.settings = settings
        self.keys = keys
        self.limits = limits
        self.deps = deps
        self.clock_ms = deps.clock_ms
        self._spawn = deps.spawn
        self._sleep = deps.sleep
        self.keepalive = deps.keepalive
        self._sink = sink
        self._push = push
        self._after_reply = after_reply
        self.ids = ids
        self.alarms = alarms
        self.call_later: Callable[[float, Callable[[], None]], object] = call_later or self._call_later
        self.turns: dict[str, Turn] = {}
        self._starting: set[str] = set()  # conversations whose turn is being set up (awaits storage)
        self.core = RequestQueue()
        self._loaded = False
        self._loading: asyncio.Event | None = None
        self._draining = False
        self._again = False
        self._armed: int | None = None
        self._alarm_at: int | None = None
        self._published: Message | None = None
        self._scope: str | None = None  # the server the settings name (holds of another are dropped)

    # ------------------------------------------------------------------ turns

    def running(self) -> set[str]:
        """Conversations with a turn, or one about to start (what the queue counts as running)."""
        return set(self.turns) | self._starting

    def live(self, conversation_id: str) -> dict[str, Any] | None:
        """The streaming state of a conversation's turn, if one runs."""
        turn = self.turns.get(conversation_id)
        return turn.live() if turn is not None else None

    def stop(self, conversation_id: str) -> Turn | None:
        """Stop the conversation's turn, if one runs; return it."""
        turn = self.turns.get(conversation_id)
        if turn is not None:
            turn.stop()
        return turn

    async def launch(self, conversation: StoredConversation, user: StoredMessage, undo: Callable[[], None],
                     *, queued: bool = False, extra: dict[str, BaseModel] | None = None) -> str:
        """Add the assistant placeholder after ``user``, persist, run the turn once the reply is posted.

        ``queued``: ``user`` comes out of the queue (its turn says so); ``extra`` is stored
        in the same write (the queue without it).
        """
        # Counted as running from here: the awaits below must not let another message in
        # (a direct send, or the drain) start beside it.
        self._starting.add(conversation.id)
        try:
            settings = await self.settings.load()
            if not settings.offers(conversation.model):
                # Another provider's model (the panel switched providers since the last turn):
                # this provider's default answers, and the conversation goes on with it.
                conversation.model = settings.model
            key, allowed, refused = await self._credential(settings)
            now = self.clock_ms()
            assistant = StoredMessage(id=self.ids("m"), role="assistant", created_at=now,
                                      turn_id=self.ids("t"), model=conversation.model, streaming=True)
            # An answer written again takes the earlier ones as its versions (background.store.versions).
            kept = user.next_versions
            if kept:
                assistant.versions, assistant.version, user.next_versions = kept, len(kept), []
            # Right after its question: queued messages of this conversation may follow it.
            conversation.messages.insert(conversation.messages.index(user) + 1, assistant)
            conversation.updated_at = now
            try:
                await self.conversations.save(conversation, extra)
            except StorageFullError:
                conversation.messages.remove(assistant)
                user.next_versions = kept
                undo()
                raise ProtocolError("storage_full", STORAGE_FULL) from None
        finally:
            self._starting.discard(conversation.id)
        # Every request of this turn goes through a guard that refuses credentials outside
        # ``allowed``, whatever the code above decided (background.settings.credentials).
        deps = replace(self.deps, transport=guarded(self.deps.transport, lambda: allowed))
        turn = Turn(conversation, assistant, settings=settings, api_key=key, deps=deps,
                    send=self._sink(conversation.id), on_end=self._ended, on_limits=self._on_limits,
                    refused=refused, user=user if queued else None)
        self.turns[conversation.id] = turn
        self.core.note_started(now)
        self._after_reply(turn.start)
        assert assistant.turn_id is not None
        return assistant.turn_id

    async def _credential(self, settings: Settings) -> tuple[str | None, frozenset[str], Message | None]:
        """The key a turn may send, the origins its credential may go to, and why it may not.

        With an API key: the key only if the user approved the base URL's origin for it (a
        provider that takes no key gets the request without it).
        With ChatGPT sign-in: the tokens only to the ChatGPT backend (and token endpoint).
        """
        origin = origin_of(settings.api_base)
        if settings.auth_mode == "chatgpt":
            allowed = self.keys.chatgpt_origins(settings)
            if origin in allowed:
                return None, allowed, None
            return None, frozenset(), _refusal(
                f"Your ChatGPT sign-in is only sent to ChatGPT, not to {origin}. Open SidePy's settings "
                "and choose the OpenAI preset, or use an API key for this server.")
        stored = await self.keys.load()
        if stored is not None and origin not in (stored.origins or ()):
            if settings.takes_no_key:
                return None, frozenset({origin}), None  # the key stays home; the server needs none
            return None, frozenset(), _refusal(
                f"Your API key ({self.keys.masked() or 'saved'}) is not approved for {origin}. Open "
                "SidePy's settings to approve sending it there, or enter a key for this server.")
        return (stored.key if stored is not None else None), frozenset({origin}), None

    def _ended(self, turn: Turn) -> None:
        if self.turns.get(turn.conversation.id) is turn:
            del self.turns[turn.conversation.id]
        self.turn_ended(turn)

    async def _on_limits(self, limits: dict[str, Any]) -> None:
        self.note_limits(limits, self.clock_ms())  # a hold may begin or end with it
        self.limits.note(limits)  # stored behind the stream: the first words do not wait on it

    async def start_queued(self, item: QueueItem) -> None:
        """Start the turn of a queued message (the drain); drop it if it is gone."""
        self._starting.add(item.conversation_id)  # as running while storage is read
        try:
            conversation = await self.conversations.get(item.conversation_id)
        except StorageProblem:
            conversation = None
        finally:
            self._starting.discard(item.conversation_id)
        user = None
        if conversation is not None:
            user = next((m for m in conversation.messages if m.id == item.message_id and m.queued), None)
        # Out of the queue and un-queued in one step (no await between): ``settle`` never
        # sees a queued message without its entry.
        if self.core.remove(item.queue_id) is None:
            return  # cancelled meanwhile
        self.released(item)
        if conversation is None or user is None:
            await self.persist()  # deleted or edited away meanwhile
            return
        user.queued = False
        try:
            await self.launch(conversation, user, lambda: None, queued=True, extra=self.extra())
        except ProtocolError as exc:  # storage full: the message stays, unanswered; say why
            print(f"background: a queued message could not start: {exc}", file=sys.stderr)
            self.push_error(exc.code, str(exc))

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
        stored = await self.limits.stored()
        if stored is not None:  # saved by this worker's predecessor, for today's settings
            settings = await self.settings.load()
            core.note_snapshot(stored.limits, stored.at, scope_of(settings.provider, settings.base_url))

    async def check_scope(self) -> None:
        """Drop holds that another server set: the provider or base URL changed since."""
        settings = await self.settings.load()
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

    async def on_alarm(self, name: str) -> None:
        """A ``chrome.alarms`` alarm: the queue's own wakes the drain (the worker may have slept)."""
        if name == QUEUE_ALARM:
            await self.resume()

    def after_request(self, kind: str, result: Message | None, port_id: int | None = None) -> None:
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
                item = self.core.next_ready(self.clock_ms(), self.running())
                if item is not None:
                    await self.start_queued(item)
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

    def forget(self, conversation_id: str) -> None:
        """A conversation was deleted: its waiting messages go with it."""
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


def _refusal(message: str) -> Message:
    """The ``ErrorInfo`` of a turn whose credential may not go where the settings point."""
    return {"kind": "key_not_approved", "message": message, "retryable": False, "fields": {}}
