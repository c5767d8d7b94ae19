"""Every recorded / documented stream of the test corpus against its ``.expect.json``.

For each ``responses/sse/NAME.sse`` we run our decoder and parser (as the client
does, with no knowledge of the expectations) and compare what *we* derive with
what the collector wrote down: SSE framing, final text, delta count, outcome,
usage, error kind / delay, and response id. Where Codex deliberately derives
something else than the corpus's SDK-style reading, the difference is listed in
``KNOWN_DIFFERENCES`` with the reason, and the test asserts our value instead.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import pytest

from modelclient._errors import InvalidRequestError, ModelClientError, StreamError
from modelclient._events import (
    Completed,
    OutputItemDone,
    OutputTextDelta,
    ReasoningContentDelta,
    ReasoningSummaryDelta,
    ResponseEvent,
)
from modelclient._sse import SSEDecoder
from modelclient._stream import ResponseStreamParser
from modelclient._usage import TokenUsage
from tests.support.paths import corpus_dir

from ._chunking import chunkings, run_stream

SSE_DIR = corpus_dir("responses", "sse")
NAMES = sorted(p.stem for p in SSE_DIR.glob("*.sse"))
CLOSED = "stream closed before response.completed"

# name -> {summary field: the value we derive instead, and why}
KNOWN_DIFFERENCES: dict[str, dict[str, Any]] = {
    # `response.incomplete` carries usage, but it becomes an error (Rust C):
    # no Completed, so no TokenUsage reaches the consumer.
    "vercel_incomplete_handwritten": {"usage": None},
}


@dataclass(frozen=True)
class Derived:
    """What our decoder + parser make of one stream."""

    response_id: str | None
    final_text: str
    text_delta_count: int
    text_from_deltas: str
    outcome: str
    usage: dict[str, int] | None
    error: tuple[str, str | None, float | None] | None
    reasoning_text: str | None
    reasoning_summary_parts: list[str]
    function_calls: list[dict[str, Any]]
    sse_event_count: int
    done_sentinel: bool
    malformed: int


def _final_text(events: list[ResponseEvent]) -> str:
    # The SDK's output_text rule applied to what Codex forwards: every
    # output_text part of every finished message item; else the deltas.
    messages = [e.item for e in events if isinstance(e, OutputItemDone)]
    messages = [m for m in messages if m["type"] == "message"]
    if not messages:
        return "".join(e.delta for e in events if isinstance(e, OutputTextDelta))
    return "".join(
        part.get("text", "")
        for m in messages
        for part in m.get("content") or []
        if isinstance(part, dict) and part.get("type") == "output_text"
    )


def _error_recorded_by(data: bytes) -> str | None:
    """The ``type`` of the event whose error the parser ends with, if any.

    Replays the stream through a fresh parser and notes which event last
    replaced ``parser.error`` (``response.failed``, ``.incomplete``, ``error``).
    """
    decoder, parser = SSEDecoder(), ResponseStreamParser()
    recorded_by = None
    for sse in decoder.feed(data):
        before = parser.error
        parser.feed(sse)
        if parser.error is not before:
            recorded_by = json.loads(sse.data)["type"]
    return recorded_by


def _outcome(events: list[ResponseEvent], error: ModelClientError | None, recorded_by: str | None) -> str:
    if any(isinstance(e, Completed) for e in events):
        return "completed"
    if isinstance(error, StreamError) and error.message == CLOSED:
        return "truncated"
    if isinstance(error, StreamError) and error.message.startswith("Incomplete response returned"):
        return "incomplete"
    # Ours (Rust ignores it): an `error` event with no terminal event after it.
    return "error" if recorded_by == "error" else "failed"


def _usage(events: list[ResponseEvent]) -> dict[str, int] | None:
    usage: TokenUsage | None = next((e.token_usage for e in events if isinstance(e, Completed)), None)
    if usage is None:
        return None
    return {
        "input_tokens": usage.input_tokens,
        "cached_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_output_tokens,
        "total_tokens": usage.total_tokens,
    }


def _error(error: ModelClientError | None) -> tuple[str, str | None, float | None] | None:
    if error is None:
        return None
    if isinstance(error, StreamError):
        delay = None if error.delay is None else error.delay.total_seconds()
        return ("StreamError", error.message, delay)
    if isinstance(error, InvalidRequestError):
        return ("InvalidRequestError", error.message, None)
    return (type(error).__name__, None, None)


def _summary_parts(events: list[ResponseEvent]) -> list[str]:
    parts: dict[int | None, str] = {}
    for e in events:
        if isinstance(e, ReasoningSummaryDelta):
            parts[e.summary_index] = parts.get(e.summary_index, "") + e.delta
    return list(parts.values())


@functools.cache
def derive(name: str) -> Derived:
    data = (SSE_DIR / f"{name}.sse").read_bytes()
    run = run_stream([data])
    events = run.events
    reasoning = [e.delta for e in events if isinstance(e, ReasoningContentDelta)]
    calls = [
        {"name": e.item.get("name"), "call_id": e.item.get("call_id"),
         "arguments": e.item.get("arguments")}
        for e in events
        if isinstance(e, OutputItemDone) and e.item["type"] == "function_call"
    ]  # fmt: skip
    deltas = [e.delta for e in events if isinstance(e, OutputTextDelta)]
    return Derived(
        response_id=run.parser.response_id,
        final_text=_final_text(events),
        text_delta_count=len(deltas),
        text_from_deltas="".join(deltas),
        outcome=_outcome(events, run.error, _error_recorded_by(data)),
        usage=_usage(events),
        error=_error(run.error),
        reasoning_text="".join(reasoning) if reasoning else None,
        reasoning_summary_parts=_summary_parts(events),
        function_calls=calls,
        sse_event_count=run.sse_count,
        done_sentinel=run.parser.saw_done,
        malformed=run.parser.malformed_count,
    )


@functools.cache
def expectation(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    data = json.loads((SSE_DIR / f"{name}.expect.json").read_text(encoding="utf-8"))
    summary = {**data["summary"], **KNOWN_DIFFERENCES.get(name, {})}
    return summary, data["expected_detail"]


def expected_error(
    summary: dict[str, Any], detail: dict[str, Any]
) -> tuple[str, str | None, float | None] | None:
    """The corpus's outcome / error kind, in our error tree's terms."""
    outcome = summary["outcome"]
    if outcome == "completed":
        return None
    if outcome == "truncated":
        return ("StreamError", CLOSED, None)
    if outcome == "incomplete":
        reason = detail["incomplete_reason"]
        return ("StreamError", f"Incomplete response returned, reason: {reason}", None)
    kind = summary["error_kind"]
    if kind == "invalid_request":  # an `error` event saying invalid_request_error
        return ("InvalidRequestError", detail["error"]["message"], None)
    if kind == "context_length_exceeded":
        return ("ContextWindowExceededError", None, None)
    if kind == "insufficient_quota":
        return ("QuotaExceededError", None, None)
    # rate_limit and any other response.failed or `error` event: retryable,
    # with its message and the delay parsed from it (only for rate limits).
    return ("StreamError", detail["error"]["message"], summary["retry_after_seconds"])


def test_corpus_is_complete() -> None:
    assert len(NAMES) == 25
    for name in NAMES:
        assert (SSE_DIR / f"{name}.expect.json").is_file(), name
    assert set(KNOWN_DIFFERENCES) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_sse_framing(name: str) -> None:
    # WHATWG framing: event count, trailing event dropped, per-type counts.
    _, detail = expectation(name)
    got = derive(name)
    assert got.sse_event_count == detail["sse_event_count"]
    decoder = SSEDecoder()
    counts: dict[str, int] = {}
    for sse in decoder.feed((SSE_DIR / f"{name}.sse").read_bytes()):
        try:
            kind = json.loads(sse.data).get("type")
        except ValueError:
            continue
        counts[kind] = counts.get(kind, 0) + 1
    assert counts == detail["event_type_counts"]
    assert got.done_sentinel is detail["done_sentinel"]
    assert got.malformed == detail["non_json_data_events"]


@pytest.mark.parametrize("name", NAMES)
def test_text(name: str) -> None:
    summary, detail = expectation(name)
    got = derive(name)
    assert got.text_delta_count == summary["text_delta_count"]
    assert got.text_from_deltas == summary["text_from_deltas"]
    assert got.final_text == summary["final_text"]
    assert got.reasoning_text == detail["reasoning_text"]
    assert got.reasoning_summary_parts == detail["reasoning_summary_parts"]
    assert got.function_calls == detail["function_calls"]


@pytest.mark.parametrize("name", NAMES)
def test_outcome_and_error(name: str) -> None:
    summary, detail = expectation(name)
    got = derive(name)
    assert got.outcome == summary["outcome"]
    assert got.error == expected_error(summary, detail)
    if got.error is not None:
        assert got.error[2] == summary["retry_after_seconds"]


@pytest.mark.parametrize("name", NAMES)
def test_usage_and_response_id(name: str) -> None:
    summary, _ = expectation(name)
    got = derive(name)
    assert got.usage == summary["usage"]
    assert got.response_id == summary["response_id"]


@pytest.mark.parametrize("name", NAMES)
def test_chunking_never_changes_the_result(name: str) -> None:
    data = (SSE_DIR / f"{name}.sse").read_bytes()
    reference = run_stream([data])
    for label, chunks in chunkings(data, limit=0, samples=32):
        run = run_stream(chunks)
        assert run.events == reference.events, label
        assert _error(run.error) == _error(reference.error), label
        assert run.sse_count == reference.sse_count, label


@pytest.mark.parametrize(
    ("name", "retryable"),
    [
        ("aibridge_conversation_error_event", False),  # the conversation is gone: fatal
        ("aibridge_stream_error_flat", True),  # an unknown code: worth another try
        ("vercel_error_insufficient_quota", False),  # error event, then response.failed
    ],
)
def test_error_events_end_the_turn_with_their_own_error(name: str, retryable: bool) -> None:
    # Rust ignores `error` events, so these streams ended as "stream closed before
    # response.completed" and were re-sent five times. Ours records the event.
    run = run_stream([(SSE_DIR / f"{name}.sse").read_bytes()])
    assert run.error is not None
    assert run.error.retryable is retryable
    assert CLOSED not in str(run.error)
