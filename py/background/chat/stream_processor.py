"""Forward a turn's events to the panel: batched, bounded, in order.

Two layers, in h11's manner:

* :class:`StreamProcessor` is **sans-IO**: deltas and events go in with the time
  (``now``, seconds, injected), protocol messages come out through
  :meth:`~StreamProcessor.peek` / :meth:`~StreamProcessor.commit`. No clock, no
  task, no port.
* :class:`Pump` is the thin async shell: it feeds the processor, sends what is
  ready through ``send`` and arms one timer so a window closes even when the
  model pauses.

Batching: text deltas that arrive within one window (``window``, 16 ms: one
frame) leave as **one** ``turn.delta``; reasoning deltas likewise as one
``turn.reasoning``. The window is opened by a batch leaving, not by a delta
arriving: a delta that comes after a pause of a window or more (the first one of
a reply, above all) leaves at once, and the deltas after it wait for the rest of
that window. So the first words are painted a frame sooner, and a steady stream
still makes one message per frame. Any other event closes the open window first,
so the panel sees everything in the order the model produced it.

Backpressure: ``send`` returns ``False`` when a message cannot go out now (the
panel is slow or gone); the message stays at the head of the queue and is tried
again on the next delta, timer or finish. Meanwhile new text is **appended to
the queued batch** at the tail instead of making a new entry, so a slow panel
gets fewer, larger batches and never a gap. The queue is bounded
(``max_queue``): past it, every batch is merged into the first queued batch of
its kind. Answer text and reasoning are shown in separate places and side
events (search, limits) are indicators, so what must keep its order is the text
within each kind, and it does. Side events with a key keep only their latest
version. The one thing ever removed is what the panel is told to throw away:
``turn.reconnecting`` means "drop the partial answer", so queued deltas of the
failed attempt are dropped with it.

Memory stays flat over a long reply: the window holds the deltas of 16 ms, each
queued batch is one ``StringIO``, and the reply so far (what is persisted every
~2 s) is one more ``StringIO`` (:attr:`StreamProcessor.answer`). ``seq`` is
assigned when a batch is actually sent, so merged batches leave no gap.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

__all__ = ["DEFAULT_MAX_QUEUE", "DEFAULT_WINDOW_S", "Pump", "StreamProcessor"]

Message = dict[str, Any]

DEFAULT_WINDOW_S = 0.016
DEFAULT_MAX_QUEUE = 64

_TEXT = "turn.delta"
_REASONING = "turn.reasoning"


class _Entry:
    """One queued outgoing message: a text/reasoning batch, or an event."""

    __slots__ = ("buf", "key", "kind", "message", "sticky")

    def __init__(self, kind: str, *, buf: io.StringIO | None = None, message: Message | None = None,
                 key: str | None = None, sticky: bool = False) -> None:
        self.kind = kind  # _TEXT, _REASONING or "event"
        self.buf = buf
        self.message = message
        self.key = key  # events with the same key replace each other (latest wins)
        self.sticky = sticky  # survives a reconnect (turn.started, turn.limits)


class StreamProcessor:
    """Sans-IO batching and backpressure for one turn.

    Args:
        base: fields every message carries (``conversation_id``, ``turn_id``).
        window: seconds of deltas coalesced into one batch.
        max_queue: bound on queued messages.
    """

    def __init__(
        self, base: Message, *, window: float = DEFAULT_WINDOW_S, max_queue: int = DEFAULT_MAX_QUEUE
    ) -> None:
        if max_queue < 4:
            raise ValueError("max_queue must be at least 4")
        self.base = dict(base)
        self.window = window
        self.max_queue = max_queue
        self.seq = 0  # seq of the last sent turn.delta / turn.reasoning
        self.answer = io.StringIO()  # the reply text of the current attempt
        self.reasoning_text = io.StringIO()
        self.peak_queue = 0  # the largest queue seen (tests, diagnostics)
        self._queue: deque[_Entry] = deque()
        self._runs: list[list[Any]] = []  # the open window: [[kind, [pieces]], ...]
        self._window_start: float | None = None
        self._formed_at: float | None = None  # when the last text batch was formed

    # ---------------------------------------------------------------------- input

    def text(self, delta: str, now: float) -> None:
        """Append answer text."""
        self.answer.write(delta)
        self._add(_TEXT, delta, now)

    def reasoning(self, delta: str, now: float) -> None:
        """Append reasoning-summary text."""
        self.reasoning_text.write(delta)
        self._add(_REASONING, delta, now)

    def event(self, message: Message, *, key: str | None = None, sticky: bool = False) -> None:
        """Queue a non-text message after everything before it (``key``: latest wins)."""
        self.close_window()
        if key is not None:
            for entry in list(self._queue):
                if entry.key == key:
                    self._queue.remove(entry)
        self._push(_Entry("event", message={**self.base, **message}, key=key, sticky=sticky))

    def restart(self, message: Message) -> None:
        """A reconnect: the answer starts over; queue ``message`` and drop what it voids."""
        self.close_window()
        # A later reconnect notice replaces an unsent earlier one; it is sticky so
        # squeezing never drops it (the panel must learn that its text is void).
        self._queue = deque(e for e in self._queue if e.sticky and e.key != "reconnecting")
        self.answer = io.StringIO()
        self.reasoning_text = io.StringIO()
        self._push(_Entry("event", message={**self.base, **message}, key="reconnecting", sticky=True))

    def close_window(self) -> None:
        """Turn the open window's deltas into queued batches now."""
        for kind, pieces in self._runs:
            tail = self._queue[-1] if self._queue else None
            if tail is not None and tail.kind == kind and tail.buf is not None:
                for piece in pieces:  # the panel is behind: grow the batch it has not got yet
                    tail.buf.write(piece)
            else:
                buf = io.StringIO()
                for piece in pieces:
                    buf.write(piece)
                self._push(_Entry(kind, buf=buf))
        self._runs = []
        self._window_start = None

    # --------------------------------------------------------------------- output

    @property
    def deadline(self) -> float | None:
        """When the open window closes (``None`` if no window is open)."""
        return None if self._window_start is None else self._window_start + self.window

    @property
    def queued(self) -> int:
        """Messages waiting to be sent."""
        return len(self._queue)

    def peek(self, now: float) -> Message | None:
        """The next message to send, or ``None``; call :meth:`commit` once it went out."""
        if self._window_start is not None and now >= self._window_start + self.window:
            self._formed_at = self._window_start + self.window
            self.close_window()
        if not self._queue:
            return None
        entry = self._queue[0]
        if entry.buf is None:
            assert entry.message is not None
            return entry.message
        return {**self.base, "type": entry.kind, "text": entry.buf.getvalue(), "seq": self.seq + 1}

    def commit(self) -> None:
        """The message from :meth:`peek` was sent: drop it (and count its ``seq``)."""
        entry = self._queue.popleft()
        if entry.buf is not None:
            self.seq += 1

    def discard(self) -> None:
        """Forget everything queued (the turn ended; its final message carries the full text)."""
        self._queue.clear()
        self._runs = []
        self._window_start = None
        self._formed_at = None

    # ------------------------------------------------------------------ internals

    def _add(self, kind: str, delta: str, now: float) -> None:
        if not delta:
            return
        if self._runs and self._runs[-1][0] == kind:
            self._runs[-1][1].append(delta)
        else:
            self._runs.append([kind, [delta]])
        if self._window_start is None:
            if self._formed_at is None or now >= self._formed_at + self.window:
                self._formed_at = now  # after a pause: leave at once, and open the window
                self.close_window()
                return
            self._window_start = self._formed_at  # the window the last batch opened
        if now >= self._window_start + self.window:
            self._formed_at = now
            self.close_window()

    def _push(self, entry: _Entry) -> None:
        self._queue.append(entry)
        if len(self._queue) > self.max_queue:
            self._squeeze()
        self.peak_queue = max(self.peak_queue, len(self._queue))

    def _squeeze(self) -> None:
        """Bring the queue under its bound without losing text or order within text.

        Batches of one kind are merged into the first of their kind (side
        events between them are only indicators, so the text reaching the panel
        a little earlier than a search badge is harmless); events with a key
        keep their latest version (already done on insert); as a last resort
        the oldest side events go (the final message lists every search).
        """
        first: dict[str, _Entry] = {}
        kept: deque[_Entry] = deque()
        for entry in self._queue:
            if entry.buf is not None:
                head = first.get(entry.kind)
                if head is not None:
                    assert head.buf is not None
                    head.buf.write(entry.buf.getvalue())
                    continue
                first[entry.kind] = entry
            kept.append(entry)
        while len(kept) > self.max_queue:
            victim = next((e for e in kept if e.buf is None and not e.sticky), None)
            if victim is None:
                break
            kept.remove(victim)
        self._queue = kept


Send = Callable[[Message], bool]
Spawn = Callable[[Coroutine[Any, Any, None]], object]


class Pump:
    """Async shell around a :class:`StreamProcessor`: sends what is due, one timer at a time.

    Args:
        processor: the sans-IO core.
        send: posts one message; ``False`` = could not deliver now (keep it queued).
        clock: monotonic seconds.
        sleep: waits (``asyncio.sleep``).
        spawn: starts the window timer as a task (``asyncio.ensure_future``).
    """

    def __init__(self, processor: StreamProcessor, send: Send, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]], spawn: Spawn) -> None:
        self.processor = processor
        self._send = send
        self._clock = clock
        self._sleep = sleep
        self._spawn = spawn
        self._armed = False
        self._finished = False

    def text(self, delta: str) -> None:
        """Forward answer text (batched)."""
        self.processor.text(delta, self._clock())
        self._after_input()

    def reasoning(self, delta: str) -> None:
        """Forward reasoning text (batched)."""
        self.processor.reasoning(delta, self._clock())
        self._after_input()

    def event(self, message: Message, *, key: str | None = None, sticky: bool = False) -> None:
        """Forward an event at once, after any text before it."""
        self.processor.event(message, key=key, sticky=sticky)
        self.drain()

    def restart(self, message: Message) -> None:
        """Forward a reconnect notice; the answer starts over."""
        self.processor.restart(message)
        self.drain()

    def flush(self) -> None:
        """Close the open window and send everything the panel will take now."""
        self.processor.close_window()
        self.drain()

    def finish(self, final: Message) -> None:
        """Send what is queued, then the turn's final message (which carries the full text)."""
        self._finished = True
        self.flush()
        self.processor.discard()
        self._send(final)

    def drain(self) -> None:
        """Send queued messages until the queue is empty or ``send`` refuses."""
        now = self._clock()
        while (message := self.processor.peek(now)) is not None:
            if not self._send(message):
                return
            self.processor.commit()

    def _after_input(self) -> None:
        self.drain()
        deadline = self.processor.deadline
        if deadline is not None and not self._armed and not self._finished:
            self._armed = True
            self._spawn(self._timer(max(deadline - self._clock(), 0.0)))

    async def _timer(self, delay: float) -> None:
        await self._sleep(delay)
        self._armed = False
        if not self._finished:
            self.flush()
