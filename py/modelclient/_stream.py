"""Sans-IO ``process_sse``: ``ServerSentEvent`` in, ``ResponseEvent`` out.

This is Codex's ``process_sse`` without the channel, the timer and the socket.
The caller owns the I/O and the idle timeout::

    decoder, parser = SSEDecoder(), ResponseStreamParser()
    async for chunk in body:
        for sse in decoder.feed(chunk):
            for event in parser.feed(sse):
                yield event
        if parser.completed:
            break            # Rust C: stop reading once Completed is out
    decoder.close()
    parser.close()           # raises unless Completed was produced

Contract:

* Dispatch is on the JSON ``type`` inside ``data``, never on the SSE ``event:``
  name. Data that is not a JSON object with a string ``type`` (and, where
  present, a string ``delta``) is skipped and counted in ``malformed_count``;
  it is never fatal; ``Completed.malformed_events`` reports the count. ``data:
  [DONE]`` is an end sentinel, not malformed. A ``data:`` object with no
  ``type`` but an ``error`` is read as an ``error`` event. Unknown types, and the
  ones Rust ignores (listed above ``_HANDLERS``), produce nothing.
* ``Completed`` is returned as soon as ``response.completed`` arrives (Rust C,
  fixing A/B's "only at EOF"); afterwards ``feed`` returns nothing. Items that
  ``response.completed.output`` lists and no ``output_item.done`` announced
  come first, as ``OutputItemDone`` (ours: Rust drops them). ``Completed``
  carries the response's ``status`` and, for ``incomplete`` / ``failed``, why.
* ``response.failed``, ``response.incomplete`` and (ours; Rust ignores it) the
  top-level ``error`` event only *record* an error (a later one replaces an
  earlier one); ``close()`` raises it when the stream ends without
  ``Completed``, else ``StreamError("stream closed before
  response.completed")``. ``Completed`` wins over a recorded error.
* Event data is decoded with :func:`._json.loads_untrusted`, which refuses
  NaN/Infinity and nesting of 128 or more, as serde_json does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from ._errors import (
    ContextWindowExceededError,
    CyberPolicyError,
    InvalidRequestError,
    ModelClientError,
    QuotaExceededError,
    ServerOverloadedError,
    StreamError,
    UsageNotIncludedError,
)
from ._events import (
    Completed,
    Created,
    JsonObject,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    ReasoningContentDelta,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    ResponseEvent,
    WebSearchCallBegin,
)
from ._json import loads_untrusted
from ._retry import try_parse_retry_after
from ._sse import ServerSentEvent
from ._usage import TokenUsage, json_kind

__all__ = ["DONE_SENTINEL", "ResponseStreamParser"]

#: The data of the end sentinel some servers send after the last event.
DONE_SENTINEL = "[DONE]"

_TEXT_DELTA = "response.output_text.delta"  # by far the most frequent type


def _index(obj: JsonObject, key: str) -> int | None:
    # Version A does not read the B+ indices at all, so a missing or odd value
    # never drops the event here; it is just reported as unknown.
    value = obj.get(key)
    return value if type(value) is int else None


def _item(obj: JsonObject) -> JsonObject | None:
    # Rust parses `item` as a `ResponseItem` (internally tagged by `type`,
    # unknown types parse as `Other`) and skips the event if that fails.
    item = obj.get("item")
    if type(item) is dict and type(item.get("type")) is str:
        return item
    return None


def _response_id(response: object) -> str | None:
    if type(response) is dict:
        rid = response.get("id")
        if type(rid) is str:
            return rid
    return None


# Rust's `struct Error` of `response.failed`: every field optional; a present
# field of the wrong type makes the whole object fail to parse.
_ERROR_STR_FIELDS = ("type", "code", "message", "plan_type")
_ERROR_INT_FIELDS = ("resets_in_seconds", "resets_at")  # A: u64, B/C: i64


def _error_struct_problem(error: object) -> str | None:
    """Why ``error`` would not deserialize as Rust's ``Error``, or ``None`` if it would."""
    if type(error) is not dict:
        return f"invalid type: {json_kind(error)}, expected struct Error"
    for key in _ERROR_STR_FIELDS:
        value = error.get(key)
        if value is not None and type(value) is not str:
            return f"invalid type: {json_kind(value)}, expected a string"
    for key in _ERROR_INT_FIELDS:
        value = error.get(key)
        if value is not None and type(value) is not int:
            return f"invalid type: {json_kind(value)}, expected i64"
    resets_in = error.get("resets_in_seconds")
    if type(resets_in) is int and resets_in < 0:
        return f"invalid value: integer `{resets_in}`, expected u64"
    return None


def _classify_code(error: JsonObject, product: str | None) -> ModelClientError | None:
    """The fatal error an error object's ``code`` names (C's order), else ``None``."""
    code = error.get("code")
    if code == "context_length_exceeded":  # fatal since 90ef94d3 (2025-10-04)
        return ContextWindowExceededError(product)
    if code == "insufficient_quota":  # fatal since 0c647bc5 (B, 2025-11-06)
        return QuotaExceededError()
    if code == "usage_not_included":  # C
        return UsageNotIncludedError(product)
    if code == "cyber_policy":  # C
        return CyberPolicyError(error.get("message"))
    if code == "invalid_prompt":  # C
        return InvalidRequestError(error.get("message") or "Invalid request.")
    if code in ("server_is_overloaded", "slow_down"):  # C
        return ServerOverloadedError()
    return None


def _classify_failed(response: object, product: str | None = None) -> ModelClientError:
    """The error a ``response.failed`` records: A, with B's and C's fatal codes."""
    if type(response) is not dict or "error" not in response:
        return StreamError("response.failed event received")
    error = response["error"]
    problem = _error_struct_problem(error)
    if problem is not None:
        return StreamError(f"failed to parse ErrorResponse: {problem}")
    fatal = _classify_code(error, product)
    if fatal is not None:
        return fatal
    # Anything else is retryable; the delay comes only from a rate-limit
    # message ("Please try again in 11.054s"), via the B/C regex.
    return StreamError(error.get("message") or "", try_parse_retry_after(error))


def classify_error_event(obj: JsonObject, data: str, product: str | None = None) -> ModelClientError:
    """The error a top-level ``error`` event records (ours: Rust A/B/C ignore it).

    Three shapes: the live API nests ``{"type": "error", "error": {"type", "code",
    "message", "param"}}``; the API reference documents it flat, ``{"type":
    "error", "code", "message", "param"}``; some servers send ``{"error": {...}}``
    with no ``type`` at all (as an event, or as a whole 200 body), or
    ``{"error": "text"}``. The ``code`` is classified as in ``response.failed``
    (the fatal codes of C). Then a request the server rejects (``code``
    ``invalid_request_error``, or ``type`` ``invalid_request_error``) is a fatal
    :class:`InvalidRequestError`. The code is looked at before the type because
    the API sends ``context_length_exceeded`` with type ``invalid_request_error``.
    """
    nested = obj.get("error")
    if type(nested) is str:
        return StreamError(nested or "error event received")
    error: JsonObject = nested if type(nested) is dict else obj
    problem = _error_struct_problem(error)
    if problem is not None:
        return StreamError(f"failed to parse error event: {problem}")
    fatal = _classify_code(error, product)
    if fatal is not None:
        if isinstance(fatal, InvalidRequestError):
            fatal.body = data
        return fatal
    code = error.get("code")
    message = error.get("message")
    if code != "rate_limit_exceeded" and (
        code == "invalid_request_error" or error.get("type") == "invalid_request_error"
    ):
        return InvalidRequestError(message or "Invalid request.", data)
    # server_error and anything else: retryable. Unlike response.failed, never
    # an empty message: that would leave the user with nothing to go on.
    if not message:
        message = f"error event received ({code})" if code else "error event received"
    return StreamError(message, try_parse_retry_after(error))


def _completion_reason(response: JsonObject) -> str:
    """Why a ``response.completed`` says ``incomplete`` / ``failed``."""
    details = response.get("incomplete_details")
    if type(details) is dict and type(details.get("reason")) is str:
        return str(details["reason"])
    error = response.get("error")
    if type(error) is dict:
        for key in ("message", "code"):
            if type(error.get(key)) is str and error[key]:
                return str(error[key])
    return "unknown"


class ResponseStreamParser:
    """Turns dispatched SSEs of one Responses API stream into ``ResponseEvent`` values.

    One parser per HTTP response. ``feed`` never raises on any input; ``close``
    raises the stream's error, if it ended without ``Completed``.

    Args:
        product: the product named in error texts where Codex names itself.
    """

    __slots__ = (
        "_completed",
        "_done_count",
        "_done_ids",
        "_error",
        "_malformed",
        "_product",
        "_response_id",
        "_saw_done",
        "_seen",
    )

    def __init__(self, *, product: str | None = None) -> None:
        self._completed = False
        self._error: ModelClientError | None = None
        self._malformed = 0
        self._response_id: str | None = None
        self._saw_done = False
        self._seen = False
        self._product = product
        self._done_ids: set[str] = set()
        self._done_count = 0

    @property
    def completed(self) -> bool:
        """Whether ``Completed`` has been produced (the caller may stop reading)."""
        return self._completed

    @property
    def error(self) -> ModelClientError | None:
        """The error recorded so far (``response.failed`` / ``.incomplete`` / ``error`` /
        a bad ``response.completed``); raised by :meth:`close` unless ``Completed`` came."""
        return self._error

    @property
    def malformed_count(self) -> int:
        """How many events were skipped because their data was not a usable JSON event."""
        return self._malformed

    @property
    def saw_event(self) -> bool:
        """Whether any event was fed at all (a JSON body sent as SSE feeds none)."""
        return self._seen

    @property
    def saw_done(self) -> bool:
        """Whether a ``data: [DONE]`` sentinel was seen."""
        return self._saw_done

    @property
    def response_id(self) -> str | None:
        """The latest ``response.id`` seen in a created/completed/failed/incomplete event.

        Not part of Rust's events (``Created`` carries nothing); kept so a
        failed or cut-off stream can still be matched to its response.
        """
        return self._response_id

    def feed(self, sse: ServerSentEvent) -> list[ResponseEvent]:
        """Process one dispatched SSE; return the events it produces (often none)."""
        data = sse.data
        self._seen = True
        if self._completed:
            # Rust C returns from process_sse right after Completed; we only
            # still note a trailing sentinel.
            self._saw_done = self._saw_done or data == DONE_SENTINEL
            return []
        try:
            obj = loads_untrusted(data)
        except ValueError:  # bad JSON, NaN/Infinity, nested 128 deep
            if data == DONE_SENTINEL:
                self._saw_done = True
            else:
                self._malformed += 1
            return []
        if type(obj) is not dict:
            self._malformed += 1
            return []
        kind = obj.get("type")
        delta = obj.get("delta")
        # Rust's `SseEvent { type: String, delta: Option<String>, .. }` fails to
        # parse (and the event is skipped) when either has the wrong type.
        if type(kind) is not str or (delta is not None and type(delta) is not str):
            if kind is None and "error" in obj:  # ours: `data: {"error": {...}}`, no type
                self._error = classify_error_event(obj, data, self._product)
            else:
                self._malformed += 1
            return []
        if kind == _TEXT_DELTA:
            return [] if delta is None else [OutputTextDelta(delta)]
        if kind == "error":  # ours; its handler wants the raw data for the error's body
            self._error = classify_error_event(obj, data, self._product)
            return []
        handler = _HANDLERS.get(kind)
        return [] if handler is None else handler(self, obj)

    def close(self) -> None:
        """Mark the end of the byte stream.

        Raises:
            ModelClientError: the recorded error, or
                ``StreamError("stream closed before response.completed")``, when
                no ``Completed`` was produced.
        """
        if self._completed:
            return
        raise self._error or StreamError("stream closed before response.completed")

    # -- handlers, one per SSE `type` that produces something --

    def _on_created(self, obj: JsonObject) -> list[ResponseEvent]:
        response = obj.get("response")
        if response is None:  # Rust: `Created` only if `response` is present
            return []
        self._response_id = _response_id(response) or self._response_id
        return [Created()]

    def _on_output_item_done(self, obj: JsonObject) -> list[ResponseEvent]:
        item = _item(obj)
        if item is None:
            return []
        self._done_count += 1
        item_id = item.get("id")
        if type(item_id) is str:
            self._done_ids.add(item_id)
        return [OutputItemDone(item)]

    def _on_output_item_added(self, obj: JsonObject) -> list[ResponseEvent]:
        events: list[ResponseEvent] = []
        item = _item(obj)
        if item is not None:
            events.append(OutputItemAdded(item))  # B+
            if item["type"] == "web_search_call":  # A
                call_id = item.get("id")
                events.append(WebSearchCallBegin(call_id if type(call_id) is str else ""))
        return events

    def _on_reasoning_summary_delta(self, obj: JsonObject) -> list[ResponseEvent]:
        delta = obj.get("delta")
        if delta is None:
            return []
        return [ReasoningSummaryDelta(delta, _index(obj, "summary_index"))]

    def _on_reasoning_content_delta(self, obj: JsonObject) -> list[ResponseEvent]:
        delta = obj.get("delta")
        if delta is None:
            return []
        return [ReasoningContentDelta(delta, _index(obj, "content_index"))]

    def _on_reasoning_summary_part_added(self, obj: JsonObject) -> list[ResponseEvent]:
        return [ReasoningSummaryPartAdded(_index(obj, "summary_index"))]

    def _on_completed(self, obj: JsonObject) -> list[ResponseEvent]:
        response = obj.get("response")
        if response is None:
            return []
        try:
            response_id, usage = _parse_completed(response)
        except ValueError as exc:
            self._error = StreamError(f"failed to parse ResponseCompleted: {exc}")
            return []
        assert type(response) is dict  # _parse_completed checked it
        self._response_id = response_id
        self._completed = True
        events: list[ResponseEvent] = self._unannounced_items(response.get("output"))
        status = response.get("status")
        if status in ("incomplete", "failed"):
            reason: str | None = _completion_reason(response)
        else:
            status, reason = "completed", None
        events.append(Completed(response_id, usage, status, reason, self._malformed))
        return events

    def _unannounced_items(self, output: object) -> list[ResponseEvent]:
        """``OutputItemDone`` for each item of ``response.completed.output`` that no
        ``output_item.done`` announced (ours; Rust ignores ``output``).

        Some servers (bridges to Chat Completions, simple mocks) put the items
        only there; without this a tool call or the whole answer would vanish.
        An item with an ``id`` is matched by id; one without, by position
        (the first N id-less items are taken as the N already announced).
        """
        if type(output) is not list or not output:
            return []
        events: list[ResponseEvent] = []
        position = 0
        for item in output:
            if type(item) is not dict or type(item.get("type")) is not str:
                continue
            item_id = item.get("id")
            if type(item_id) is str and item_id:
                if item_id not in self._done_ids:
                    events.append(OutputItemDone(item))
                continue
            position += 1
            if position > self._done_count - len(self._done_ids):
                events.append(OutputItemDone(item))
        return events

    def _on_failed(self, obj: JsonObject) -> list[ResponseEvent]:
        response = obj.get("response")
        if response is None:  # Rust: nothing recorded without `response`
            return []
        self._response_id = _response_id(response) or self._response_id
        self._error = _classify_failed(response, self._product)
        return []

    def _on_incomplete(self, obj: JsonObject) -> list[ResponseEvent]:
        # Rust C (fd7f2aed, 2026-02-12); A/B ignored it and ended up reporting
        # "stream closed before response.completed".
        response = obj.get("response")
        self._response_id = _response_id(response) or self._response_id
        reason: object = None
        if type(response) is dict:
            details = response.get("incomplete_details")
            if type(details) is dict:
                reason = details.get("reason")
        if type(reason) is not str:
            reason = "unknown"
        self._error = StreamError(f"Incomplete response returned, reason: {reason}")
        return []


def _parse_completed(response: object) -> tuple[str, TokenUsage | None]:
    """Rust ``ResponseCompleted { id: String, usage: Option<ResponseCompletedUsage> }``.

    Raises:
        ValueError: with a serde-like reason, if ``response`` does not fit.
    """
    if type(response) is not dict:
        raise ValueError(f"invalid type: {json_kind(response)}, expected struct ResponseCompleted")
    if "id" not in response:
        raise ValueError("missing field `id`")
    response_id = response["id"]
    if type(response_id) is not str:
        raise ValueError(f"invalid type: {json_kind(response_id)}, expected a string")
    usage = response.get("usage")
    if usage is None:
        return response_id, None
    return response_id, TokenUsage.from_api(usage, strict=True)


_Handler: TypeAlias = Callable[[ResponseStreamParser, JsonObject], list[ResponseEvent]]

# Types not listed here produce nothing. Among them, deliberately (as Rust):
# response.in_progress, .queued, .content_part.added/.done, .output_text.done,
# .output_text.annotation.added, .function_call_arguments.delta/.done,
# .custom_tool_call_input.delta/.done, .reasoning_summary_text.done,
# .reasoning_summary_part.done, .reasoning_text.done and .web_search_call.*.
# The top-level `error` event (Rust ignores it; we record an error) is handled in `feed`.
_HANDLERS: dict[str, _Handler] = {
    "response.created": ResponseStreamParser._on_created,
    "response.output_item.done": ResponseStreamParser._on_output_item_done,
    "response.output_item.added": ResponseStreamParser._on_output_item_added,
    "response.reasoning_summary_text.delta": ResponseStreamParser._on_reasoning_summary_delta,
    "response.reasoning_text.delta": ResponseStreamParser._on_reasoning_content_delta,
    "response.reasoning_summary_part.added": ResponseStreamParser._on_reasoning_summary_part_added,
    "response.completed": ResponseStreamParser._on_completed,
    "response.failed": ResponseStreamParser._on_failed,
    "response.incomplete": ResponseStreamParser._on_incomplete,
}
