"""Rate-limit headers → RateLimitSnapshot and the public API's x-ratelimit-*."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelclient._api_ratelimits import ApiRateLimit, parse_api_rate_limits, parse_go_duration
from modelclient._ratelimits import (
    CreditsSnapshot,
    RateLimitSnapshot,
    RateLimitWindow,
    parse_all_rate_limits,
    parse_rate_limits,
)
from tests.support.paths import corpus_dir


def snap(headers: Any) -> RateLimitSnapshot:
    got = parse_rate_limits(headers)
    assert got is not None
    return got


def primary(used: str, **rest: str) -> dict[str, str]:
    headers = {"x-codex-primary-used-percent": used}
    headers.update({f"x-codex-primary-{k.replace('_', '-')}": v for k, v in rest.items()})
    return headers


# ---------------------------------------------------------------------------
# Spec examples
# ---------------------------------------------------------------------------


def test_always_a_snapshot_even_without_headers() -> None:
    assert snap({}) == RateLimitSnapshot(limit_id="codex")
    assert snap({"content-type": "text/event-stream"}).primary is None


def test_spec_11_2_a_era_headers() -> None:
    got = snap(
        {
            "x-codex-primary-used-percent": "23.0",
            "x-codex-primary-window-minutes": "300",
            "x-codex-primary-reset-after-seconds": "8123",
            "x-codex-secondary-used-percent": "41.0",
            "x-codex-secondary-window-minutes": "10080",
            "x-codex-secondary-reset-after-seconds": "371042",
        }
    )
    assert got.primary == RateLimitWindow(23.0, 300, 8123, None)
    assert got.secondary == RateLimitWindow(41.0, 10080, 371042, None)
    assert got.credits is None


def test_spec_11_2_b_era_headers_with_credits() -> None:
    got = snap(
        {
            "x-codex-primary-used-percent": "23.0",
            "x-codex-primary-window-minutes": "300",
            "x-codex-primary-reset-at": "1760648523",
            "x-codex-secondary-used-percent": "41.0",
            "x-codex-secondary-window-minutes": "10080",
            "x-codex-secondary-reset-at": "1761011442",
            "x-codex-credits-has-credits": "false",
            "x-codex-credits-unlimited": "false",
        }
    )
    assert got.primary == RateLimitWindow(23.0, 300, None, 1760648523)
    assert got.secondary == RateLimitWindow(41.0, 10080, None, 1761011442)
    assert got.credits == CreditsSnapshot(False, False, None)


def test_spec_5_5_token_count_example() -> None:
    got = snap(
        {
            "x-codex-primary-used-percent": "100.0",
            "x-codex-secondary-used-percent": "87.5",
            "x-codex-primary-over-secondary-limit-percent": "95.0",  # not read since 09-24
            "x-codex-primary-window-minutes": "15",
            "x-codex-secondary-window-minutes": "60",
        }
    )
    assert got.to_json()["primary"] == {
        "used_percent": 100.0,
        "window_minutes": 15,
        "resets_in_seconds": None,
        "resets_at": None,
    }
    assert got.to_json()["secondary"] == {
        "used_percent": 87.5,
        "window_minutes": 60,
        "resets_in_seconds": None,
        "resets_at": None,
    }


# ---------------------------------------------------------------------------
# Rust's window rules, one row each
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "window"),
    [
        (primary("0"), None),  # nothing non-zero
        (primary("0.0", window_minutes="0"), None),
        (primary("0", window_minutes="0", reset_after_seconds="0"), None),
        (primary("0", window_minutes="60"), RateLimitWindow(0.0, 60)),
        (primary("0", reset_after_seconds="5"), RateLimitWindow(0.0, None, 5)),
        (primary("0", reset_at="0"), RateLimitWindow(0.0, None, None, 0)),  # B: present
        (primary("0", reset_at=""), None),  # empty = absent
        (primary("12.5"), RateLimitWindow(12.5)),
        (primary("-1"), RateLimitWindow(-1.0)),  # finite floats are kept as sent
        (primary("1e2"), RateLimitWindow(100.0)),
        (primary("+7"), RateLimitWindow(7.0)),
        (primary(".5"), RateLimitWindow(0.5)),
        (primary("5."), RateLimitWindow(5.0)),
        (primary("nan", window_minutes="60"), None),  # non-finite: no window at all
        (primary("inf", window_minutes="60"), None),
        (primary("-Infinity", window_minutes="60"), None),
        (primary("1e400", window_minutes="60"), None),  # overflows to inf
        (primary("abc", window_minutes="60"), None),
        (primary("", window_minutes="60"), None),
        (primary("1_0", window_minutes="60"), None),  # Python float() would accept
        (primary("٣", window_minutes="60"), None),  # so would it here
        (primary("5 0", window_minutes="60"), None),
        ({"x-codex-primary-window-minutes": "60"}, None),  # used_percent required
        (primary(" 50 ", window_minutes=" 60 "), RateLimitWindow(50.0, 60)),  # OWS trimmed
        (primary("50", window_minutes="abc"), RateLimitWindow(50.0, None)),
        (primary("50", window_minutes="1.5"), RateLimitWindow(50.0, None)),
        (primary("50", window_minutes="-60"), RateLimitWindow(50.0, -60)),  # i64 in B/C
        (primary("50", window_minutes="9223372036854775808"), RateLimitWindow(50.0, None)),
        (primary("50", reset_after_seconds="-1"), RateLimitWindow(50.0)),  # u64
        (primary("50", reset_after_seconds="18446744073709551615"),
         RateLimitWindow(50.0, None, 18446744073709551615)),
        (primary("50", reset_after_seconds="18446744073709551616"), RateLimitWindow(50.0)),
        (primary("50", reset_at="2025-10-17T00:00:00Z"), RateLimitWindow(50.0)),  # RFC 3339 era
        (primary("50", reset_at="-5"), RateLimitWindow(50.0, None, None, -5)),
        (primary("50\u00e9"), None),  # not visible ASCII: unreadable
    ],
)  # fmt: skip
def test_window_rules(headers: dict[str, str], window: RateLimitWindow | None) -> None:
    assert snap(headers).primary == window


@pytest.mark.parametrize(
    ("has", "unlimited", "balance", "expected"),
    [
        ("true", "false", "12.50", CreditsSnapshot(True, False, "12.50")),
        ("TRUE", "False", None, CreditsSnapshot(True, False, None)),
        ("1", "0", "  7 ", CreditsSnapshot(True, False, "7")),
        ("0", "1", "", CreditsSnapshot(False, True, None)),
        ("False", "False", "0", CreditsSnapshot(False, False, "0")),
        ("yes", "false", "1", None),
        ("true", None, "1", None),
        (None, "true", "1", None),
        ("", "true", "1", None),
        ("2", "0", None, None),
    ],
)
def test_credits(
    has: str | None, unlimited: str | None, balance: str | None, expected: CreditsSnapshot | None
) -> None:
    headers = {
        name: value
        for name, value in (
            ("x-codex-credits-has-credits", has),
            ("x-codex-credits-unlimited", unlimited),
            ("x-codex-credits-balance", balance),
        )
        if value is not None
    }
    assert snap(headers).credits == expected


# ---------------------------------------------------------------------------
# Header shapes
# ---------------------------------------------------------------------------


def test_mixed_case_names_pairs_and_first_value_wins() -> None:
    pairs = [
        ("X-Codex-Primary-Used-Percent", "10"),
        ("x-codex-primary-used-percent", "90"),
        ("X-CODEX-PRIMARY-WINDOW-MINUTES", "300"),
    ]
    assert snap(pairs).primary == RateLimitWindow(10.0, 300)
    # A dict with two spellings of one name: the first in iteration order wins too.
    assert snap(dict(pairs)).primary == RateLimitWindow(10.0, 300)


def test_bytes_values_are_read_as_latin1() -> None:
    got = snap({"x-codex-primary-used-percent": b"42"})  # type: ignore[dict-item]
    assert got.primary == RateLimitWindow(42.0)


@given(st.dictionaries(st.text(max_size=40), st.text(max_size=40), max_size=8))
def test_never_raises_on_arbitrary_headers(headers: dict[str, str]) -> None:
    got = snap(headers)
    json.dumps(got.to_json())


@given(st.text(max_size=30))
def test_never_raises_on_arbitrary_values(value: str) -> None:
    names = [
        "x-codex-primary-used-percent",
        "x-codex-primary-window-minutes",
        "x-codex-primary-reset-at",
        "x-codex-primary-reset-after-seconds",
        "x-codex-credits-has-credits",
        "x-codex-credits-unlimited",
        "x-ratelimit-reset-tokens",
        "x-ratelimit-limit-tokens",
    ]
    got = snap({name: value for name in names})
    json.dumps(got.to_json())


# ---------------------------------------------------------------------------
# C's multiple families
# ---------------------------------------------------------------------------


def test_all_families() -> None:
    headers = {
        "x-codex-primary-used-percent": "10",
        "x-codex-secondary-primary-used-percent": "20",
        "x-codex-secondary-limit-name": "GPT-5-Codex-Mini",
        "X-Premium-Primary-Used-Percent": "30",
        "x-premium-primary-window-minutes": "300",
        "x-empty-primary-used-percent": "0",
    }
    families = parse_all_rate_limits(headers)
    assert [f.limit_id for f in families] == ["codex", "codex_secondary", "premium"]
    assert families[0].primary == RateLimitWindow(10.0)
    assert families[1].primary == RateLimitWindow(20.0)
    assert families[1].limit_name == "GPT-5-Codex-Mini"
    assert families[2].primary == RateLimitWindow(30.0, 300)


def test_named_family_reads_its_own_prefix() -> None:
    headers = {"x-codex-secondary-primary-used-percent": "20", "x-codex-primary-used-percent": "1"}
    assert snap(headers).primary == RateLimitWindow(1.0)
    got = parse_rate_limits(headers, limit_id="codex_secondary")
    assert got is not None and got.primary == RateLimitWindow(20.0)
    assert got.limit_id == "codex_secondary"


def test_default_family_is_always_listed() -> None:
    assert parse_all_rate_limits({}) == [RateLimitSnapshot(limit_id="codex")]


# ---------------------------------------------------------------------------
# Public API x-ratelimit-* (ours)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6m0s", timedelta(minutes=6)),
        ("1s", timedelta(seconds=1)),
        ("20ms", timedelta(milliseconds=20)),
        ("12ms", timedelta(milliseconds=12)),
        ("1h2m3.5s", timedelta(hours=1, minutes=2, seconds=3.5)),
        ("8.64s", timedelta(seconds=8.64)),
        ("0s", timedelta(0)),
        ("0", timedelta(0)),
        ("1.5h", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),  # not Go, but harmless
        ("1m30.25s", timedelta(seconds=90.25)),
        ("500us", timedelta(microseconds=500)),
        ("500µs", timedelta(microseconds=500)),
        ("1500ns", timedelta(microseconds=2)),  # rounded to microseconds
        (".5s", timedelta(milliseconds=500)),
        (" 1s ", timedelta(seconds=1)),
        ("", None),
        (None, None),
        ("1", None),  # a unit is required (except for "0")
        ("s", None),
        ("1x", None),
        ("-1s", None),
        ("1s2", None),
        ("1 s", None),
        ("abc", None),
        ("9" * 30 + "h", None),  # too large for a timedelta
    ],
)
def test_parse_go_duration(text: str | None, expected: timedelta | None) -> None:
    assert parse_go_duration(text) == expected


def test_api_rate_limits_partial_and_absent() -> None:
    assert parse_api_rate_limits({}) == (None, None)
    requests, tokens = parse_api_rate_limits(
        {"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-tokens": "bogus"}
    )
    assert requests == ApiRateLimit(None, 3, None)
    assert tokens is None


# ---------------------------------------------------------------------------
# Corpus headers/
# ---------------------------------------------------------------------------

HEADERS_DIR = corpus_dir("responses", "headers")
HEADER_CASES = sorted(p for p in HEADERS_DIR.glob("*.json") if not p.name.endswith(".expect.json"))


def load(path: Path) -> tuple[list[list[str]], dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    expect = json.loads(path.with_name(path.stem + ".expect.json").read_text(encoding="utf-8"))
    pairs: list[list[str]] = data["headers"]
    return pairs, expect["expected"]


def test_corpus_headers_present() -> None:
    assert [p.stem for p in HEADER_CASES] == [
        "codexproxy_429_codex_usage_headers",
        "community_ratelimit_headers_usage_based",
        "llm_200_responses_ratelimit_headers",
    ]


def test_corpus_codex_usage_headers() -> None:
    pairs, expected = load(HEADERS_DIR / "codexproxy_429_codex_usage_headers.json")
    got = snap([(k, v) for k, v in pairs])
    p = expected["primary"]
    assert got.primary == RateLimitWindow(
        p["used_percent"], p["window_minutes"], p["reset_after_seconds"], p["reset_at"]
    )
    # 0 % used, 0-minute window, 0 s reset, empty reset-at: "no secondary window"
    assert got.secondary is None
    assert got.credits == CreditsSnapshot(
        expected["credits"]["has_credits"], expected["credits"]["unlimited"], None
    )
    assert got.plan_type == expected["plan_type"] == "free"
    assert (got.requests, got.tokens) == (None, None)


@pytest.mark.parametrize(
    "name", ["community_ratelimit_headers_usage_based", "llm_200_responses_ratelimit_headers"]
)
def test_corpus_api_ratelimit_headers(name: str) -> None:
    pairs, expected = load(HEADERS_DIR / f"{name}.json")
    got = snap([(k, v) for k, v in pairs])
    assert got.requests == ApiRateLimit(
        expected["limit_requests"],
        expected["remaining_requests"],
        timedelta(seconds=expected["reset_requests_seconds"]),
    )
    assert got.tokens == ApiRateLimit(
        expected["limit_tokens"],
        expected["remaining_tokens"],
        timedelta(seconds=expected["reset_tokens_seconds"]),
    )
    assert got.primary is None and got.secondary is None and got.credits is None


def test_usage_based_variants_are_not_confused() -> None:
    got = snap(
        {
            "x-ratelimit-limit-tokens_usage_based": "1",
            "x-ratelimit-remaining-tokens_usage_based": "1",
            "x-ratelimit-reset-tokens_usage_based": "1s",
        }
    )
    assert got.tokens is None


# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------


def test_snapshot_json_round_trip() -> None:
    full = RateLimitSnapshot(
        primary=RateLimitWindow(23.0, 300, 8123, 1760648523),
        secondary=RateLimitWindow(41.0, None, None, None),
        credits=CreditsSnapshot(True, False, "12"),
        limit_id="codex",
        limit_name="Codex",
        plan_type="plus",
        rate_limit_reached_type="rate_limit_reached",
        requests=ApiRateLimit(5000, 4999, timedelta(milliseconds=12)),
        tokens=ApiRateLimit(None, None, None),
    )
    data = json.loads(json.dumps(full.to_json()))
    assert data["requests"] == {"limit": 5000, "remaining": 4999, "resets_in_seconds": 0.012}
    assert data["tokens"] == {"limit": None, "remaining": None, "resets_in_seconds": None}
    assert RateLimitSnapshot.from_json(data) == full
    assert RateLimitSnapshot.from_json({}) == RateLimitSnapshot()
