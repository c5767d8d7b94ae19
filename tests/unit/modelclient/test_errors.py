"""The error tree: messages, retryability, JSON round trips."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from modelclient import _errors
from modelclient._error_text import format_status
from modelclient._errors import (
    ConnectionFailedError,
    ContextWindowExceededError,
    CyberPolicyError,
    IdleTimeoutError,
    InternalServerError,
    InvalidImageRequestError,
    InvalidRequestError,
    ModelClientError,
    QuotaExceededError,
    RefreshTokenFailedError,
    RefreshTokenTransientError,
    RetryLimitError,
    ServerOverloadedError,
    StreamError,
    UnauthorizedError,
    UnexpectedStatusError,
    UsageLimitReachedError,
    UsageNotIncludedError,
    error_from_json,
)
from modelclient._ratelimits import RateLimitSnapshot, RateLimitWindow

SNAPSHOT = RateLimitSnapshot(
    primary=RateLimitWindow(100.0, 15, None),
    secondary=RateLimitWindow(87.5, 60, None),
    limit_id="codex",
)

# (error, kind, retryable, exact str)
ERRORS: list[tuple[ModelClientError, str, bool, str]] = [
    (
        RefreshTokenFailedError("exhausted"),
        "refresh_token_failed",
        False,
        "Your access token could not be refreshed because your refresh token was already used. "
        "Please log out and sign in again.",
    ),
    (
        RefreshTokenTransientError(500, "boom"),
        "refresh_token_transient",
        True,
        "Failed to refresh token: 500 Internal Server Error: boom",
    ),
    (
        StreamError("response.failed event received"),
        "stream",
        True,
        "stream disconnected before completion: response.failed event received",
    ),
    (
        StreamError("Rate limit reached. Please try again in 11.054s.", timedelta(seconds=11.054)),
        "stream",
        True,
        "stream disconnected before completion: Rate limit reached. Please try again in 11.054s.",
    ),
    (
        IdleTimeoutError(),
        "idle_timeout",
        True,
        "stream disconnected before completion: idle timeout waiting for SSE",
    ),
    (
        ContextWindowExceededError("SidePy"),
        "context_window_exceeded",
        False,
        "SidePy ran out of room in the model's context window. Start a new conversation or "
        "clear earlier history before retrying.",
    ),
    (
        ContextWindowExceededError(),
        "context_window_exceeded",
        False,
        "The conversation ran out of room in the model's context window. Start a new conversation or "
        "clear earlier history before retrying.",
    ),
    (
        UsageNotIncludedError("SidePy"),
        "usage_not_included",
        False,
        "To use SidePy with your ChatGPT plan, upgrade to Plus: https://openai.com/chatgpt/pricing.",
    ),
    (
        UsageNotIncludedError(),
        "usage_not_included",
        False,
        "To use this with your ChatGPT plan, upgrade to Plus: https://openai.com/chatgpt/pricing.",
    ),
    (
        CyberPolicyError(" "),
        "cyber_policy",
        False,
        "This request has been flagged for possible cybersecurity risk.",
    ),
    (
        CyberPolicyError("Flagged: exploit development."),
        "cyber_policy",
        False,
        "Flagged: exploit development.",
    ),
    (
        InvalidImageRequestError(),
        "invalid_image_request",
        False,
        "The server could not read an image in this conversation as a valid image. "
        "Remove the image (or attach it again as PNG or JPEG) and send again.",
    ),
    (
        QuotaExceededError(),
        "quota_exceeded",
        False,
        "Quota exceeded. Check your plan and billing details.",
    ),
    (
        ServerOverloadedError(),
        "server_overloaded",
        False,
        "Selected model is at capacity. Please try a different model.",
    ),
    (
        InternalServerError(),
        "internal_server_error",
        True,
        "We're currently experiencing high demand, which may cause temporary errors.",
    ),
    (
        InternalServerError("database unavailable"),
        "internal_server_error",
        True,
        "Internal server error: database unavailable",
    ),
    (
        InvalidRequestError("Unknown parameter: 'tools[0].name'.", "{}", "req_1"),
        "invalid_request",
        False,
        "Unknown parameter: 'tools[0].name'.",
    ),
    (
        RetryLimitError(429, "8f1c2a3b4d5e6f70-SJC"),
        "retry_limit",
        True,
        "exceeded retry limit, last status: 429 Too Many Requests, request id: 8f1c2a3b4d5e6f70-SJC",
    ),
    (
        RetryLimitError(502),
        "retry_limit",
        True,
        "exceeded retry limit, last status: 502 Bad Gateway",
    ),
    (
        RetryLimitError(429, "r1", "Slow down", timedelta(seconds=1)),
        "retry_limit",
        True,
        "exceeded retry limit, last status: 429 Too Many Requests: Slow down, request id: r1",
    ),
    (
        UnexpectedStatusError(404, '{"error":"nope"}', "req_9", url="http://127.0.0.1:9/v1/responses"),
        "unexpected_status",
        False,
        "unexpected status 404 Not Found: nope, url: http://127.0.0.1:9/v1/responses, request id: req_9",
    ),
    (
        UnexpectedStatusError(418, ""),
        "unexpected_status",
        False,
        "unexpected status 418 I'm a teapot: Unknown error",
    ),
    (
        UnexpectedStatusError(409, '{"error":{"message":"Conflict, retry"}}'),
        "unexpected_status",
        True,
        "unexpected status 409 Conflict: Conflict, retry",
    ),
    (
        UnexpectedStatusError(403, "<html><head><title>403\n Forbidden</title></head><body>x</body></html>"),
        "unexpected_status",
        False,
        "unexpected status 403 Forbidden: HTML page: 403 Forbidden",
    ),
    (
        UnauthorizedError('{"error":{"code":"invalid_api_key"}}'),
        "unauthorized",
        False,
        "unexpected status 401 Unauthorized: Unknown error",
    ),
    (
        UnauthorizedError('{"error":{"message":"Incorrect API key provided: sk-te***st."}}'),
        "unauthorized",
        False,
        "unexpected status 401 Unauthorized: Incorrect API key provided: sk-te***st.",
    ),
    (
        ConnectionFailedError("error sending request for url (https://api.openai.com/v1/responses)"),
        "connection_failed",
        True,
        "Connection failed: error sending request for url (https://api.openai.com/v1/responses)",
    ),
    (
        UsageLimitReachedError("pro", None, SNAPSHOT, resets_in_seconds=42),
        "usage_limit_reached",
        False,
        "You've hit your usage limit. Try again in less than a minute.",
    ),
]


@pytest.mark.parametrize(
    ("error", "kind", "retryable", "message"),
    ERRORS,
    ids=[e[1] + str(i) for i, e in enumerate(ERRORS)],
)
def test_message_kind_and_retryable(
    error: ModelClientError, kind: str, retryable: bool, message: str
) -> None:
    assert str(error) == message
    assert error.kind == kind
    assert error.retryable is retryable
    assert isinstance(error, ModelClientError)


@pytest.mark.parametrize("error", [e[0] for e in ERRORS], ids=[e[1] + str(i) for i, e in enumerate(ERRORS)])
def test_json_round_trip(error: ModelClientError) -> None:
    data = error.to_json()
    assert set(data) == {"kind", "message", "retryable", "fields"}
    text = json.dumps(data)  # JSON-safe
    back = error_from_json(json.loads(text))
    assert type(back) is type(error)
    assert back.to_json() == data
    assert str(back) == str(error)


@pytest.mark.parametrize("error", [e[0] for e in ERRORS], ids=[e[1] + str(i) for i, e in enumerate(ERRORS)])
def test_pickle_round_trip(error: ModelClientError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert back.to_json() == error.to_json()


def test_every_concrete_error_has_a_distinct_kind() -> None:
    classes = [getattr(_errors, name) for name in _errors.__all__ if name.endswith("Error")]
    concrete = [cls for cls in classes if cls is not ModelClientError]
    kinds = [cls.kind for cls in concrete]
    assert len(concrete) == 17
    assert len(set(kinds)) == len(kinds)
    assert {e[1] for e in ERRORS} == set(kinds)


def test_tree_shape() -> None:
    assert issubclass(IdleTimeoutError, StreamError)
    assert issubclass(UnauthorizedError, UnexpectedStatusError)
    for name in _errors.__all__:
        obj = getattr(_errors, name)
        if isinstance(obj, type) and name.endswith("Error"):
            assert issubclass(obj, ModelClientError)
            assert obj.__doc__, name


def test_base_class_is_abstract() -> None:
    with pytest.raises(TypeError):
        ModelClientError("x")


def test_error_from_json_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown model client error kind"):
        error_from_json({"kind": "nope", "fields": {}})
    with pytest.raises(ValueError):
        error_from_json({})


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "retry_limit", "fields": {}},
        {"kind": "retry_limit", "fields": {"status": "abc"}},
        {"kind": "unexpected_status"},
        {"kind": "stream", "fields": {"message": "m", "delay": "soon"}},
        {"kind": "usage_limit_reached", "fields": {"resets_at": "yesterday"}},
    ],
)
def test_error_from_json_refuses_malformed_fields(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="malformed"):
        error_from_json(data)


def test_fields_are_json_safe() -> None:
    error = StreamError("slow down", timedelta(milliseconds=1500))
    assert error.to_json()["fields"] == {"message": "slow down", "delay": 1.5}
    assert error.retry_delay == timedelta(milliseconds=1500)
    assert InternalServerError().retry_delay is None
    reset = datetime(2024, 1, 1, 0, 0, 42, tzinfo=UTC)
    limit = UsageLimitReachedError("plus", reset, None, resets_in_seconds=42)
    assert limit.to_json()["fields"] == {
        "plan_type": "plus",
        "resets_at": "2024-01-01T00:00:42+00:00",
        "resets_in_seconds": 42,
        "rate_limits": None,
        "product": None,
    }
    assert limit.retry_delay == timedelta(seconds=42)


def test_usage_limit_json_carries_the_rate_limits() -> None:
    error = UsageLimitReachedError("pro", None, SNAPSHOT, resets_in_seconds=42)
    rate_limits = error.to_json()["fields"]["rate_limits"]
    assert rate_limits["primary"] == {
        "used_percent": 100.0,
        "window_minutes": 15,
        "resets_in_seconds": None,
        "resets_at": None,
    }
    back = error_from_json(error.to_json())
    assert isinstance(back, UsageLimitReachedError)
    assert back.rate_limits == SNAPSHOT


# ---------------------------------------------------------------------------
# UsageLimitReachedError text (A)
# ---------------------------------------------------------------------------

HOUR = 3600
DAY = 86_400


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "less than a minute"),
        (30, "less than a minute"),
        (59, "less than a minute"),
        (60, "1 minute"),
        (119, "1 minute"),
        (120, "2 minutes"),
        (3600, "1 hour"),
        (3 * HOUR + 32 * 60, "3 hours 32 minutes"),
        (2 * DAY + 3 * HOUR + 5 * 60, "2 days 3 hours 5 minutes"),
        (DAY, "1 day"),
        (DAY + 60, "1 day 1 minute"),
        (7 * DAY + 59, "7 days"),
        (602_705, "6 days 23 hours 25 minutes"),
    ],
)
def test_reset_duration_text(seconds: int, text: str) -> None:
    error = UsageLimitReachedError(None, resets_in_seconds=seconds)
    assert str(error) == f"You've hit your usage limit. Try again in {text}."


LIMIT = "You've hit your usage limit."


@pytest.mark.parametrize(
    ("plan", "with_reset", "without_reset"),
    [
        (
            "plus",
            f"{LIMIT} Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again in 1 hour.",
            f"{LIMIT} Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again later.",
        ),
        (
            "team",
            f"{LIMIT} To get more access now, send a request to your admin or try again in 1 hour.",
            f"{LIMIT} To get more access now, send a request to your admin or try again later.",
        ),
        (
            "business",
            f"{LIMIT} To get more access now, send a request to your admin or try again in 1 hour.",
            f"{LIMIT} To get more access now, send a request to your admin or try again later.",
        ),
        (
            "free",
            f"{LIMIT} Upgrade to Plus to continue using SidePy (https://openai.com/chatgpt/pricing).",
            f"{LIMIT} Upgrade to Plus to continue using SidePy (https://openai.com/chatgpt/pricing).",
        ),
        ("pro", f"{LIMIT} Try again in 1 hour.", f"{LIMIT} Try again later."),
        ("enterprise", f"{LIMIT} Try again in 1 hour.", f"{LIMIT} Try again later."),
        ("edu", f"{LIMIT} Try again in 1 hour.", f"{LIMIT} Try again later."),
        ("Plus", f"{LIMIT} Try again in 1 hour.", f"{LIMIT} Try again later."),  # Unknown("Plus")
        ("go", f"{LIMIT} Try again in 1 hour.", f"{LIMIT} Try again later."),  # C-only plan
        (None, f"{LIMIT} Try again in 1 hour.", f"{LIMIT} Try again later."),
    ],
)
def test_usage_limit_text_by_plan(plan: str | None, with_reset: str, without_reset: str) -> None:
    assert str(UsageLimitReachedError(plan, resets_in_seconds=3600, product="SidePy")) == with_reset
    assert str(UsageLimitReachedError(plan, product="SidePy")) == without_reset
    assert UsageLimitReachedError(plan).plan_type == plan  # unknown plans kept verbatim


def test_usage_limit_text_without_a_product_names_none() -> None:
    text = f"{LIMIT} Upgrade to Plus to continue (https://openai.com/chatgpt/pricing)."
    assert str(UsageLimitReachedError("free")) == text


@pytest.mark.parametrize(
    ("resets_at", "text"),
    [
        (datetime(2024, 1, 1, 0, 0, 42, tzinfo=UTC), "Jan 1st, 2024 12:00 AM UTC"),
        (datetime(2025, 3, 2, 13, 5, tzinfo=UTC), "Mar 2nd, 2025 1:05 PM UTC"),
        (datetime(2025, 3, 3, 12, 0, tzinfo=UTC), "Mar 3rd, 2025 12:00 PM UTC"),
        (datetime(2025, 11, 11, 9, 30, tzinfo=UTC), "Nov 11th, 2025 9:30 AM UTC"),
        (datetime(2025, 11, 12, 23, 59, tzinfo=UTC), "Nov 12th, 2025 11:59 PM UTC"),
        (datetime(2025, 11, 13, 1, 0, tzinfo=UTC), "Nov 13th, 2025 1:00 AM UTC"),
        (datetime(2025, 12, 21, 1, 0, tzinfo=UTC), "Dec 21st, 2025 1:00 AM UTC"),
        (datetime(2025, 12, 22, 1, 0, tzinfo=UTC), "Dec 22nd, 2025 1:00 AM UTC"),
        (datetime(2025, 12, 23, 1, 0, tzinfo=UTC), "Dec 23rd, 2025 1:00 AM UTC"),
        (datetime(2025, 12, 31, 1, 0, tzinfo=UTC), "Dec 31st, 2025 1:00 AM UTC"),
        (
            datetime(2025, 6, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
            "Jun 1st, 2025 12:00 AM UTC",
        ),
    ],
)
def test_reset_time_fallback_without_duration(resets_at: datetime, text: str) -> None:
    error = UsageLimitReachedError("pro", resets_at)
    assert str(error) == f"{LIMIT} Try again at {text}."
    assert str(UsageLimitReachedError("plus", resets_at)).endswith(f" or try again at {text}.")


# ---------------------------------------------------------------------------
# Status display (http crate reasons, not Python's HTTPStatus phrases)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (400, "400 Bad Request"),
        (401, "401 Unauthorized"),
        (403, "403 Forbidden"),
        (413, "413 Payload Too Large"),
        (414, "414 URI Too Long"),
        (416, "416 Range Not Satisfiable"),
        (422, "422 Unprocessable Entity"),
        (429, "429 Too Many Requests"),
        (500, "500 Internal Server Error"),
        (503, "503 Service Unavailable"),
        (520, "520 <unknown status code>"),
        (599, "599 <unknown status code>"),
    ],
)
def test_format_status(status: int, text: str) -> None:
    assert format_status(status) == text


@pytest.mark.parametrize(
    ("status", "body", "request_id", "text"),
    [
        (
            403,
            "<html>Sorry, you have been blocked ... Cloudflare Ray ID</html>",
            "ray-1",
            "Access blocked by Cloudflare. This usually happens when connecting from a "
            "restricted region (status 403 Forbidden), request id: ray-1",
        ),
        (403, "Cloudflare says hi", None, "unexpected status 403 Forbidden: Cloudflare says hi"),
        (403, "", None, "unexpected status 403 Forbidden: Unknown error"),
        (403, "x" * 1200, None, "unexpected status 403 Forbidden: " + "x" * 1000 + "..."),
        (
            404,
            "blocked by Cloudflare",
            None,
            "unexpected status 404 Not Found: blocked by Cloudflare",
        ),
    ],
)
def test_cloudflare_block_text(status: int, body: str, request_id: str | None, text: str) -> None:
    assert str(UnexpectedStatusError(status, body, request_id)) == text
