"""What third-party servers did to the client, replayed over MockTransport.

Each test is one row of what real Responses API servers (mocks, fault injectors,
bridges to Chat Completions) sent: a server that never answers, repeated
headers, a rate limit that keeps its ``Retry-After``, items only in
``response.completed.output``, an incomplete completion, a malformed delta, a
JSON error in a 200, a wrong URL. The same rows run against real loopback
servers in ``tests/integration/test_real_servers.py``; these run on CPython and
inside Pyodide.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest

from modelclient._client import Reconnecting
from modelclient._errors import (
    ConnectionFailedError,
    ContextWindowExceededError,
    CyberPolicyError,
    InternalServerError,
    InvalidImageRequestError,
    InvalidRequestError,
    ModelClientError,
    QuotaExceededError,
    RetryLimitError,
    ServerOverloadedError,
    StreamError,
    UnexpectedStatusError,
    UsageNotIncludedError,
)
from modelclient._events import Completed, OutputItemDone, OutputTextDelta, RateLimits
from modelclient._provider import ModelProviderInfo
from modelclient._retry import RetryPolicy
from modelclient._transport import StreamResponse

from .test_client import (
    OK,
    SSE_HEADERS,
    collect,
    collect_until_error,
    event,
    make_client,
    prompt,
    replies,
    reply_body,
)

TEXT = [{"type": "output_text", "text": "Hi"}]
MSG = {"type": "message", "role": "assistant", "id": "msg_1", "content": TEXT}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup", "arguments": "{}"}


def completed(response: dict[str, Any]) -> bytes:
    return event({"type": "response.completed", "response": {"id": "resp_1", **response}})


# ------------------------------------------------------------------ connect timeout


def timeout_on_calls(*calls: int, seen: list[float] | None = None) -> Any:
    """A ``with_timeout`` that times out on the given 1-based calls (send = call 1)."""
    count = 0

    def with_timeout(awaitable: Awaitable[Any], seconds: float) -> Awaitable[Any]:
        nonlocal count
        count += 1
        if seen is not None:
            seen.append(seconds)
        if count in calls:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()
            raise TimeoutError
        return awaitable

    return with_timeout


def test_a_server_that_never_sends_headers_is_a_retried_connection_failure() -> None:
    seen: list[float] = []
    client, transport, clock = make_client(
        replies(OK, OK), with_timeout=timeout_on_calls(1, seen=seen)
    )
    events = collect(client.stream(prompt()))
    assert isinstance(events[-1], Completed)
    # The silent attempt was cancelled before the handler ran; the second got through.
    assert len(transport.requests) == 1
    assert seen[0] == 300.0  # default: the idle timeout
    assert len(clock.sleeps) == 1  # backoff before the second attempt


def test_connect_timeout_is_configurable_and_ends_in_connection_failed() -> None:
    seen: list[float] = []
    provider = ModelProviderInfo(base_url="http://127.0.0.1:9/v1", connect_timeout_ms=2500)
    client, transport, _ = make_client(
        replies(OK, OK, OK),
        provider=provider,
        retry=RetryPolicy(request_max_retries=2, rand=lambda: 0.5),
        with_timeout=timeout_on_calls(1, 2, 3, seen=seen),
    )
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, ConnectionFailedError)
    assert "within 2.5 s" in str(error) and "http://127.0.0.1:9/v1/responses" in str(error)
    assert seen == [2.5, 2.5, 2.5] and transport.requests == []


def test_a_stalled_error_body_still_classifies_by_status() -> None:
    # The headers of a 404 arrive, its body never does: call 1 is the send,
    # call 2 the body read.
    client, transport, _ = make_client(
        replies((404, {}, b"never read")), with_timeout=timeout_on_calls(2)
    )
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, UnexpectedStatusError) and error.status == 404
    assert len(transport.requests) == 1


# ------------------------------------------------------------------ headers


def test_a_repeated_header_keeps_its_first_value() -> None:
    response = StreamResponse(200, [("Retry-After", "1"), ("retry-after", "7")], iter([]))  # type: ignore[arg-type]
    assert response.headers == {"retry-after": "1"}


def test_a_comma_joined_header_reads_its_first_value() -> None:
    # What fetch gives for a repeated header: one "v1, v2" value.
    retry_after = (429, {"retry-after": "1, 7"}, b"{}")
    client, _, clock = make_client(
        replies(retry_after, OK), retry=RetryPolicy(request_max_retries=1, rand=lambda: 0.5)
    )
    collect(client.stream(prompt()))
    assert clock.sleeps == [1.0]


# ------------------------------------------------------------------ retries


def rate_limited() -> tuple[int, dict[str, str], bytes]:
    body = {"error": {"type": "requests", "code": "rate_limit_exceeded", "message": "Slow down."}}
    return 429, {"retry-after": "1"}, json.dumps(body).encode()


def test_turn_retry_waits_the_servers_retry_after_and_stops_at_the_attempt_cap() -> None:
    client, transport, clock = make_client(replies(*[rate_limited()] * 40))
    events, error = collect_until_error(client.stream_turn(prompt()))
    assert isinstance(error, RetryLimitError)
    assert error.delay == timedelta(seconds=1) and "Slow down." in str(error)
    # The default cap: 10 requests per user message (Rust's nesting allows 30).
    assert len(transport.requests) == 10
    reconnects = [e for e in events if isinstance(e, Reconnecting)]
    assert [r.delay for r in reconnects] == [timedelta(seconds=1)]
    assert clock.sleeps == [1.0] * 9  # 4 + 1 (turn) + 4, every one the server's second


def test_without_the_cap_the_nested_budgets_are_rusts() -> None:
    retry = RetryPolicy(max_attempts_per_turn=None, rand=lambda: 0.5)
    client, transport, _ = make_client(replies(*[rate_limited()] * 40), retry=retry)
    _, error = collect_until_error(client.stream_turn(prompt()))
    assert isinstance(error, RetryLimitError)
    assert len(transport.requests) == 30  # 6 turns × 5 attempts


def test_the_cap_also_bounds_turn_retries_of_broken_streams() -> None:
    cut = (200, SSE_HEADERS, reply_body("a b", completed=False))
    retry = RetryPolicy(max_attempts_per_turn=3, rand=lambda: 0.5)
    client, transport, _ = make_client(replies(*[cut] * 10), retry=retry)
    events, error = collect_until_error(client.stream_turn(prompt()))
    assert isinstance(error, StreamError)
    assert len(transport.requests) == 3
    assert sum(isinstance(e, Reconnecting) for e in events) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried_at_all(status: int) -> None:
    body = json.dumps({"error": {"message": f"no ({status})"}}).encode()
    client, transport, clock = make_client(replies(*[(status, {}, body)] * 10))
    events, error = collect_until_error(client.stream_turn(prompt()))
    assert error is not None and not error.retryable
    assert f"no ({status})" in str(error)
    assert len(transport.requests) == 1 and clock.sleeps == []
    assert not any(isinstance(e, Reconnecting) for e in events)


def test_a_wrong_url_is_reported_with_the_url() -> None:
    html = b"<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
    client, _, _ = make_client(replies((404, {"content-type": "text/html"}, html)))
    _, error = collect_until_error(client.stream_turn(prompt()))
    assert isinstance(error, UnexpectedStatusError)
    assert str(error) == (
        "unexpected status 404 Not Found: HTML page: 404 Not Found, url: http://127.0.0.1:9/v1/responses"
    )
    assert error.body == html.decode()  # the whole page stays available for "Details"


def test_a_500_with_a_message_says_it() -> None:
    body = json.dumps({"error": {"message": "upstream model crashed", "type": "server_error"}}).encode()
    client, _, _ = make_client(
        replies(*[(500, {}, body)] * 5), retry=RetryPolicy(request_max_retries=4, rand=lambda: 0.5)
    )
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, InternalServerError)
    assert str(error) == "Internal server error: upstream model crashed"


def test_a_plain_text_502_message_reaches_the_error() -> None:
    client, _, _ = make_client(
        replies((502, {}, b"upstream connect error")), retry=RetryPolicy(request_max_retries=0)
    )
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, RetryLimitError)
    assert str(error) == "exceeded retry limit, last status: 502 Bad Gateway: upstream connect error"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"code": "cyber_policy", "message": "Flagged."}}, CyberPolicyError),
        (
            {"error": {"message": "The image data you provided does not represent a valid image."}},
            InvalidImageRequestError,
        ),
        ({"error": {"message": "Unknown parameter: 'x'."}}, InvalidRequestError),
    ],
)
def test_http_400_classes(body: dict[str, Any], expected: type[ModelClientError]) -> None:
    client, transport, _ = make_client(replies((400, {}, json.dumps(body).encode())))
    _, error = collect_until_error(client.stream_turn(prompt()))
    assert type(error) is expected and not error.retryable
    assert len(transport.requests) == 1


# ------------------------------------------------------------------ response.failed codes


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("context_length_exceeded", ContextWindowExceededError),
        ("insufficient_quota", QuotaExceededError),
        ("usage_not_included", UsageNotIncludedError),
        ("cyber_policy", CyberPolicyError),
        ("invalid_prompt", InvalidRequestError),
        ("server_is_overloaded", ServerOverloadedError),
        ("slow_down", ServerOverloadedError),
    ],
)
def test_response_failed_codes_that_rust_stops_on(code: str, expected: type[ModelClientError]) -> None:
    error = {"code": code, "message": "m"}
    failed = event({"type": "response.failed", "response": {"id": "r", "error": error}})
    client, transport, _ = make_client(replies(*[(200, SSE_HEADERS, [failed])] * 6))
    events, error = collect_until_error(client.stream_turn(prompt()))
    assert type(error) is expected
    assert len(transport.requests) == 1
    assert not any(isinstance(e, Reconnecting) for e in events)


def test_the_product_name_comes_from_the_client() -> None:
    failed = event(
        {"type": "response.failed", "response": {"id": "r", "error": {"code": "context_length_exceeded"}}}
    )
    client, _, _ = make_client(replies((200, SSE_HEADERS, [failed])), product="SidePy")
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, ContextWindowExceededError)
    assert str(error).startswith("SidePy ran out of room")
    plain, _, _ = make_client(replies((200, SSE_HEADERS, [failed])))
    _, error = collect_until_error(plain.stream(prompt()))
    assert str(error).startswith("The conversation ran out of room")


# ------------------------------------------------------------------ the stream


def test_items_only_in_completed_output_come_before_completed() -> None:
    body = [
        event({"type": "response.created", "response": {"id": "resp_1"}}),
        completed({"status": "completed", "output": [MSG, CALL]}),
    ]
    client, _, _ = make_client(replies((200, SSE_HEADERS, body)))
    events = collect(client.stream(prompt()))
    kinds = [type(e).__name__ for e in events if not isinstance(e, RateLimits)]
    assert kinds == ["Created", "OutputItemDone", "OutputItemDone", "Completed"]
    assert [e.item for e in events if isinstance(e, OutputItemDone)] == [MSG, CALL]


def test_items_announced_by_output_item_done_are_not_repeated() -> None:
    no_id = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "x"}]}
    body = [
        event({"type": "response.output_item.done", "output_index": 0, "item": MSG}),
        event({"type": "response.output_item.done", "output_index": 1, "item": no_id}),
        completed({"output": [MSG, no_id, CALL, {**no_id, "content": []}]}),
    ]
    client, _, _ = make_client(replies((200, SSE_HEADERS, body)))
    items = [e.item for e in collect(client.stream(prompt())) if isinstance(e, OutputItemDone)]
    assert items == [MSG, no_id, CALL, {**no_id, "content": []}]


@pytest.mark.parametrize(
    ("response", "status", "reason"),
    [
        ({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}, "incomplete",
         "max_output_tokens"),
        ({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}, "incomplete",
         "content_filter"),
        ({"status": "failed", "error": {"code": "server_error", "message": "The model crashed."}}, "failed",
         "The model crashed."),
        ({"status": "incomplete"}, "incomplete", "unknown"),
        ({"status": "completed"}, "completed", None),
        ({"status": "in_progress"}, "completed", None),
        ({}, "completed", None),
    ],
)
def test_completion_status_and_reason(response: dict[str, Any], status: str, reason: str | None) -> None:
    body = [event({"type": "response.output_text.delta", "delta": "Partial"}), completed(response)]
    client, transport, _ = make_client(replies((200, SSE_HEADERS, body)))
    events = collect(client.stream_turn(prompt()))
    done = events[-1]
    assert isinstance(done, Completed)
    assert (done.status, done.reason, done.incomplete) == (status, reason, status != "completed")
    assert len(transport.requests) == 1  # an incomplete answer is an answer, not re-sent


def test_a_malformed_delta_is_skipped_and_reported_and_the_item_has_the_text() -> None:
    content = [{"type": "output_text", "text": "one two three"}]
    item = {"type": "message", "role": "assistant", "content": content}
    body = [
        event({"type": "response.output_text.delta", "delta": "one "}),
        b'data: {"type":"response.output_text.delta","delta":"two \n\n',  # cut JSON
        event({"type": "response.output_text.delta", "delta": "three"}),
        event({"type": "response.output_item.done", "item": item}),
        completed({}),
    ]
    client, _, _ = make_client(replies((200, SSE_HEADERS, body)))
    events = collect(client.stream(prompt()))
    assert "".join(e.delta for e in events if isinstance(e, OutputTextDelta)) == "one three"
    done = events[-1]
    assert isinstance(done, Completed) and done.malformed_events == 1
    assert [e.item for e in events if isinstance(e, OutputItemDone)] == [item]


# ------------------------------------------------------------------ errors in a 200


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "text/event-stream"]
)
def test_a_json_error_in_a_200_is_the_servers_error(content_type: str) -> None:
    body = json.dumps({"error": {"message": "Model 'gpt-9' does not exist", "type": "invalid_request_error"}})
    client, transport, _ = make_client(replies((200, {"content-type": content_type}, body.encode())))
    _, error = collect_until_error(client.stream_turn(prompt()))
    assert isinstance(error, InvalidRequestError)
    assert str(error) == "Model 'gpt-9' does not exist"
    assert len(transport.requests) == 1


def test_a_json_error_string_in_a_200_is_retried_with_its_message() -> None:
    body = [b'{"error": ', b'"backend unavailable"}']  # split across chunks
    client, transport, _ = make_client(
        replies(*[(200, {"content-type": "application/json"}, body)] * 2),
        retry=RetryPolicy(stream_max_retries=1, rand=lambda: 0.5),
    )
    _, error = collect_until_error(client.stream_turn(prompt()))
    assert isinstance(error, StreamError)
    assert error.message == "backend unavailable"
    assert len(transport.requests) == 2


def test_json_that_is_not_an_error_says_what_came_instead() -> None:
    body = json.dumps({"id": "resp_1", "object": "response", "output": []}).encode()
    client, _, _ = make_client(replies((200, {"content-type": "application/json"}, body)))
    _, error = collect_until_error(client.stream(prompt()))
    assert isinstance(error, StreamError)
    assert error.message.startswith('expected an event stream, got JSON: {"id": "resp_1"')


def test_a_data_error_without_type_is_the_servers_error() -> None:
    body = [
        event({"type": "response.created", "response": {"id": "r"}}),
        b'data: {"error": {"message": "Upstream provider returned 502", "code": "bad_gateway"}}\n\n',
    ]
    client, _, _ = make_client(replies((200, SSE_HEADERS, body)), retry=RetryPolicy(stream_max_retries=0))
    _, error = collect_until_error(client.stream_turn(prompt()))
    assert isinstance(error, StreamError)
    assert error.message == "Upstream provider returned 502"
