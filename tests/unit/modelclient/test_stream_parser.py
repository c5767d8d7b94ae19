"""ResponseStreamParser: Codex ``process_sse`` semantics, table by table."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from modelclient._errors import (
    ContextWindowExceededError,
    InvalidRequestError,
    ModelClientError,
    QuotaExceededError,
    StreamError,
)
from modelclient._events import (
    Completed,
    Created,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    ReasoningContentDelta,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    ResponseEvent,
    WebSearchCallBegin,
)
from modelclient._sse import ServerSentEvent
from modelclient._stream import DONE_SENTINEL, ResponseStreamParser
from modelclient._usage import TokenUsage
from tests.support.paths import REPO

from ._chunking import chunkings, run_stream

FIXTURES = REPO / "tests" / "fixtures" / "sse"
CLOSED = "stream closed before response.completed"


def sse(payload: Any, event: str = "message") -> ServerSentEvent:
    """An SSE whose data is ``payload`` as JSON (strings are sent verbatim)."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return ServerSentEvent(event, data)


def run(
    *payloads: Any,
) -> tuple[list[ResponseEvent], ModelClientError | None, ResponseStreamParser]:
    parser = ResponseStreamParser()
    events: list[ResponseEvent] = []
    for payload in payloads:
        events.extend(parser.feed(sse(payload)))
    try:
        parser.close()
    except ModelClientError as exc:
        return events, exc, parser
    return events, None, parser


MSG_ITEM = {
    "type": "message",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "Hi"}],
}
WS_ITEM = {
    "id": "ws_1",
    "type": "web_search_call",
    "status": "in_progress",
    "action": {"type": "search", "query": "weather"},
}
WS_ITEM_NO_ID = {"type": "web_search_call", "status": "in_progress"}
USAGE = {
    "input_tokens": 5132,
    "input_tokens_details": {"cached_tokens": 4864},
    "output_tokens": 214,
    "output_tokens_details": {"reasoning_tokens": 128},
    "total_tokens": 5346,
}

# Rust's process_sse, one row per behaviour: (row id, SSE JSON, events produced).
EVENT_MAPPING: list[tuple[str, dict[str, Any], list[ResponseEvent]]] = [
    ("created", {"type": "response.created", "response": {"id": "r"}}, [Created()]),
    ("created-needs-response", {"type": "response.created"}, []),
    ("created-null-response", {"type": "response.created", "response": None}, []),
    (
        "item-done",
        {"type": "response.output_item.done", "item": MSG_ITEM},
        [OutputItemDone(MSG_ITEM)],
    ),
    ("item-done-no-item", {"type": "response.output_item.done"}, []),
    ("item-done-untyped-item", {"type": "response.output_item.done", "item": {"role": "x"}}, []),
    ("item-done-item-not-object", {"type": "response.output_item.done", "item": "x"}, []),
    (
        "item-added",
        {"type": "response.output_item.added", "item": MSG_ITEM},
        [OutputItemAdded(MSG_ITEM)],
    ),
    (
        "item-added-web-search",
        {"type": "response.output_item.added", "item": WS_ITEM},
        [OutputItemAdded(WS_ITEM), WebSearchCallBegin("ws_1")],
    ),
    (
        "item-added-web-search-no-id",
        {"type": "response.output_item.added", "item": WS_ITEM_NO_ID},
        [OutputItemAdded(WS_ITEM_NO_ID), WebSearchCallBegin("")],
    ),
    ("item-added-no-item", {"type": "response.output_item.added"}, []),
    ("text-delta", {"type": "response.output_text.delta", "delta": "Hi"}, [OutputTextDelta("Hi")]),
    (
        "text-delta-empty",
        {"type": "response.output_text.delta", "delta": ""},
        [OutputTextDelta("")],
    ),
    ("text-delta-missing", {"type": "response.output_text.delta"}, []),
    ("text-delta-null", {"type": "response.output_text.delta", "delta": None}, []),
    (
        "summary-delta",
        {"type": "response.reasoning_summary_text.delta", "delta": "s", "summary_index": 0},
        [ReasoningSummaryDelta("s", 0)],
    ),
    (
        "summary-delta-no-index",
        {"type": "response.reasoning_summary_text.delta", "delta": "s"},
        [ReasoningSummaryDelta("s", None)],
    ),
    (
        "summary-delta-odd-index",
        {"type": "response.reasoning_summary_text.delta", "delta": "s", "summary_index": "0"},
        [ReasoningSummaryDelta("s", None)],
    ),
    (
        "summary-delta-missing",
        {"type": "response.reasoning_summary_text.delta", "summary_index": 0},
        [],
    ),
    (
        "content-delta",
        {"type": "response.reasoning_text.delta", "delta": "t", "content_index": 2},
        [ReasoningContentDelta("t", 2)],
    ),
    (
        "content-delta-no-index",
        {"type": "response.reasoning_text.delta", "delta": "t"},
        [ReasoningContentDelta("t", None)],
    ),
    ("content-delta-missing", {"type": "response.reasoning_text.delta"}, []),
    (
        "part-added",
        {"type": "response.reasoning_summary_part.added", "summary_index": 1},
        [ReasoningSummaryPartAdded(1)],
    ),
    (
        "part-added-unconditional",
        {"type": "response.reasoning_summary_part.added"},
        [ReasoningSummaryPartAdded(None)],
    ),
    (
        "completed",
        {"type": "response.completed", "response": {"id": "resp_1", "usage": USAGE}},
        [Completed("resp_1", TokenUsage(5132, 4864, 214, 128, 5346))],
    ),
    (
        "completed-no-usage",
        {"type": "response.completed", "response": {"id": "resp_1"}},
        [Completed("resp_1", None)],
    ),
    (
        "completed-null-usage",
        {
            "type": "response.completed",
            "response": {"id": "resp_1", "usage": None, "output": [MSG_ITEM]},
        },
        # Ours: an item only in `output` (no output_item.done announced it) comes first.
        [OutputItemDone(MSG_ITEM), Completed("resp_1", None)],
    ),
]

# Types process_sse ignores explicitly or by its default arm, plus C-only
# types that A ignores: none of them produces anything, records an error, or
# counts as malformed.
IGNORED_TYPES = [
    "response.content_part.done",
    "response.function_call_arguments.delta",
    "response.custom_tool_call_input.delta",
    "response.custom_tool_call_input.done",
    "response.in_progress",
    "response.output_text.done",
    "response.reasoning_summary_text.done",
    "response.content_part.added",
    "response.function_call_arguments.done",
    "response.reasoning_summary_part.done",
    "response.reasoning_text.done",
    "response.web_search_call.in_progress",
    "response.web_search_call.searching",
    "response.web_search_call.completed",
    "response.output_text.annotation.added",
    "response.queued",
    "response.metadata",
    "response.new_tool_event",
]


@pytest.mark.parametrize(("row", "payload", "expected"), EVENT_MAPPING, ids=[r[0] for r in EVENT_MAPPING])
def test_event_mapping(row: str, payload: dict[str, Any], expected: list[ResponseEvent]) -> None:
    parser = ResponseStreamParser()
    assert parser.feed(sse(payload)) == expected
    assert parser.malformed_count == 0
    assert parser.error is None


@pytest.mark.parametrize("kind", IGNORED_TYPES)
def test_ignored_types(kind: str) -> None:
    payload = {
        "type": kind,
        "delta": "x",
        "item": MSG_ITEM,
        "response": {"id": "r"},
        "code": "ERR",
        "message": "boom",
    }
    events, error, parser = run(payload)
    assert events == []
    assert parser.malformed_count == 0
    assert isinstance(error, StreamError)
    assert error.message == CLOSED


def test_the_sse_event_name_is_ignored() -> None:
    parser = ResponseStreamParser()
    wrong_name = sse({"type": "response.output_text.delta", "delta": "x"}, "response.completed")
    assert parser.feed(wrong_name) == [OutputTextDelta("x")]
    assert parser.feed(sse({"type": "response.in_progress"}, "response.output_text.delta")) == []


# -- completion ------------------------------------------------------------


def test_completed_is_emitted_at_once_and_ends_the_stream() -> None:
    parser = ResponseStreamParser()
    done = sse({"type": "response.completed", "response": {"id": "resp_9"}})
    assert parser.feed(done) == [Completed("resp_9", None)]
    assert parser.completed
    # Rust C stops reading: nothing after Completed counts, not even a failure.
    assert parser.feed(sse({"type": "response.output_text.delta", "delta": "late"})) == []
    assert parser.feed(sse({"type": "response.failed", "response": {"error": {}}})) == []
    assert parser.feed(sse("not json")) == []
    assert parser.malformed_count == 0
    parser.close()  # no error
    assert parser.error is None


def test_completed_wins_over_an_earlier_failure() -> None:
    events, error, _ = run(
        {
            "type": "response.failed",
            "response": {"error": {"code": "server_error", "message": "x"}},
        },
        {"type": "response.completed", "response": {"id": "resp_2"}},
    )
    assert events == [Completed("resp_2", None)]
    assert error is None


def test_completed_without_response_is_ignored() -> None:
    events, error, parser = run({"type": "response.completed"})
    assert events == []
    assert not parser.completed
    assert isinstance(error, StreamError)
    assert error.message == CLOSED


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("resp", 'invalid type: string "resp", expected struct ResponseCompleted'),
        ([], "invalid type: sequence, expected struct ResponseCompleted"),
        ({"usage": None}, "missing field `id`"),
        ({"id": 7}, "invalid type: integer `7`, expected a string"),
        (
            {"id": "r", "usage": {"input_tokens": 1, "output_tokens": 1}},
            "missing field `total_tokens`",
        ),
        (
            {"id": "r", "usage": {"input_tokens": "1", "output_tokens": 1, "total_tokens": 2}},
            'invalid type: string "1", expected i64 for `input_tokens`',
        ),
        (
            {"id": "r", "usage": {"input_tokens": None, "output_tokens": 1, "total_tokens": 2}},
            "invalid type: null, expected i64 for `input_tokens`",
        ),
        ({"id": "r", "usage": 5}, "invalid type: integer `5`, expected struct for `usage`"),
    ],
)
def test_unparseable_completed_records_an_error(response: Any, reason: str) -> None:
    events, error, parser = run({"type": "response.completed", "response": response})
    assert events == []
    assert not parser.completed
    assert isinstance(error, StreamError)
    assert error.message == f"failed to parse ResponseCompleted: {reason}"
    assert error.delay is None


def test_close_without_anything_reports_stream_closed() -> None:
    parser = ResponseStreamParser()
    with pytest.raises(StreamError) as info:
        parser.close()
    assert info.value.message == CLOSED
    assert info.value.delay is None
    assert str(info.value) == f"stream disconnected before completion: {CLOSED}"


# -- response.failed ---------------------------------------------

RATE_LIMIT_MESSAGE = (
    "Rate limit reached for gpt-5 in organization org-AAA on tokens per min (TPM): Limit 30000, "
    "Used 22999, Requested 12528. Please try again in 11.054s. Visit "
    "https://platform.openai.com/account/rate-limits to learn more."
)
QUOTA_MESSAGE = "You exceeded your current quota, please check your plan and billing details."

# (row id, response.error value or a missing-key marker, expected error)
FAILED: list[tuple[str, Any, ModelClientError]] = [
    (
        "context-window",
        {
            "code": "context_length_exceeded",
            "message": "Your input exceeds the "
            "context window of this model. Please adjust your input and try\nagain.",
        },
        ContextWindowExceededError(),
    ),
    ("quota", {"code": "insufficient_quota", "message": QUOTA_MESSAGE}, QuotaExceededError()),
    (
        "rate-limit-seconds",
        {"code": "rate_limit_exceeded", "message": RATE_LIMIT_MESSAGE},
        StreamError(RATE_LIMIT_MESSAGE, timedelta(seconds=11.054)),
    ),
    (
        "rate-limit-ms",
        {"code": "rate_limit_exceeded", "message": "Please try again in 28ms."},
        StreamError("Please try again in 28ms.", timedelta(milliseconds=28)),
    ),
    (
        "rate-limit-azure-seconds",
        {"code": "rate_limit_exceeded", "message": "Rate limit exceeded. Try again in 35 seconds."},
        StreamError("Rate limit exceeded. Try again in 35 seconds.", timedelta(seconds=35)),
    ),
    (
        "rate-limit-no-hint",
        {"code": "rate_limit_exceeded", "message": "Slow down."},
        StreamError("Slow down.", None),
    ),
    (
        "hint-ignored-for-other-codes",
        {"code": "server_error", "message": "Please try again in 5s."},
        StreamError("Please try again in 5s.", None),
    ),
    ("no-message", {"code": "server_error"}, StreamError("", None)),
    ("empty-error", {}, StreamError("", None)),
    (
        "extra-fields-ignored",
        {"code": "server_error", "message": "m", "param": None, "x": [1]},
        StreamError("m", None),
    ),
    (
        "error-null",
        None,
        StreamError("failed to parse ErrorResponse: invalid type: null, expected struct Error"),
    ),
    (
        "error-code-not-string",
        {"code": 5, "message": "m"},
        StreamError("failed to parse ErrorResponse: invalid type: integer `5`, expected a string"),
    ),
    (
        "error-negative-resets-in",
        {"code": "x", "resets_in_seconds": -1},
        StreamError("failed to parse ErrorResponse: invalid value: integer `-1`, expected u64"),
    ),
    (
        "error-resets-at-not-integer",
        {"code": "usage_limit_reached", "resets_at": "soon"},
        StreamError('failed to parse ErrorResponse: invalid type: string "soon", expected i64'),
    ),
    ("no-error-key", "<absent>", StreamError("response.failed event received")),
]


@pytest.mark.parametrize(("row", "error_value", "expected"), FAILED, ids=[r[0] for r in FAILED])
def test_failed_classification(row: str, error_value: Any, expected: ModelClientError) -> None:
    response: dict[str, Any] = {"id": "resp_f", "status": "failed"}
    if error_value != "<absent>":
        response["error"] = error_value
    events, error, parser = run({"type": "response.failed", "response": response})
    assert events == []
    assert type(error) is type(expected)
    assert str(error) == str(expected)
    if isinstance(expected, StreamError):
        assert isinstance(error, StreamError)
        assert (error.message, error.delay) == (expected.message, expected.delay)
    assert parser.response_id == "resp_f"


def test_failed_without_response_records_nothing() -> None:
    _, error, _ = run({"type": "response.failed"})
    assert isinstance(error, StreamError)
    assert error.message == CLOSED


def test_a_later_error_replaces_an_earlier_one() -> None:
    _, error, _ = run(
        {"type": "response.failed", "response": {"error": {"code": "insufficient_quota"}}},
        {
            "type": "response.incomplete",
            "response": {"incomplete_details": {"reason": "content_filter"}},
        },
    )
    assert isinstance(error, StreamError)
    assert error.message == "Incomplete response returned, reason: content_filter"


# -- the top-level `error` event (ours: Rust ignores it) ---------------------------

CONVERSATION_MESSAGE = "Conversation with id 'conv_695fa1' not found."


def nested_error(**fields: Any) -> dict[str, Any]:
    """The live API's shape: ``{"type": "error", "error": {...}, "sequence_number"}``."""
    return {"type": "error", "error": {"param": None, **fields}, "sequence_number": 7}


def flat_error(**fields: Any) -> dict[str, Any]:
    """The API reference's shape: ``{"type": "error", "code", "message", "param"}``."""
    return {"type": "error", "param": None, **fields, "sequence_number": 7}


# (row id, event, expected error); messages and delays are compared too.
ERROR_EVENTS: list[tuple[str, dict[str, Any], ModelClientError]] = [
    (
        "nested-invalid-request-type",
        nested_error(type="invalid_request_error", code=None, message=CONVERSATION_MESSAGE),
        InvalidRequestError(CONVERSATION_MESSAGE),
    ),
    (
        "flat-invalid-request-code",
        flat_error(code="invalid_request_error", message="Bad input."),
        InvalidRequestError("Bad input."),
    ),
    (
        "flat-invalid-prompt",
        flat_error(code="invalid_prompt", message="Prompt rejected."),
        InvalidRequestError("Prompt rejected."),
    ),
    (
        "nested-invalid-prompt-no-message",
        nested_error(code="invalid_prompt"),
        InvalidRequestError("Invalid request."),
    ),
    (
        "context-window-beats-its-invalid-request-type",
        nested_error(type="invalid_request_error", code="context_length_exceeded", message="Too long."),
        ContextWindowExceededError(),
    ),
    (
        "flat-context-window",
        flat_error(code="context_length_exceeded", message="Too long."),
        ContextWindowExceededError(),
    ),
    (
        "nested-quota",
        nested_error(type="insufficient_quota", code="insufficient_quota", message=QUOTA_MESSAGE),
        QuotaExceededError(),
    ),
    ("flat-quota", flat_error(code="insufficient_quota"), QuotaExceededError()),
    (
        "flat-rate-limit",
        flat_error(code="rate_limit_exceeded", message=RATE_LIMIT_MESSAGE),
        StreamError(RATE_LIMIT_MESSAGE, timedelta(seconds=11.054)),
    ),
    (
        "nested-rate-limit",
        nested_error(type="tokens", code="rate_limit_exceeded", message="Please try again in 28ms."),
        StreamError("Please try again in 28ms.", timedelta(milliseconds=28)),
    ),
    (
        "rate-limit-code-beats-the-type",
        nested_error(type="invalid_request_error", code="rate_limit_exceeded", message="Try again in 2s."),
        StreamError("Try again in 2s.", timedelta(seconds=2)),
    ),
    (
        "server-error",
        nested_error(type="server_error", code="server_error", message="The server had an error."),
        StreamError("The server had an error.", None),
    ),
    (
        "flat-unknown-code",
        flat_error(code="ERR_SOMETHING", message="Something went wrong"),
        StreamError("Something went wrong", None),
    ),
    (
        "hint-ignored-for-other-codes",
        flat_error(code="server_error", message="Please try again in 5s."),
        StreamError("Please try again in 5s.", None),
    ),
    (
        "no-message-names-the-code",
        nested_error(code="server_error"),
        StreamError("error event received (server_error)", None),
    ),
    ("bare", {"type": "error"}, StreamError("error event received", None)),
    ("error-null", flat_error(error=None), StreamError("error event received", None)),
    ("empty-nested", nested_error(), StreamError("error event received", None)),
    (
        "nested-code-not-string",
        nested_error(code=5, message="m"),
        StreamError("failed to parse error event: invalid type: integer `5`, expected a string"),
    ),
    (
        "flat-message-not-string",
        flat_error(code="server_error", message=["m"]),
        StreamError("failed to parse error event: invalid type: sequence, expected a string"),
    ),
]


@pytest.mark.parametrize(("row", "payload", "expected"), ERROR_EVENTS, ids=[r[0] for r in ERROR_EVENTS])
def test_error_event_classification(row: str, payload: dict[str, Any], expected: ModelClientError) -> None:
    events, error, parser = run({"type": "response.created", "response": {"id": "resp_e"}}, payload)
    assert events == [Created()]
    assert parser.malformed_count == 0
    assert type(error) is type(expected)
    assert str(error) == str(expected)
    assert error is not None and error.retryable is expected.retryable
    if isinstance(expected, StreamError):
        assert isinstance(error, StreamError)
        assert (error.message, error.delay) == (expected.message, expected.delay)
    assert parser.response_id == "resp_e"


def test_an_invalid_request_error_event_is_fatal_and_keeps_the_event() -> None:
    payload = nested_error(type="invalid_request_error", code=None, message=CONVERSATION_MESSAGE)
    data = json.dumps(payload)
    parser = ResponseStreamParser()
    assert parser.feed(ServerSentEvent("error", data)) == []
    error = parser.error
    assert isinstance(error, InvalidRequestError)
    assert not error.retryable
    assert (error.message, error.body, error.request_id) == (CONVERSATION_MESSAGE, data, None)
    with pytest.raises(InvalidRequestError):
        parser.close()


def test_completed_wins_over_an_error_event() -> None:
    events, error, _ = run(
        flat_error(code="invalid_request_error", message="x"),
        {"type": "response.completed", "response": {"id": "resp_3"}},
    )
    assert events == [Completed("resp_3", None)]
    assert error is None


def test_an_error_event_after_completed_is_not_read() -> None:
    events, error, _ = run(
        {"type": "response.completed", "response": {"id": "resp_4"}},
        flat_error(code="invalid_request_error", message="x"),
    )
    assert events == [Completed("resp_4", None)]
    assert error is None


def test_error_events_and_failures_replace_each_other() -> None:
    failed = {"type": "response.failed", "response": {"error": {"code": "insufficient_quota"}}}
    server = flat_error(code="server_error", message="later")
    _, error, _ = run(server, failed)
    assert isinstance(error, QuotaExceededError)
    _, error, _ = run(failed, server)
    assert isinstance(error, StreamError)
    assert error.message == "later"
    _, error, _ = run(flat_error(code="invalid_prompt", message="a"), server)
    assert isinstance(error, StreamError)


def test_the_sse_event_name_does_not_make_an_error_event() -> None:
    parser = ResponseStreamParser()
    data = '{"type": "response.in_progress", "code": "invalid_request_error", "message": "m"}'
    assert parser.feed(ServerSentEvent("error", data)) == []
    assert parser.error is None
    with pytest.raises(StreamError, match=CLOSED):
        parser.close()


# -- response.incomplete (Rust C) ------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (
            {"response": {"id": "r", "incomplete_details": {"reason": "max_output_tokens"}}},
            "max_output_tokens",
        ),
        ({"response": {"id": "r", "incomplete_details": None}}, "unknown"),
        ({"response": {"id": "r", "incomplete_details": {"reason": 3}}}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_incomplete_is_an_error_with_its_reason(payload: dict[str, Any], reason: str) -> None:
    events, error, _ = run({"type": "response.incomplete", **payload})
    assert events == []
    assert isinstance(error, StreamError)
    assert error.message == f"Incomplete response returned, reason: {reason}"
    assert error.delay is None


# -- malformed data and [DONE] ---------------------------------------------------

MALFORMED = [
    "not json",
    "",
    "[1, 2]",
    '"response.created"',
    "42",
    "null",
    '{"delta": "no type"}',
    '{"type": 5}',
    '{"type": null}',
    '{"type": "response.output_text.delta", "delta": 5}',
    '{"type": "response.output_text.delta", "delta": ["x"]}',
    '{"type": "response.created", "response": NaN}',
    '{"type": "response.created", "response": {"id": "r"}',
    "[DONE] ",
]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_data_is_skipped_and_counted(data: str) -> None:
    parser = ResponseStreamParser()
    assert parser.feed(ServerSentEvent("message", data)) == []
    assert parser.malformed_count == 1
    assert parser.error is None
    assert parser.feed(sse({"type": "response.output_text.delta", "delta": "ok"})) == [OutputTextDelta("ok")]


def test_absurdly_nested_json_is_malformed_not_a_crash() -> None:
    # In Pyodide this would overflow the WebAssembly stack and kill the
    # interpreter; like serde_json we refuse it as too deep.
    parser = ResponseStreamParser()
    assert parser.feed(ServerSentEvent("message", "[" * 100_000 + "]" * 100_000)) == []
    assert parser.malformed_count == 1


def nested(depth: int) -> str:
    """A created event whose JSON nests ``depth`` levels, the outer object included."""
    inner = depth - 1
    return '{"type":"response.created","response":' + "[" * inner + "]" * inner + "}"


def test_nesting_limit_is_serde_json_s() -> None:
    parser = ResponseStreamParser()
    assert parser.feed(ServerSentEvent("message", nested(127))) == [Created()]
    assert parser.feed(ServerSentEvent("message", nested(128))) == []
    assert parser.malformed_count == 1


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '"[{\\' * 200 + "}]" * 50  # quotes and backslashes get escaped in JSON
    data = json.dumps({"type": "response.output_text.delta", "delta": text})
    parser = ResponseStreamParser()
    assert parser.feed(ServerSentEvent("message", data)) == [OutputTextDelta(text)]
    assert parser.malformed_count == 0


def test_malformed_count_accumulates() -> None:
    events, _, parser = run("x", "y", {"type": 1}, {"type": "response.output_text.delta", "delta": "z"})
    assert events == [OutputTextDelta("z")]
    assert parser.malformed_count == 3


def test_done_sentinel_is_not_malformed() -> None:
    events, error, parser = run(DONE_SENTINEL)
    assert events == []
    assert parser.saw_done
    assert parser.malformed_count == 0
    assert isinstance(error, StreamError)
    assert error.message == CLOSED


def test_done_sentinel_after_completed_is_still_noted() -> None:
    _, error, parser = run({"type": "response.completed", "response": {"id": "r"}}, DONE_SENTINEL)
    assert error is None
    assert parser.saw_done


def test_response_id_tracks_the_latest_response() -> None:
    parser = ResponseStreamParser()
    assert parser.response_id is None
    parser.feed(sse({"type": "response.created", "response": {"id": "resp_a"}}))
    assert parser.response_id == "resp_a"
    parser.feed(sse({"type": "response.created", "response": {"status": "queued"}}))
    assert parser.response_id == "resp_a"
    parser.feed(sse({"type": "response.incomplete", "response": {"id": "resp_b"}}))
    assert parser.response_id == "resp_b"


# -- fixtures (tests/fixtures/sse, shaped like Codex's fixtures) ------------------------------


def summarize(event: ResponseEvent) -> tuple[Any, ...]:
    """A compact, exact description of one event for the fixture tables."""
    match event:
        case OutputItemDone(item) | OutputItemAdded(item):
            return (type(event).__name__, item["type"], item.get("id"))
        case OutputTextDelta(delta):
            return ("OutputTextDelta", delta)
        case ReasoningSummaryDelta(delta, index) | ReasoningContentDelta(delta, index):
            return (type(event).__name__, delta, index)
        case ReasoningSummaryPartAdded(index):
            return ("ReasoningSummaryPartAdded", index)
        case WebSearchCallBegin(call_id):
            return ("WebSearchCallBegin", call_id)
        case Completed(response_id, usage):
            return ("Completed", response_id, usage)
        case _:
            return (type(event).__name__,)


RS = "rs_0b1c9e4f2a7d5e6f0068f1c2a5d0e48190"
MSG = "msg_0b1c9e4f2a7d5e6f0068f1c2a7e9f081908f"
WS = "ws_68f1c3aa0c748190b2b1"

# (fixture, summarized events, expected error as (class, message, delay) or None)
FIXTURE_TABLE: list[tuple[str, list[tuple[Any, ...]], tuple[type, str, timedelta | None] | None]] = [
    (
        "minimal.sse",
        [("Created",), ("OutputItemDone", "message", None), ("Completed", "resp1", None)],
        None,
    ),
    (
        "reasoning_text.sse",
        [
            ("Created",),
            ("OutputItemAdded", "reasoning", RS),
            ("ReasoningSummaryPartAdded", 0),
            ("ReasoningSummaryDelta", "**Inspecting", 0),
            ("ReasoningSummaryDelta", " the repository**\n\nI'll list the files first.", 0),
            ("OutputItemDone", "reasoning", RS),
            ("OutputItemAdded", "message", MSG),
            ("OutputTextDelta", "Hello"),
            ("OutputTextDelta", " world"),
            ("OutputItemDone", "message", MSG),
            (
                "Completed",
                "resp_0b1c9e4f2a7d5e6f0068f1c2a4b3c8d9",
                TokenUsage(5132, 4864, 214, 128, 5346),
            ),
        ],
        None,
    ),
    (
        "function_call.sse",
        [
            ("Created",),
            ("OutputItemAdded", "function_call", "fc_7f3a01"),
            ("OutputItemDone", "function_call", "fc_7f3a01"),
            ("Completed", "resp_7f3a", TokenUsage(2310, 0, 41, 0, 2351)),
        ],
        None,
    ),
    ("failed_rate_limit.sse", [], (StreamError, RATE_LIMIT_MESSAGE, timedelta(seconds=11.054))),
    (
        "failed_context_window.sse",
        [],
        (ContextWindowExceededError, str(ContextWindowExceededError()), None),
    ),
    ("failed_quota.sse", [], (QuotaExceededError, str(QuotaExceededError()), None)),
    (
        "cut_before_completed.sse",
        [("OutputItemDone", "message", None)],
        (StreamError, CLOSED, None),
    ),
    ("dataless_then_eof.sse", [], (StreamError, CLOSED, None)),
    (
        "web_search.sse",
        [
            ("Created",),
            ("OutputItemAdded", "web_search_call", WS),
            ("WebSearchCallBegin", WS),
            ("OutputItemDone", "web_search_call", WS),
            ("Completed", "resp_ws1", TokenUsage(812, 0, 95, 64, 907)),
        ],
        None,
    ),
    (
        "incomplete.sse",
        [],
        (StreamError, "Incomplete response returned, reason: max_output_tokens", None),
    ),
    (
        "data_only_crlf_done.sse",
        [
            ("Created",),
            ("OutputTextDelta", "Hi"),
            ("OutputTextDelta", " there"),
            ("Completed", "resp_dd1", TokenUsage(5, 0, 2, 0, 7)),
        ],
        None,
    ),
]


def test_every_fixture_file_is_in_the_table() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.sse")) == sorted(r[0] for r in FIXTURE_TABLE)


@pytest.mark.parametrize(("name", "expected", "failure"), FIXTURE_TABLE, ids=[r[0] for r in FIXTURE_TABLE])
def test_fixture(
    name: str, expected: list[tuple[Any, ...]], failure: tuple[type, str, timedelta | None] | None
) -> None:
    data = (FIXTURES / name).read_bytes()
    reference = None
    for label, chunks in chunkings(data):
        result = run_stream(chunks)
        got = (
            [summarize(e) for e in result.events],
            None
            if result.error is None
            else (type(result.error), _message(result.error), getattr(result.error, "delay", None)),
        )
        if reference is None:
            reference = got
            assert got == (expected, failure), label
        else:
            assert got == reference, f"{label}: chunking changed the outcome"


def _message(error: ModelClientError) -> str:
    return error.message if isinstance(error, StreamError) else str(error)


def test_function_call_fixture_item_is_forwarded_verbatim() -> None:
    result = run_stream([(FIXTURES / "function_call.sse").read_bytes()])
    done = [e for e in result.events if isinstance(e, OutputItemDone)]
    assert [d.item for d in done] == [
        {
            "id": "fc_7f3a01",
            "type": "function_call",
            "status": "completed",
            "arguments": '{"command":["bash","-lc","ls -la"],"workdir":"/repo"}',
            "call_id": "call_Qm8ZsX1pT9",
            "name": "shell",
        }
    ]


def test_data_only_fixture_counts_its_bad_line_and_the_sentinel() -> None:
    raw = (FIXTURES / "data_only_crlf_done.sse").read_bytes()
    assert b"\r\n" in raw  # guard against line-ending normalisation of the fixture
    result = run_stream([raw])
    assert result.parser.malformed_count == 1
    assert result.parser.saw_done
    assert result.sse_count == 6  # created, "not json", 2 deltas, completed, [DONE]


def test_minimal_fixture_message_item() -> None:
    result = run_stream([(FIXTURES / "minimal.sse").read_bytes()])
    assert result.events[1] == OutputItemDone(
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "fixture hello"}],
        }
    )
