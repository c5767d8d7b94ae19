"""Sans-IO server-sent-events framing: bytes in, ``ServerSentEvent`` values out.

Strategy (WHATWG HTML, "Server-sent events" § "Parsing an event stream" and
"Interpreting an event stream",
https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream):

* ``SSEDecoder.feed(chunk)`` takes whatever bytes the transport produced and
  returns the events those bytes completed; ``close()`` marks the end of the
  stream. The decoder never reads a socket, never waits and never raises on
  input: every byte sequence is a valid (if possibly empty) event stream.
* Line ends are LF, CR and CRLF. Only the bytes ``0x0A``/``0x0D`` end lines, and
  neither can occur inside a multi-byte UTF-8 sequence, so we cut complete
  lines on bytes first and decode each completed block in one call
  (``errors="replace"`` turns invalid UTF-8 into U+FFFD exactly as a streaming
  decoder would). A CR that ends a chunk is a line end at once; a LF at the
  start of the next chunk is then swallowed (the CRLF split across chunks).
* Bytes after the last line end of a chunk wait in ``_pending``, a list of
  pieces joined only when their line ends, so a huge line fed in many small
  chunks costs linear time: nothing is re-scanned from the start.
* One UTF-8 BOM is skipped at the very start of the stream only (it may arrive
  split across chunks). A BOM anywhere else is ordinary text.
* At end of stream the unterminated line and the undispatched event are
  discarded, as the spec says; ``close()`` therefore dispatches nothing.

This module is pure and does no I/O; it is the hot path in Pyodide, so the
line loop keeps to C-level ``bytes``/``str`` operations.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_LF = 0x0A
_CR = 0x0D


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event of an event stream.

    Fields:

    .. attribute:: event

       The event type: the last ``event:`` value of the block, or
       ``"message"`` when the block had none (or an empty one), as the spec's
       dispatch step says.

    .. attribute:: data

       The ``data:`` lines of the block joined with ``"\\n"`` (the one trailing
       LF of the spec's data buffer removed). May be ``""`` (a bare ``data:``).

    .. attribute:: id

       The stream's last event ID when this event was dispatched. It persists
       across events until an ``id:`` field changes it; ``""`` if none yet.

    .. attribute:: retry

       The reconnection time in milliseconds in effect at dispatch, or
       ``None`` if no valid ``retry:`` field has been seen.
    """

    event: str
    data: str
    id: str = ""
    retry: int | None = None


class SSEDecoder:
    """Incremental WHATWG event-stream parser.

    Feed it the response body in chunks of any size, in order::

        decoder = SSEDecoder()
        for chunk in body:
            for sse in decoder.feed(chunk):
                ...
        decoder.close()

    Splitting the same bytes differently never changes the events produced.
    ``last_event_id`` and ``retry`` expose the stream state a reconnecting
    client would need.
    """

    __slots__ = (
        "_at_start",
        "_closed",
        "_data",
        "_event",
        "_head",
        "_id_buffer",
        "_last_event_id",
        "_pending",
        "_retry",
        "_skip_lf",
    )

    def __init__(self) -> None:
        # Byte-level state.
        self._at_start = True  # still deciding whether the stream opens with a BOM
        self._head = b""  # a BOM prefix held back while undecided
        self._pending: list[bytes] = []  # pieces of the current unterminated line
        self._skip_lf = False  # previous chunk ended in CR: a leading LF is its pair
        self._closed = False
        # Event-level state (the spec's buffers).
        self._data: list[str] = []  # data buffer, one entry per data line
        self._event = ""  # event type buffer
        self._id_buffer = ""  # last event ID buffer (set by id:, read at dispatch)
        self._last_event_id = ""  # last event ID string (committed by a blank line)
        self._retry: int | None = None  # reconnection time

    @property
    def last_event_id(self) -> str:
        """The last event ID string, as committed by the most recent blank line."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in ms from the last valid ``retry:`` field, if any."""
        return self._retry

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Consume ``data`` and return the events it completed (possibly none).

        Raises:
            RuntimeError: if called after :meth:`close`.
        """
        if self._closed:
            raise RuntimeError("SSEDecoder.feed() called after close()")
        if not data:
            return []
        if self._at_start:
            # WHATWG: "One leading U+FEFF BYTE ORDER MARK character must be
            # ignored if any are present." Decide once 3 bytes are known.
            head = self._head + data
            if len(head) < len(_BOM) and _BOM.startswith(head):
                self._head = head
                return []
            self._at_start = False
            self._head = b""
            data = head[len(_BOM) :] if head.startswith(_BOM) else head
            if not data:
                return []
        if self._skip_lf:
            self._skip_lf = False
            if data[0] == _LF:
                data = data[1:]
                if not data:
                    return []

        end = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if end < 0:
            self._pending.append(data)  # no line end yet: keep the piece, scan nothing twice
            return []
        size = len(data)
        if end == size - 1:
            block = data
            if data[end] == _CR:
                self._skip_lf = True
        else:
            block = data[: end + 1]
        if self._pending:
            self._pending.append(block)
            block = b"".join(self._pending)
            self._pending = []
        if end != size - 1:
            self._pending.append(data[end + 1 :])
        return self._lines(block)

    def close(self) -> list[ServerSentEvent]:
        """Mark the end of the stream.

        WHATWG: "Once the end of the file is reached, any pending data must be
        discarded. (If the file ends in the middle of an event, before the final
        empty line, the incomplete event is not dispatched.)" Lines are
        processed as soon as their line end arrives (a trailing CR included),
        so nothing is left to dispatch; the list is always empty. Calling
        ``close()`` twice is harmless.
        """
        self._closed = True
        self._pending = []
        self._head = b""
        self._data = []
        self._event = ""
        return []

    def _lines(self, block: bytes) -> list[ServerSentEvent]:
        # ``block`` holds only complete lines and ends with a line end.
        text = block.decode("utf-8", "replace")
        if "\r" in text:
            # A CRLF is never split inside a block (see feed), so normalising
            # here is exact: CRLF -> LF first, then a lone CR -> LF.
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        lines.pop()  # the empty string after the final line end

        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            if not line:
                # Blank line: dispatch. The id buffer is committed even when
                # the data buffer is empty and nothing is dispatched.
                self._last_event_id = self._id_buffer
                if data:
                    events.append(
                        ServerSentEvent(
                            self._event or "message",
                            "\n".join(data),
                            self._last_event_id,
                            self._retry,
                        )
                    )
                    data = []
                self._event = ""
                continue
            colon = line.find(":")
            if colon == 0:
                continue  # a comment (also the usual keep-alive)
            if colon < 0:
                name = line  # "the whole line is the field name, the value is empty"
                value = ""
            else:
                name = line[:colon]
                # Strip exactly one U+0020 after the colon; a tab is kept.
                value = line[colon + 2 :] if line.startswith(" ", colon + 1) else line[colon + 1 :]
            if name == "data":
                data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\x00" not in value:  # an id containing NUL is ignored
                    self._id_buffer = value
            # "If the field value consists of only ASCII digits ..."; anything
            # else (a sign, a dot, a space, empty) is ignored.
            elif name == "retry" and value.isascii() and value.isdigit():
                self._retry = int(value)
            # Any other field name (wrong case, a BOM-prefixed name...) is ignored.
        self._data = data
        return events
