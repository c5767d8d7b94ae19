"""Backoff, "try again in" parsing, Retry-After, and the retry policy."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelclient._errors import (
    ConnectionFailedError,
    ContextWindowExceededError,
    IdleTimeoutError,
    InternalServerError,
    InvalidRequestError,
    ModelClientError,
    QuotaExceededError,
    RetryLimitError,
    ServerOverloadedError,
    StreamError,
    UnauthorizedError,
    UnexpectedStatusError,
    UsageLimitReachedError,
    UsageNotIncludedError,
)
from modelclient._retry import (
    Fatal,
    RetryableHttp,
    RetryableTransport,
    RetryPolicy,
    backoff,
    parse_retry_after,
    parse_retry_after_header,
    try_parse_retry_after,
)
from tests.support.paths import corpus_dir

ALMOST_ONE = 1.0 - 2.0**-53  # the largest value random.random() can return


def ms(n: float) -> timedelta:
    return timedelta(milliseconds=n)


def fixed(value: float) -> Any:
    return lambda: value


# ---------------------------------------------------------------------------
# backoff
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "low", "mid", "high"),
    [
        (0, 180, 200, 219),  # saturating_sub: attempt 0 behaves as 1
        (1, 180, 200, 219),
        (2, 360, 400, 439),
        (3, 720, 800, 879),
        (4, 1440, 1600, 1759),
        (5, 2880, 3200, 3519),
        (6, 5760, 6400, 7039),
        (-3, 180, 200, 219),
    ],
)
def test_backoff_bounds_with_pinned_jitter(attempt: int, low: int, mid: int, high: int) -> None:
    assert backoff(attempt, rand=fixed(0.0)) == ms(low)
    assert backoff(attempt, rand=fixed(0.5)) == ms(mid)
    assert backoff(attempt, rand=fixed(ALMOST_ONE)) == ms(high)


def test_backoff_truncates_to_whole_milliseconds() -> None:
    # 200 × (0.9 + 0.2 × 0.123) = 184.92 → 184 ms
    assert backoff(1, rand=fixed(0.123)) == ms(184)
    assert backoff(1, rand=fixed(0.123)).microseconds % 1000 == 0


def test_backoff_saturates_instead_of_overflowing() -> None:
    assert backoff(100, rand=fixed(0.0)) == timedelta.max - timedelta(microseconds=999)
    assert backoff(10_000, rand=fixed(0.5)) == backoff(100, rand=fixed(0.5))


@given(attempt=st.integers(min_value=1, max_value=40), u=st.floats(0.0, ALMOST_ONE))
def test_backoff_stays_within_ten_percent(attempt: int, u: float) -> None:
    base = 200 * 2 ** (attempt - 1)
    got = backoff(attempt, rand=fixed(u)) / ms(1)
    assert math.floor(base * 0.9) <= got < base * 1.1


# ---------------------------------------------------------------------------
# "try again in" (B/C regex)
# ---------------------------------------------------------------------------

SPEC_VECTORS = [
    (
        "Rate limit reached for gpt-5 in organization org-AAA on tokens per min (TPM): "
        "Limit 30000, Used 22999, Requested 12528. Please try again in 11.054s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        ms(11054),
    ),
    ("... Please try again in 1.2s. Visit ...", ms(1200)),
    ("... Please try again in 28ms. ...", ms(28)),
    ("... Please try again in 1.898s ...", ms(1898)),
    ("Rate limit exceeded. Try again in 35 seconds.", timedelta(seconds=35)),  # B/C only
]


@pytest.mark.parametrize(("message", "expected"), SPEC_VECTORS)
def test_parse_retry_after_spec_vectors(message: str, expected: timedelta) -> None:
    assert parse_retry_after(message) == expected


def _rate_limit_rows() -> list[dict[str, Any]]:
    path = corpus_dir("responses", "errors") / "rate_limit_messages.json"
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return rows


@pytest.mark.parametrize("row", _rate_limit_rows(), ids=lambda r: r["message"][:48])
def test_parse_retry_after_corpus_messages(row: dict[str, Any]) -> None:
    got = parse_retry_after(row["message"])
    expected = row["expected_retry_delay_seconds"]
    if expected is None:
        assert got is None
    else:
        assert got == timedelta(seconds=expected)


def test_corpus_table_is_complete() -> None:
    assert len(_rate_limit_rows()) == 13


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", None),
        (None, None),
        ("no hint here", None),
        ("TRY AGAIN IN 5S", timedelta(seconds=5)),  # case-insensitive, unit lower-cased
        ("Try Again In 3Ms", ms(3)),
        ("try again in 7 Seconds", timedelta(seconds=7)),
        ("try again in 1 second", timedelta(seconds=1)),
        ("try again in2s", timedelta(seconds=2)),  # \s* allows no space
        ("try again in 1.5ms", ms(1)),  # `value as u64`: fraction of a ms dropped
        ("try again in 0.9999ms", ms(0)),
        ("try again in 0s", timedelta(0)),
        ("try again in 0.0000001s", timedelta(0)),  # below a microsecond
        ("try again in 1.2.3s", None),
        ("try again in -5s", None),
        ("try again in inf s", None),
        ("try again in nan s", None),
        ("try again in 1e3s", None),
        ("try again in 5 minutes", None),
        ("try again in 5", None),
        ("try again in ٣s", None),  # Unicode digit: matched by \d, refused by f64
        ("try again in " + "9" * 400 + "s", None),  # inf after parse (Rust would panic)
        ("try again in " + "9" * 20 + "s", None),  # beyond timedelta.max
        ("try again in " + "9" * 30 + "ms", None),
        ("try again in 86400s", timedelta(days=1)),
        ("first try again in 2s then try again in 9s", timedelta(seconds=2)),
        ("Please try again in 12ms.\nVisit", ms(12)),
    ],
)
def test_parse_retry_after_edge_cases(message: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(message) == expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"code": "rate_limit_exceeded", "message": "Please try again in 1.5s."}, ms(1500)),
        ({"code": "rate_limit_exceeded", "message": "no delay"}, None),
        ({"code": "rate_limit_exceeded"}, None),
        ({"code": "rate_limit_exceeded", "message": 12}, None),
        ({"code": "server_error", "message": "Please try again in 1.5s."}, None),
        ({"message": "Please try again in 1.5s."}, None),
        ({}, None),
        (None, None),
    ],
)
def test_try_parse_retry_after_is_gated_on_the_code(
    error: dict[str, Any] | None, expected: timedelta | None
) -> None:
    assert try_parse_retry_after(error) == expected


# ---------------------------------------------------------------------------
# Retry-After header (A/B: integer seconds only)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, timedelta(seconds=3)),
        ({"Retry-After": "3"}, timedelta(seconds=3)),
        ({"RETRY-AFTER": " 20 "}, timedelta(seconds=20)),
        ({"retry-after": "+7"}, timedelta(seconds=7)),
        ({"retry-after": "0"}, timedelta(0)),
        ({"retry-after": "3.5"}, None),
        ({"retry-after": "-1"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "1e3"}, None),
        ({"retry-after": "Fri, 13 Mar 2026 08:09:32 GMT"}, None),
        ({"retry-after": "12345678901234567890123456789012345"}, None),
        ({"retry-after": "18446744073709551615"}, None),  # u64::MAX, beyond timedelta
        ({"retry-after": "٣"}, None),
        ({"retry-after-ms": "1500"}, None),  # no Codex version reads it
        ({}, None),
        ([("Retry-After", "4"), ("retry-after", "9")], timedelta(seconds=4)),
    ],
)
def test_parse_retry_after_header(headers: Any, expected: timedelta | None) -> None:
    assert parse_retry_after_header(headers) == expected


# ---------------------------------------------------------------------------
# RetryPolicy: request level
# ---------------------------------------------------------------------------


def policy(**kwargs: Any) -> RetryPolicy:
    return RetryPolicy(rand=fixed(0.0), clock=fixed(1_700_000_000.0), **kwargs)


def body(**error: Any) -> str:
    return json.dumps({"error": error})


def test_policy_defaults_and_caps() -> None:
    p = RetryPolicy()
    assert (p.request_max_retries, p.stream_max_retries) == (4, 5)
    assert p.max_retry_after is None
    capped = RetryPolicy(request_max_retries=1000, stream_max_retries=101)
    assert (capped.request_max_retries, capped.stream_max_retries) == (100, 100)
    assert RetryPolicy(request_max_retries=-1).request_max_retries == 0


def test_policy_is_frozen_and_compares_by_budget() -> None:
    p = RetryPolicy(request_max_retries=2)
    with pytest.raises(AttributeError):
        p.request_max_retries = 3  # type: ignore[misc]
    assert p == RetryPolicy(request_max_retries=2, rand=fixed(0.3))


@pytest.mark.parametrize(
    ("status", "headers", "text", "outcome", "error"),
    [
        (429, {}, body(type="tokens", code="rate_limit_exceeded"), RetryableHttp, RetryLimitError),
        (429, {}, "not json", RetryableHttp, RetryLimitError),
        (429, {}, body(type="usage_limit_reached"), Fatal, UsageLimitReachedError),
        (429, {}, body(type="usage_not_included"), Fatal, UsageNotIncludedError),
        (429, {}, body(code="insufficient_quota"), Fatal, QuotaExceededError),
        (500, {}, "", RetryableHttp, InternalServerError),
        (502, {}, "<html>", RetryableHttp, RetryLimitError),
        (503, {}, body(code="server_is_overloaded"), RetryableHttp, ServerOverloadedError),
        (503, {}, body(code="slow_down"), RetryableHttp, ServerOverloadedError),
        (503, {}, "", RetryableHttp, RetryLimitError),
        (504, {}, "", RetryableHttp, RetryLimitError),
        (400, {}, body(message="bad"), Fatal, InvalidRequestError),
        (401, {}, "", Fatal, UnauthorizedError),
        (403, {}, "forbidden", Fatal, UnexpectedStatusError),
        (404, {}, "", Fatal, UnexpectedStatusError),
        (408, {}, "", Fatal, UnexpectedStatusError),
        (409, {}, "", Fatal, UnexpectedStatusError),
    ],
)
def test_classify_response(
    status: int, headers: dict[str, str], text: str, outcome: type, error: type
) -> None:
    got = policy().classify_response(status, headers, text)
    assert type(got) is outcome
    assert type(got.into_error()) is error


def test_refreshable_401_is_retried_with_a_refresh() -> None:
    got = policy().classify_response(401, {"x-request-id": "req_1"}, "", can_refresh_auth=True)
    assert isinstance(got, RetryableHttp)
    assert got.refresh_auth is True
    assert got.request_id == "req_1"
    assert isinstance(got.into_error(), UnauthorizedError)


def test_retry_after_header_wins_over_body_hint() -> None:
    text = body(code="rate_limit_exceeded", message="Please try again in 20s.")
    got = policy().classify_response(429, {"Retry-After": "3"}, text)
    assert isinstance(got, RetryableHttp)
    assert got.retry_after == timedelta(seconds=3)


def test_body_hint_is_used_without_retry_after() -> None:
    text = body(code="rate_limit_exceeded", message="Please try again in 26.604s.")
    got = policy().classify_response(429, {}, text.encode())
    assert isinstance(got, RetryableHttp)
    assert got.retry_after == ms(26604)
    assert got.delay(0) == ms(26604)


def test_no_hint_means_backoff_of_the_next_attempt() -> None:
    p = policy()
    got = p.classify_response(502, {"cf-ray": "8f00-SJC"}, "")
    assert isinstance(got, RetryableHttp)
    assert got.retry_after is None
    assert got.request_id == "8f00-SJC"
    assert [p.request_delay(got, n) for n in range(4)] == [ms(180), ms(360), ms(720), ms(1440)]


def test_request_id_comes_from_the_headers_for_every_status() -> None:
    got = policy().classify_response(500, {"X-Request-Id": "req_500"}, "")
    assert isinstance(got, RetryableHttp)
    assert got.request_id == "req_500"
    assert isinstance(got.into_error(), InternalServerError)


def test_max_retry_after_caps_server_delays_only() -> None:
    p = policy(max_retry_after=timedelta(seconds=60))
    got = p.classify_response(429, {"retry-after": "86400"}, "")
    assert isinstance(got, RetryableHttp)
    assert p.request_delay(got, 0) == timedelta(seconds=60)
    assert p.stream_delay(StreamError("x", timedelta(hours=1)), 1) == timedelta(seconds=60)


def test_transport_errors_are_retryable_with_backoff() -> None:
    p = policy()
    got = p.classify_transport_error("dns error")
    assert isinstance(got, RetryableTransport)
    assert p.request_delay(got, 2) == ms(720)
    assert str(got.into_error()) == "Connection failed: dns error"


@pytest.mark.parametrize(
    ("max_retries", "attempt", "expected"),
    [(4, 0, True), (4, 3, True), (4, 4, False), (0, 0, False), (1, 0, True), (1, 1, False)],
)
def test_can_retry_request(max_retries: int, attempt: int, expected: bool) -> None:
    assert policy(request_max_retries=max_retries).can_retry_request(attempt) is expected


def test_request_loop_gives_up_with_retry_limit_after_five_attempts() -> None:
    p = policy()
    sleeps: list[timedelta] = []
    final: ModelClientError | None = None
    for attempt in range(p.request_max_retries + 1):
        outcome = p.classify_response(429, {"cf-ray": "ray1"}, body(code="rate_limit_exceeded"))
        if isinstance(outcome, Fatal) or not p.can_retry_request(attempt):
            final = outcome.into_error()
            break
        sleeps.append(p.request_delay(outcome, attempt))
    assert sleeps == [ms(180), ms(360), ms(720), ms(1440)]
    assert str(final) == "exceeded retry limit, last status: 429 Too Many Requests, request id: ray1"


def test_2xx_is_not_an_error() -> None:
    with pytest.raises(ValueError, match="not an error"):
        policy().classify_response(200, {}, "")


# ---------------------------------------------------------------------------
# RetryPolicy: turn level
# ---------------------------------------------------------------------------

TURN_RETRYABLE: list[tuple[ModelClientError, bool]] = [
    (StreamError("stream closed before response.completed"), True),
    (IdleTimeoutError(), True),
    (ConnectionFailedError("reset"), True),
    (InternalServerError(), True),
    (RetryLimitError(429), True),  # A retries it; C would not
    (UnexpectedStatusError(404, ""), False),  # A and C retry these; no re-send fixes a wrong URL
    (UnexpectedStatusError(403, ""), False),
    (UnexpectedStatusError(408, ""), True),  # a request timeout / conflict may clear
    (UnexpectedStatusError(409, ""), True),
    (ContextWindowExceededError(), False),
    (UsageLimitReachedError(), False),
    (UsageNotIncludedError(), False),
    (QuotaExceededError(), False),  # B
    (ServerOverloadedError(), False),  # C
    (InvalidRequestError("bad"), False),  # C
    (UnauthorizedError(), False),  # ours
]


@pytest.mark.parametrize(("error", "retryable"), TURN_RETRYABLE, ids=lambda v: type(v).__name__)
def test_should_retry_stream(error: ModelClientError, retryable: bool) -> None:
    p = policy()
    assert p.should_retry_stream(error, 0) is retryable
    assert p.should_retry_stream(error, 4) is retryable
    assert p.should_retry_stream(error, 5) is False


def test_stream_delay_prefers_the_server_delay() -> None:
    p = policy()
    assert p.stream_delay(StreamError("rate", ms(11054)), 1) == ms(11054)
    assert p.stream_delay(StreamError("closed"), 1) == ms(180)
    assert p.stream_delay(StreamError("closed"), 3) == ms(720)
    assert p.stream_delay(ConnectionFailedError("x"), 2) == ms(360)


def test_turn_loop_backoff_sequence() -> None:
    p = policy(stream_max_retries=5)
    error = StreamError("stream closed before response.completed")
    retries, delays = 0, []
    while p.should_retry_stream(error, retries):
        retries += 1
        delays.append(p.stream_delay(error, retries))
    assert delays == [ms(180), ms(360), ms(720), ms(1440), ms(2880)]
