"""The steps a streamed script is made of, and the sink they write to.

Theory of operation: a stream body is produced by running steps in order against
a :class:`Sink`, the server's side of one open response. The sink writes bytes
(cut into pieces when a :class:`Chunking` step asked for it), sleeps, aborts the
socket or stalls. Steps never touch aiohttp, so this module is plain Python.

Steps share one :class:`~mockapi._payloads.ResponseContext` per request, so a text
:class:`Turn` followed by a :class:`Failed` agree on the response id and keep
``sequence_number`` increasing, as the live API does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

from ._payloads import (
    FAILED_MESSAGES,
    ResponseContext,
    output_text_part,
    rate_limit_message,
    split_deltas,
    sse_event,
    usage,
)

__all__ = [
    "KEEPALIVE",
    "MALFORMED_EVENT",
    "Chunking",
    "Cut",
    "Drip",
    "ErrorEvent",
    "Event",
    "Failed",
    "Raw",
    "Replay",
    "Sink",
    "Sleep",
    "Stall",
    "Start",
    "Step",
    "StreamEnd",
    "Turn",
]

KEEPALIVE = b": keepalive\n\n"
"""An SSE comment: bytes on the wire that no SSE parser dispatches."""

# Valid SSE framing, invalid JSON (the closing brace is missing): clients must skip it.
MALFORMED_EVENT = (
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
    b'"delta":"never closed"\n\n'
)


_ERROR_EVENT_MESSAGE = "The server had an error while processing your request. Sorry about that!"


class StreamEnd(Exception):
    """Raised by a sink to stop running steps (connection cut, stalled, server stopping)."""


class Sink(Protocol):
    """The server side of one open stream, as steps see it."""

    ctx: ResponseContext

    async def write(self, data: bytes) -> None:
        """Send ``data``, cut into pieces if chunking is on."""

    async def sleep(self, seconds: float) -> None:
        """Wait; raises :class:`StreamEnd` early if the server stops."""

    async def set_chunking(self, size: int | None, delay: float) -> None:
        """Cut what follows every ``size`` bytes, ``delay`` seconds apart (``None``: off)."""

    async def cut(self) -> NoReturn:
        """Abort the socket without the chunked body's terminator."""

    async def stall(self) -> NoReturn:
        """Send nothing more until the client hangs up or the server stops."""


# -- steps ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One SSE event with a verbatim payload; ``name`` defaults to the payload's ``type``."""

    payload: Mapping[str, Any]
    name: str | None = None

    async def run(self, sink: Sink) -> None:
        await sink.write(sse_event(self.payload, self.name))


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes sent as they are (partial lines, comments, garbage)."""

    data: bytes

    async def run(self, sink: Sink) -> None:
        await sink.write(self.data)


@dataclass(frozen=True, slots=True)
class Sleep:
    """Pause the stream for ``ms`` milliseconds."""

    ms: float

    async def run(self, sink: Sink) -> None:
        await sink.sleep(self.ms / 1000)


@dataclass(frozen=True, slots=True)
class Chunking:
    """From here on, write every ``size`` bytes as its own chunk (``None`` turns it off)."""

    size: int | None
    delay_ms: float = 0

    async def run(self, sink: Sink) -> None:
        if self.size is not None and self.size < 1:
            raise ValueError("chunk size must be >= 1")
        await sink.set_chunking(self.size, self.delay_ms / 1000)


@dataclass(frozen=True, slots=True)
class Replay:
    """Send an ``.sse`` file byte for byte, optionally pausing between its events."""

    path: str
    event_delay_ms: float = 0

    async def run(self, sink: Sink) -> None:
        data = Path(self.path).read_bytes()
        if not self.event_delay_ms:
            await sink.write(data)
            return
        for i, event in enumerate(re.split(rb"(?<=\n\n)", data)):
            if i:
                await sink.sleep(self.event_delay_ms / 1000)
            if event:
                await sink.write(event)


@dataclass(frozen=True, slots=True)
class Cut:
    """Drop the connection mid-body: the client sees an incomplete chunked read."""

    async def run(self, sink: Sink) -> None:
        await sink.cut()


@dataclass(frozen=True, slots=True)
class Stall:
    """Keep the connection open and silent (for idle-timeout tests)."""

    async def run(self, sink: Sink) -> None:
        await sink.stall()


@dataclass(frozen=True, slots=True)
class Drip:
    """Send ``payload`` every ``interval_ms`` for ``duration_ms`` (first one at once)."""

    interval_ms: float
    duration_ms: float
    payload: bytes = KEEPALIVE

    async def run(self, sink: Sink) -> None:
        if self.interval_ms <= 0:
            raise ValueError("drip interval must be > 0")
        deadline = time.monotonic() + self.duration_ms / 1000
        while True:
            await sink.write(self.payload)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await sink.sleep(min(self.interval_ms / 1000, left))


@dataclass(frozen=True, slots=True)
class Start:
    """``response.created`` + ``response.in_progress`` (once per request; a no-op after)."""

    async def run(self, sink: Sink) -> None:
        ctx = sink.ctx
        if ctx.started:
            return
        ctx.started = True
        for kind in ("response.created", "response.in_progress"):
            await sink.write(sse_event(ctx.event(kind, response=ctx.response("in_progress"))))


@dataclass(frozen=True, slots=True)
class Turn:
    """A realistic assistant text message, shaped like the recorded corpus streams.

    Fields:
        text: the reply; ``None`` echoes the request's last user message.
        deltas: explicit ``output_text.delta`` pieces (default: split ``text`` by words).
        delta_delay_ms: pause before every delta but the first.
        end: ``"completed"`` (done events + ``response.completed``), ``"incomplete"``
            (done events + ``response.incomplete`` with ``reason``), ``"completed_incomplete"``
            (a ``response.completed`` whose response says ``status: "incomplete"``, as
            bridges to Chat Completions send a cut answer) or ``"open"`` (stop after the
            deltas, so a later step decides how the stream ends).
        interleave: steps to run after the k-th delta (``0``: before the first).
        usage: the ``usage`` object; default: a rough count of request and reply.
    """

    text: str | None = None
    deltas: Sequence[str] | None = None
    delta_delay_ms: float = 0
    end: str = "completed"
    reason: str = "max_output_tokens"
    interleave: Mapping[int, Sequence[Step]] = field(default_factory=dict)
    usage: Mapping[str, Any] | None = None

    async def run(self, sink: Sink) -> None:
        if self.end not in ("completed", "incomplete", "completed_incomplete", "open"):
            raise ValueError(
                f"Turn.end must be completed, incomplete, completed_incomplete or open, not {self.end!r}"
            )
        ctx = sink.ctx
        text = ctx.echo_text() if self.text is None else self.text
        deltas = list(self.deltas) if self.deltas is not None else split_deltas(text)
        text = "".join(deltas)
        idx = len(ctx.output)

        async def emit(kind: str, **fields: Any) -> None:
            await sink.write(sse_event(ctx.event(kind, **fields)))

        await Start().run(sink)
        added = ctx.message_item(None, "in_progress")
        await emit("response.output_item.added", item=added, output_index=idx)
        where = {"item_id": ctx.message_id, "output_index": idx, "content_index": 0}
        await emit("response.content_part.added", **where, part=output_text_part(""))
        await self._extra(0, sink)
        for n, delta in enumerate(deltas, start=1):
            if n > 1 and self.delta_delay_ms:
                await sink.sleep(self.delta_delay_ms / 1000)
            await emit("response.output_text.delta", **where, delta=delta, logprobs=[])
            await self._extra(n, sink)
        if self.end == "open":
            return
        status = "completed" if self.end == "completed" else "incomplete"
        done_item = ctx.message_item(text, status)
        await emit("response.output_text.done", **where, text=text, logprobs=[])
        await emit("response.content_part.done", **where, part=output_text_part(text))
        await emit("response.output_item.done", item=done_item, output_index=idx)
        ctx.output.append(done_item)
        used = dict(self.usage) if self.usage else usage(ctx.input_tokens(), max(1, len(deltas)))
        if self.end == "completed":
            final = ctx.response("completed", usage=used)
            await emit("response.completed", response=final)
        else:
            details = {"reason": self.reason}
            final = ctx.response("incomplete", usage=used, incomplete_details=details)
            kind = "response.completed" if self.end == "completed_incomplete" else "response.incomplete"
            await emit(kind, response=final)

    async def _extra(self, after: int, sink: Sink) -> None:
        for step in self.interleave.get(after, ()):
            await step.run(sink)


@dataclass(frozen=True, slots=True)
class Failed:
    """A ``response.failed`` event; ``rate_limit_exceeded`` says "Please try again in …"."""

    code: str = "server_error"
    message: str | None = None
    retry_in: str = "1.5s"

    async def run(self, sink: Sink) -> None:
        ctx = sink.ctx
        message = self.message
        if message is None:
            if self.code == "rate_limit_exceeded":
                message = rate_limit_message(ctx.model, self.retry_in)
            else:
                message = FAILED_MESSAGES.get(self.code, "The model failed to generate a response.")
        error = {"code": self.code, "message": message}
        response = ctx.response("failed", output=[], error=error)
        await sink.write(sse_event(ctx.event("response.failed", response=response)))


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """A top-level ``error`` event: ``flat`` (API reference) or ``nested`` (as recorded)."""

    code: str = "server_error"
    message: str = _ERROR_EVENT_MESSAGE
    shape: str = "flat"
    error_type: str = "server_error"

    async def run(self, sink: Sink) -> None:
        if self.shape == "flat":
            payload = sink.ctx.event("error", code=self.code, message=self.message, param=None)
        elif self.shape == "nested":
            inner = {"type": self.error_type, "code": self.code, "message": self.message}
            payload = sink.ctx.event("error", error={**inner, "param": None})
        else:
            raise ValueError(f"ErrorEvent.shape must be flat or nested, not {self.shape!r}")
        await sink.write(sse_event(payload))


Step = (
    Event | Raw | Sleep | Chunking | Replay | Cut | Stall | Drip
    | Start | Turn | Failed | ErrorEvent
)
"""Any one step of a streamed script."""

