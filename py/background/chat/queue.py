"""The request queue's core: order, limits and holds, without I/O or a clock of its own.

Messages sent while a reply is being written, or while the account is
rate-limited, wait here (docs/protocol.md, "Request queue"). This module decides; the
service in :mod:`background.chat.scheduler` stores, times and starts turns.

**Order.** Higher ``priority`` first, then arrival (``seq``). Within one
conversation messages are always answered in the order they were sent (a reply
is written for the history before it), so only the oldest waiting message of a
conversation can go next; it carries the highest priority of the messages
queued behind it (they cannot go before it, so it goes as soon as they would).

**Holds.** Nothing starts while a hold is active; each names when it ends:

* the latest rate-limit snapshot (``RateLimits``, received at ``at``): the public
  API's ``requests``/``tokens`` with ``remaining == 0`` hold until their reset
  (``resets_in_seconds`` counts from ``at``); a ChatGPT (codex) window at 100 %
  holds until its ``resets_at`` (unix seconds) or ``resets_in_seconds``;
* a turn that ended with a 429: ``usage_limit_reached`` until its ``resets_at`` /
  ``resets_in_seconds`` (or the windows of the snapshot it carries); a plain 429
  (``retry_limit``, the request retries spent) for the server's last
  ``Retry-After``, else :attr:`QueueLimits.retry_hold_ms`;
* spacing: ``min_spacing_ms`` after the last turn started.

**Limits** (:class:`QueueLimits`): how many messages may wait, in all and per
conversation; how many turns may run at once (1: one at a time, whatever the
conversation; see docs/protocol.md for why); the spacing; the 429 fallback.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..store.storage import SCHEMA_VERSION

__all__ = [
    "QUEUE_KEY",
    "Hold",
    "QueueItem",
    "QueueLimits",
    "QueueRecord",
    "RequestQueue",
    "error_hold",
    "scope_of",
    "snapshot_hold",
]

QUEUE_KEY = "queue"
PREVIEW_CHARS = 80

HoldSource = Literal["requests", "tokens", "primary", "secondary", "usage_limit", "rate_limited", "spacing"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class QueueLimits(_Record):
    """The configurable limits (``queue.config``); defaults keep today's behaviour but one turn at a time."""

    max_queued: int = Field(20, ge=1, le=200)
    max_per_conversation: int = Field(10, ge=1, le=200)
    max_running: int = Field(1, ge=1, le=8)
    min_spacing_ms: int = Field(0, ge=0, le=600_000)
    retry_hold_ms: int = Field(30_000, ge=0, le=3_600_000)


class QueueItem(_Record):
    """One waiting message: the user message ``message_id`` of ``conversation_id``, stored ``queued``."""

    queue_id: str
    conversation_id: str
    message_id: str
    client_id: str | None = None
    priority: int = 0
    seq: int
    enqueued_at: int
    preview: str = ""


class Hold(_Record):
    """Nothing starts before ``until`` (epoch ms); ``reason`` is said to the user.

    ``scope`` names the server that said so (:func:`scope_of`): a hold from another
    provider or base URL does not hold this one.
    """

    until: int
    reason: str
    source: HoldSource
    scope: str | None = None


class QueueRecord(_Record):
    """What survives a worker restart, stored under ``queue`` (one write with the conversation)."""

    schema_: int = Field(SCHEMA_VERSION, alias="schema")
    items: list[QueueItem] = Field(default_factory=list)
    hold: Hold | None = None  # a 429's; the snapshot's holds are recomputed from ``limits``
    limits: QueueLimits = Field(default_factory=QueueLimits)
    next_seq: int = 1


def scope_of(provider: str, base_url: str) -> str:
    """Whose rate limits these are: the provider and base URL (never the key)."""
    return f"{provider} {base_url}"


def preview_text(text: str) -> str:
    """One line of at most :data:`PREVIEW_CHARS` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


# ---------------------------------------------------------------------------
# Holds from the rate-limit snapshot and from a 429
# ---------------------------------------------------------------------------


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _window_end(window: dict[str, Any], at_ms: int) -> int | None:
    resets_at = _number(window.get("resets_at"))
    if resets_at is not None:
        return int(resets_at * 1000)
    resets_in = _number(window.get("resets_in_seconds"))
    return None if resets_in is None else at_ms + int(resets_in * 1000)


def snapshot_hold(limits: dict[str, Any] | None, at_ms: int, now_ms: int) -> Hold | None:
    """The hold a ``RateLimits`` snapshot received at ``at_ms`` implies at ``now_ms`` (the latest end)."""
    if not limits:
        return None
    holds: list[Hold] = []
    families: tuple[HoldSource, ...] = ("requests", "tokens")
    for name in families:
        family = limits.get(name)
        if not isinstance(family, dict):
            continue
        remaining = _number(family.get("remaining"))
        secs = _number(family.get("resets_in_seconds"))
        if remaining is not None and remaining <= 0 and secs is not None:
            reason = f"Rate limit: no {name} left until the window resets"
            holds.append(Hold(until=at_ms + int(secs * 1000), reason=reason, source=name))
    windows: tuple[HoldSource, ...] = ("primary", "secondary")
    for name in windows:
        window = limits.get(name)
        if not isinstance(window, dict):
            continue
        used = _number(window.get("used_percent"))
        end = _window_end(window, at_ms)
        if used is not None and used >= 100 and end is not None:
            reason = "Usage limit: this window is used up until it resets"
            holds.append(Hold(until=end, reason=reason, source=name))
    return _latest(h for h in holds if h.until > now_ms)


def error_hold(
    error: dict[str, Any] | None, now_ms: int, *, retry_after_ms: int | None, fallback_ms: int
) -> Hold | None:
    """The hold a turn's final error implies: a 429's reset time, else ``None``.

    Args:
        error: the turn's ``ErrorInfo`` (``modelclient`` error ``to_json()``).
        retry_after_ms: the last delay the server asked for in this turn, if any.
        fallback_ms: the hold of a 429 that names no reset time.
    """
    if not error:
        return None
    kind = error.get("kind")
    raw = error.get("fields")
    fields: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if kind == "usage_limit_reached":
        # Relative first: "as of the response" is now on our clock, whatever the server's says.
        until: int | None = None
        secs = _number(fields.get("resets_in_seconds"))
        resets_at = fields.get("resets_at")
        if secs is not None:
            until = now_ms + int(secs * 1000)
        elif isinstance(resets_at, str):
            try:
                until = int(datetime.fromisoformat(resets_at).timestamp() * 1000)
            except ValueError:
                until = None
        carried = fields.get("rate_limits")
        from_windows = snapshot_hold(carried if isinstance(carried, dict) else None, now_ms, now_ms)
        if until is None and from_windows is not None:
            until = from_windows.until
        if until is None:
            until = now_ms + fallback_ms
        return Hold(until=until, reason="Usage limit reached: waiting until it resets", source="usage_limit")
    if kind == "retry_limit" and fields.get("status") == 429:
        wait = retry_after_ms if retry_after_ms is not None and retry_after_ms > 0 else fallback_ms
        return Hold(until=now_ms + wait, reason="Rate limited by the server (429)", source="rate_limited")
    return None


def _latest(holds: Iterable[Hold]) -> Hold | None:
    best: Hold | None = None
    for hold in holds:
        if best is None or hold.until > best.until:
            best = hold
    return best


# ---------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------


class RequestQueue:
    """Waiting messages, the holds and the limits; every method takes the time it needs."""

    def __init__(self, record: QueueRecord | None = None) -> None:
        record = record or QueueRecord()
        self.items: list[QueueItem] = list(record.items)
        self.hold: Hold | None = record.hold
        self.limits = record.limits
        self.next_seq = max([record.next_seq, *(i.seq + 1 for i in self.items)])
        self.snapshot: dict[str, Any] | None = None
        self.snapshot_at = 0
        self.snapshot_scope: str | None = None
        self.last_start: int | None = None  # memory only: spacing restarts with the worker

    def record(self) -> QueueRecord:
        """What to store."""
        return QueueRecord(items=list(self.items), hold=self.hold, limits=self.limits, next_seq=self.next_seq)

    # ---------------------------------------------------------------- changes

    def room(self, conversation_id: str) -> str | None:
        """Why one more message cannot wait (the queue is full), or ``None``."""
        if len(self.items) >= self.limits.max_queued:
            return f"The queue is full ({self.limits.max_queued} messages wait already)."
        mine = sum(1 for i in self.items if i.conversation_id == conversation_id)
        if mine >= self.limits.max_per_conversation:
            return f"{mine} messages already wait in this conversation (the limit)."
        return None

    def add(self, *, queue_id: str, conversation_id: str, message_id: str, text: str, priority: int,
            now_ms: int, client_id: str | None = None) -> QueueItem:
        """Append one message (check :meth:`room` first)."""
        item = QueueItem(queue_id=queue_id, conversation_id=conversation_id, message_id=message_id,
                         client_id=client_id, priority=priority, seq=self.next_seq, enqueued_at=now_ms,
                         preview=preview_text(text))
        self.next_seq += 1
        self.items.append(item)
        return item

    def remove(self, queue_id: str) -> QueueItem | None:
        """Take one message out (cancelled, or started)."""
        for item in self.items:
            if item.queue_id == queue_id:
                self.items.remove(item)
                return item
        return None

    def remove_conversation(self, conversation_id: str) -> list[QueueItem]:
        """Take out every message of a conversation (it was deleted)."""
        gone = [i for i in self.items if i.conversation_id == conversation_id]
        self.items = [i for i in self.items if i.conversation_id != conversation_id]
        return gone

    def note_snapshot(self, limits: dict[str, Any] | None, at_ms: int, scope: str | None = None) -> None:
        """The latest ``RateLimits`` snapshot (a newer one replaces it, and its holds)."""
        self.snapshot = limits
        self.snapshot_at = at_ms
        self.snapshot_scope = scope

    def rescope(self, scope: str) -> bool:
        """Drop the holds of another server (the settings changed); True when the 429's went."""
        if self.snapshot_scope not in (None, scope):
            self.snapshot = None
        if self.hold is not None and self.hold.scope not in (None, scope):
            self.hold = None
            return True
        return False

    def note_started(self, now_ms: int) -> None:
        """A turn started (spacing counts from here)."""
        self.last_start = now_ms

    def clear_holds(self) -> None:
        """Forget the 429's hold and the snapshot's (the user chose to try now)."""
        self.hold = None
        self.snapshot = None

    # ---------------------------------------------------------------- queries

    def order(self) -> list[QueueItem]:
        """The dispatch order (see the module docstring): positions are 1 + the index here."""
        left = sorted(self.items, key=lambda i: i.seq)
        out: list[QueueItem] = []
        while left:
            heads: dict[str, QueueItem] = {}
            best_priority: dict[str, int] = {}
            for item in left:
                cid = item.conversation_id
                heads.setdefault(cid, item)
                best_priority[cid] = max(best_priority.get(cid, item.priority), item.priority)
            chosen = min(heads.values(), key=lambda i: (-best_priority[i.conversation_id], i.seq))
            out.append(chosen)
            left.remove(chosen)
        return out

    def position(self, queue_id: str) -> int | None:
        """1-based place in :meth:`order`."""
        for at, item in enumerate(self.order()):
            if item.queue_id == queue_id:
                return at + 1
        return None

    def active_hold(self, now_ms: int) -> Hold | None:
        """The hold in force at ``now_ms`` (the one that ends last), if any."""
        holds: list[Hold] = []
        if self.hold is not None and self.hold.until > now_ms:
            holds.append(self.hold)
        from_snapshot = snapshot_hold(self.snapshot, self.snapshot_at, now_ms)
        if from_snapshot is not None:
            holds.append(from_snapshot)
        spacing = self.limits.min_spacing_ms
        if spacing and self.last_start is not None and self.last_start + spacing > now_ms:
            until = self.last_start + spacing
            holds.append(Hold(until=until, reason="Spacing requests out", source="spacing"))
        return _latest(holds)

    def can_start_now(self, conversation_id: str, now_ms: int, running: Collection[str]) -> bool:
        """Whether a new message may start at once rather than wait: room to run, no hold,
        its conversation idle with nothing queued, and no queued message that could go first."""
        if conversation_id in running or len(running) >= self.limits.max_running:
            return False
        if self.active_hold(now_ms) is not None:
            return False
        if any(i.conversation_id == conversation_id for i in self.items):
            return False
        return self.next_ready(now_ms, running) is None

    def next_ready(self, now_ms: int, running: Collection[str]) -> QueueItem | None:
        """The message to start now, if any: room to run, no hold, its conversation idle."""
        if not self.items or len(running) >= self.limits.max_running or self.active_hold(now_ms) is not None:
            return None
        blocked: set[str] = set(running)
        for item in self.order():
            if item.conversation_id not in blocked:
                return item
            blocked.add(item.conversation_id)  # a conversation's later messages wait for its first
        return None

    def view(self, now_ms: int) -> dict[str, Any]:
        """``QueueState`` of docs/protocol.md (without ``type``)."""
        hold = self.active_hold(now_ms) if self.items else None
        items = []
        for at, item in enumerate(self.order()):
            entry: dict[str, Any] = {
                "queue_id": item.queue_id,
                "conversation_id": item.conversation_id,
                "message_id": item.message_id,
                "preview": item.preview,
                "priority": item.priority,
                "position": at + 1,
                "enqueued_at": item.enqueued_at,
            }
            if item.client_id is not None:
                entry["client_id"] = item.client_id
            if hold is not None:
                entry["hold_until"] = hold.until
            items.append(entry)
        state: dict[str, Any] = {"items": items, "limits": self.limits.model_dump()}
        if hold is not None:
            state["hold"] = hold.model_dump()
        return state
