"""classify_http_error: failed HTTP responses onto the error tree.

Every ``errors/*.json`` of the test corpus is checked against its
``.expect.json``; Rust's status rows follow as a table.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelclient._classify import classify_http_error
from modelclient._errors import (
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
from modelclient._ratelimits import CreditsSnapshot, RateLimitSnapshot, RateLimitWindow
from modelclient._retry import RetryableHttp, RetryPolicy, try_parse_retry_after
from tests.support.paths import corpus_dir

NOW = 1_704_067_200.0  # 2024-01-01T00:00:00Z


def clock() -> float:
    return NOW


# ---------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------

ERRORS_DIR = corpus_dir("responses", "errors")
CASES = sorted(
    p for p in ERRORS_DIR.glob("*.json") if not p.name.endswith(".expect.json")
    and p.name != "rate_limit_messages.json"  # a table, covered by test_retry
)  # fmt: skip

KIND_TO_CLASS: dict[str, type[ModelClientError]] = {
    "authentication": UnauthorizedError,
    "rate_limit": RetryLimitError,  # what is left once the request retries are spent
    "usage_limit_reached": UsageLimitReachedError,
    "invalid_request": InvalidRequestError,
    "insufficient_quota": QuotaExceededError,
}


def load_case(path: Path) -> tuple[dict[str, Any], dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    expect = json.loads(path.with_name(path.stem + ".expect.json").read_text(encoding="utf-8"))
    return json.loads(text), expect, text


def case_status_and_headers(body: dict[str, Any], expect: dict[str, Any]) -> tuple[int, Any]:
    # A WebSocket error frame carries its status and headers inside the frame.
    status = expect["status"] or body.get("status_code")
    headers = expect.get("headers") or body.get("headers") or {}
    return status, headers


def test_corpus_is_present_and_complete() -> None:
    assert len(CASES) == 11
    kinds = {load_case(p)[1]["expected_error_kind"] for p in CASES}
    assert kinds <= set(KIND_TO_CLASS), kinds - set(KIND_TO_CLASS)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_corpus_error_kind(path: Path) -> None:
    body, expect, text = load_case(path)
    status, headers = case_status_and_headers(body, expect)
    expected_cls = KIND_TO_CLASS[expect["expected_error_kind"]]
    delay = expect["expected_retry_delay_seconds"]

    if status is None:
        # Arrived inside a stream (`response.failed`/`error`), not as an HTTP error:
        # the stream parser builds `StreamError(message, try_parse_retry_after(error))`.
        error = body["error"]
        got_delay = try_parse_retry_after(error)
        stream_error = StreamError(error["message"], got_delay)
        assert stream_error.retryable is True
        assert got_delay == timedelta(seconds=delay)
        return

    got = classify_http_error(status, headers, text, now=clock)
    assert type(got) is expected_cls
    if expect["retryable"] is False:
        assert got.retryable is False

    outcome = RetryPolicy(clock=clock).classify_response(status, headers, text)
    if expect["retryable"] is True:
        assert isinstance(outcome, RetryableHttp)
        expected_delay = None if delay is None else timedelta(seconds=delay)
        assert outcome.retry_after == expected_delay
        assert type(outcome.into_error()) is expected_cls
    else:
        assert not isinstance(outcome, RetryableHttp)


@pytest.mark.parametrize(
    ("name", "plan", "resets_at", "resets_in"),
    [
        ("codex2api_429_usage_limit_free", "free", 1775317531, 602705),
        ("pi_ws_error_usage_limit_plus", "plus", 1777936568, 13872),
    ],
)
def test_corpus_usage_limit_fields(name: str, plan: str, resets_at: int, resets_in: int) -> None:
    body, expect, text = load_case(ERRORS_DIR / f"{name}.json")
    status, headers = case_status_and_headers(body, expect)
    got = classify_http_error(status, headers, text, now=clock)
    assert isinstance(got, UsageLimitReachedError)
    assert got.plan_type == plan == expect["plan_type"]
    assert got.resets_at == datetime.fromtimestamp(resets_at, tz=UTC)
    assert got.resets_in_seconds == resets_in == expect["expected_retry_delay_seconds"]
    assert got.retry_delay == timedelta(seconds=resets_in)


def test_corpus_usage_limit_rate_limits_from_title_case_headers() -> None:
    body, _, text = load_case(ERRORS_DIR / "pi_ws_error_usage_limit_plus.json")
    got = classify_http_error(body["status_code"], body["headers"], text, now=clock)
    assert isinstance(got, UsageLimitReachedError)
    assert got.rate_limits == RateLimitSnapshot(
        primary=RateLimitWindow(100.0, 300, 13873, 1777936568),
        secondary=RateLimitWindow(80.0, 10080, 316705, 1778239400),
        credits=CreditsSnapshot(has_credits=False, unlimited=False, balance="0"),
        limit_id="codex",
        plan_type="plus",
    )
    assert str(got) == (
        "You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) "
        "or try again in 3 hours 51 minutes."
    )


def test_corpus_invalid_request_messages() -> None:
    for name in ("pai_400_decimal_below_min_value", "vercel_400_temperature_unsupported"):
        body, _, text = load_case(ERRORS_DIR / f"{name}.json")
        got = classify_http_error(400, {}, text)
        assert isinstance(got, InvalidRequestError)
        assert str(got) == body["error"]["message"]
        assert got.body == text


# ---------------------------------------------------------------------------
# Spec rows
# ---------------------------------------------------------------------------

A_ERA_429_HEADERS = {
    "content-type": "application/json",
    "x-codex-primary-used-percent": "100.0",
    "x-codex-secondary-used-percent": "87.5",
    "x-codex-primary-over-secondary-limit-percent": "95.0",
    "x-codex-primary-window-minutes": "15",
    "x-codex-secondary-window-minutes": "60",
}


def test_spec_11_6_a_era_usage_limit() -> None:
    text = (
        '{"error":{"type":"usage_limit_reached","message":"limit reached",'
        '"resets_in_seconds":42,"plan_type":"pro"}}'
    )
    got = classify_http_error(429, A_ERA_429_HEADERS, text, now=clock)
    assert isinstance(got, UsageLimitReachedError)
    assert got.plan_type == "pro"
    assert got.resets_in_seconds == 42
    assert got.resets_at == datetime(2024, 1, 1, 0, 0, 42, tzinfo=UTC)
    assert got.rate_limits == RateLimitSnapshot(
        primary=RateLimitWindow(100.0, 15, None),
        secondary=RateLimitWindow(87.5, 60, None),
        limit_id="codex",
    )
    assert str(got) == "You've hit your usage limit. Try again in less than a minute."
    assert "usage limit" in str(got)


def test_spec_11_6_b_era_usage_limit_resets_at() -> None:
    text = (
        '{"error":{"type":"usage_limit_reached","message":"limit reached",'
        '"resets_at":1704067242,"plan_type":"pro"}}'
    )
    got = classify_http_error(429, {}, text, now=lambda: NOW - 3600)
    assert isinstance(got, UsageLimitReachedError)
    assert got.resets_at == datetime(2024, 1, 1, 0, 0, 42, tzinfo=UTC)
    assert got.resets_in_seconds == 3642  # derived from the injected clock
    assert str(got) == "You've hit your usage limit. Try again in 1 hour."


@pytest.mark.parametrize(
    ("text", "fallback", "plan"),
    [
        ('{"error":{"type":"usage_limit_reached"}}', "team", "team"),
        ('{"error":{"type":"usage_limit_reached","plan_type":"plus"}}', "team", "plus"),
        ('{"error":{"type":"usage_limit_reached","plan_type":"mystery"}}', None, "mystery"),
        ('{"error":{"type":"usage_limit_reached","plan_type":7}}', None, None),
    ],
)
def test_plan_type_falls_back_to_the_id_token(text: str, fallback: str | None, plan: str) -> None:
    got = classify_http_error(429, {}, text, plan_type=fallback, now=clock)
    assert isinstance(got, UsageLimitReachedError)
    assert got.plan_type == plan
    assert got.resets_in_seconds is None and got.resets_at is None


@pytest.mark.parametrize(
    ("error", "resets_in", "resets_at"),
    [
        ({"resets_in_seconds": -5}, None, None),
        ({"resets_in_seconds": 1.5}, None, None),
        ({"resets_in_seconds": True}, None, None),
        ({"resets_at": "1704067242"}, None, None),
        ({"resets_at": 10**30}, None, None),  # unrepresentable: dropped, not raised
        ({"resets_at": 1704067100}, 0, datetime.fromtimestamp(1704067100, tz=UTC)),  # past
    ],
)
def test_bad_reset_fields_are_dropped(
    error: dict[str, Any], resets_in: int | None, resets_at: datetime | None
) -> None:
    text = json.dumps({"error": {"type": "usage_limit_reached", **error}})
    got = classify_http_error(429, {}, text, now=clock)
    assert isinstance(got, UsageLimitReachedError)
    assert (got.resets_in_seconds, got.resets_at) == (resets_in, resets_at)


@pytest.mark.parametrize(
    ("status", "headers", "text", "expected"),
    [
        (401, {}, "{}", UnauthorizedError("{}")),
        (
            401,
            {"X-Request-Id": "req_1"},
            "bad key",
            UnauthorizedError("bad key", "req_1", "bad key"),
        ),
        (429, {}, '{"error":{"type":"usage_not_included"}}', UsageNotIncludedError()),
        (
            429,
            {},
            '{"error":{"code":"insufficient_quota","message":"You exceeded your current quota"}}',
            QuotaExceededError(),
        ),
        (
            429,
            {"cf-ray": "ray-1"},
            '{"error":{"message":"Rate limit reached","type":"tokens","code":"rate_limit_exceeded"}}',
            RetryLimitError(429, "ray-1", "Rate limit reached"),
        ),
        (
            429,
            {"x-request-id": "req_2", "cf-ray": "ray-2", "x-oai-request-id": "oai-2"},
            "",
            RetryLimitError(429, "req_2"),
        ),
        (429, {"x-oai-request-id": "oai-3", "cf-ray": "ray-3"}, "", RetryLimitError(429, "oai-3")),
        (429, {"x-request-id": "", "cf-ray": "ray-4"}, "", RetryLimitError(429, "ray-4")),
        (
            400,
            {},
            '{"error":{"message":"Unknown parameter: \'tools[0].name\'."}}',
            InvalidRequestError(
                "Unknown parameter: 'tools[0].name'.",
                '{"error":{"message":"Unknown parameter: \'tools[0].name\'."}}',
            ),
        ),
        (400, {}, "plain text", InvalidRequestError("plain text", "plain text")),
        (400, {}, '{"error":"flat"}', InvalidRequestError("flat", '{"error":"flat"}')),
        (400, {}, "", InvalidRequestError("Invalid request.", "")),
        (500, {}, "", InternalServerError()),
        (503, {}, '{"error":{"code":"server_is_overloaded"}}', ServerOverloadedError()),
        (503, {}, '{"error":{"code":"slow_down"}}', ServerOverloadedError()),
        (500, {}, '{"error":{"code":"server_is_overloaded"}}', InternalServerError()),
        (503, {"cf-ray": "r"}, "", RetryLimitError(503, "r")),
        (502, {}, "<html>bad gateway</html>", RetryLimitError(502, None, "an HTML page")),
        (404, {}, "Not Found", UnexpectedStatusError(404, "Not Found", None, "Not Found")),
        (403, {"cf-ray": "r"}, "nope", UnexpectedStatusError(403, "nope", "r", "nope")),
        (409, {}, "", UnexpectedStatusError(409, "")),
        (302, {}, "", UnexpectedStatusError(302, "")),
    ],
)
def test_spec_status_table(
    status: int, headers: dict[str, str], text: str, expected: ModelClientError
) -> None:
    got = classify_http_error(status, headers, text, now=clock)
    assert type(got) is type(expected)
    assert got.to_json() == expected.to_json()


def test_headers_as_pairs_and_bytes_body() -> None:
    got = classify_http_error(404, [("CF-RAY", "a"), ("cf-ray", "b")], b"caf\xc3\xa9 \xff")
    assert isinstance(got, UnexpectedStatusError)
    assert got.request_id == "a"
    assert got.body == "café \ufffd"


def test_success_status_is_refused() -> None:
    for status in (200, 201, 299):
        with pytest.raises(ValueError):
            classify_http_error(status, {}, "")
