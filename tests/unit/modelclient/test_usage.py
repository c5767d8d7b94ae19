"""TokenUsage, TokenUsageInfo and TokenUsageTracker (Rust version A formulas)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from modelclient._usage import (
    BASELINE_TOKENS,
    TokenUsage,
    TokenUsageInfo,
    TokenUsageTracker,
    UsageRecord,
)

# -- from_api: Rust's usage mapping -------------------------------

FULL = {
    "input_tokens": 5132,
    "input_tokens_details": {"cached_tokens": 4864},
    "output_tokens": 214,
    "output_tokens_details": {"reasoning_tokens": 128},
    "total_tokens": 5346,
}

# (row id, usage JSON, TokenUsage)
USAGE_MAPPING: list[tuple[str, dict[str, Any], TokenUsage]] = [
    ("all-fields", FULL, TokenUsage(5132, 4864, 214, 128, 5346)),
    (
        "details-null",
        {**FULL, "input_tokens_details": None, "output_tokens_details": None},
        TokenUsage(5132, 0, 214, 0, 5346),
    ),
    (
        "details-absent",
        {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12},
        TokenUsage(10, 0, 2, 0, 12),
    ),
    (
        "details-empty-objects",
        {**FULL, "input_tokens_details": {}, "output_tokens_details": {}},
        TokenUsage(5132, 0, 214, 0, 5346),
    ),
    (
        "detail-counts-null",
        {
            **FULL,
            "input_tokens_details": {"cached_tokens": None},
            "output_tokens_details": {"reasoning_tokens": None},
        },
        TokenUsage(5132, 0, 214, 0, 5346),
    ),
    (
        "ev_completed-helper-zeros",
        {
            "input_tokens": 0,
            "input_tokens_details": None,
            "output_tokens": 0,
            "output_tokens_details": None,
            "total_tokens": 0,
        },
        TokenUsage(),
    ),
    (
        "extra-fields-ignored",
        {**FULL, "x": 1, "input_tokens_details": {"cached_tokens": 3, "audio": 9}},
        TokenUsage(5132, 3, 214, 128, 5346),
    ),
    (
        "negative-kept (i64)",
        {"input_tokens": -1, "output_tokens": 0, "total_tokens": -1},
        TokenUsage(-1, 0, 0, 0, -1),
    ),
]


@pytest.mark.parametrize(("row", "usage", "expected"), USAGE_MAPPING, ids=[r[0] for r in USAGE_MAPPING])
def test_from_api_mapping(row: str, usage: dict[str, Any], expected: TokenUsage) -> None:
    assert TokenUsage.from_api(usage) == expected
    assert TokenUsage.from_api(usage, strict=True) == expected


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({}, TokenUsage()),
        ({"input_tokens": 7}, TokenUsage(input_tokens=7)),
        ({"input_tokens": None, "output_tokens": None, "total_tokens": None}, TokenUsage()),
        ({"output_tokens_details": {"reasoning_tokens": 4}}, TokenUsage(reasoning_output_tokens=4)),
    ],
)
def test_from_api_is_tolerant_of_missing_and_null_counts(usage: dict[str, Any], expected: TokenUsage) -> None:
    assert TokenUsage.from_api(usage) == expected


@pytest.mark.parametrize(
    ("usage", "message"),
    [
        ({"output_tokens": 1, "total_tokens": 1}, "missing field `input_tokens`"),
        ({"input_tokens": 1, "total_tokens": 1}, "missing field `output_tokens`"),
        ({"input_tokens": 1, "output_tokens": 1}, "missing field `total_tokens`"),
        (
            {"input_tokens": None, "output_tokens": 1, "total_tokens": 1},
            "invalid type: null, expected i64 for `input_tokens`",
        ),
    ],
)
def test_from_api_strict_requires_the_three_rust_counts(usage: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        TokenUsage.from_api(usage, strict=True)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("usage", "message"),
    [
        ({"input_tokens": "5"}, 'invalid type: string "5", expected i64 for `input_tokens`'),
        (
            {"input_tokens": 5.0},
            "invalid type: floating point `5.0`, expected i64 for `input_tokens`",
        ),
        ({"total_tokens": True}, "invalid type: boolean `true`, expected i64 for `total_tokens`"),
        (
            {"input_tokens_details": 3},
            "invalid type: integer `3`, expected struct for `input_tokens_details`",
        ),
        (
            {"output_tokens_details": {"reasoning_tokens": [1]}},
            "invalid type: sequence, expected i64 for `reasoning_tokens`",
        ),
    ],
)
def test_from_api_rejects_wrong_types(usage: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        TokenUsage.from_api(usage)
    assert str(info.value) == message


@pytest.mark.parametrize("usage", [None, [], "x", 3])
def test_from_api_rejects_non_objects(usage: Any) -> None:
    with pytest.raises(ValueError, match=r"^invalid type: .*, expected struct for `usage`$"):
        TokenUsage.from_api(usage)


# -- derived numbers -----------------------------------------------------------------


def test_spec_11_2_derived_values() -> None:
    usage = TokenUsage(5132, 4864, 214, 128, 5346)
    assert usage.cached_input() == 4864
    assert usage.non_cached_input() == 268
    assert usage.blended_total() == 482  # (5132 - 4864) + 214
    assert usage.tokens_in_context_window() == 5218  # A: 5346 - 128
    assert not usage.is_zero()


def test_clamps_and_saturation() -> None:
    odd = TokenUsage(input_tokens=5, cached_input_tokens=-3, output_tokens=-4)
    assert odd.cached_input() == 0
    assert odd.non_cached_input() == 5
    assert odd.blended_total() == 5
    assert TokenUsage(input_tokens=3, cached_input_tokens=9).non_cached_input() == 0
    assert TokenUsage(total_tokens=5, reasoning_output_tokens=9).tokens_in_context_window() == 0
    assert TokenUsage().is_zero()
    assert TokenUsage(input_tokens=4).is_zero()  # Rust looks at total_tokens only


# (row id, usage, context window, percent left)
PERCENT: list[tuple[str, TokenUsage, int, int]] = [
    ("spec-example", TokenUsage(total_tokens=150_000, reasoning_output_tokens=2_000), 272_000, 47),
    ("window-at-baseline", TokenUsage(total_tokens=1), BASELINE_TOKENS, 0),
    ("window-below-baseline", TokenUsage(), 5_000, 0),
    ("empty-window-is-100", TokenUsage(), 272_000, 100),
    ("within-baseline-is-100", TokenUsage(total_tokens=BASELINE_TOKENS), 272_000, 100),
    ("full", TokenUsage(total_tokens=272_000), 272_000, 0),
    ("over-full-clamps-to-0", TokenUsage(total_tokens=900_000), 272_000, 0),
    # 99.6 % left: A truncates to 99 where B/C would round to 100.
    ("truncates-not-rounds", TokenUsage(total_tokens=12_400), 112_000, 99),
    # 29/100 is 28.999999999999996 in f64 but exactly 29.0 in f32: Rust A gives 29.
    ("f32-arithmetic", TokenUsage(total_tokens=83_000), 112_000, 29),
    (
        "reasoning-excluded",
        TokenUsage(total_tokens=142_000, reasoning_output_tokens=10_000),
        272_000,
        53,
    ),
]


@pytest.mark.parametrize(("row", "usage", "window", "percent"), PERCENT, ids=[r[0] for r in PERCENT])
def test_percent_of_context_window_remaining(row: str, usage: TokenUsage, window: int, percent: int) -> None:
    assert usage.percent_of_context_window_remaining(window) == percent


def test_percent_survives_absurd_windows() -> None:
    # Beyond f32's range Rust's `as f32` gives inf; inf/inf is NaN and `NaN as u8` is 0.
    assert TokenUsage(total_tokens=10**40).percent_of_context_window_remaining(10**40) == 0
    assert TokenUsage().percent_of_context_window_remaining(10**40) == 0


def test_baseline_constant() -> None:
    assert BASELINE_TOKENS == 12_000


# -- arithmetic ------------------------------------------------------------------------


def test_add_is_field_wise() -> None:
    a = TokenUsage(1, 2, 3, 4, 5)
    b = TokenUsage(10, 20, 30, 40, 50)
    assert a + b == TokenUsage(11, 22, 33, 44, 55)
    assert sum([a, b, a]) == TokenUsage(12, 24, 36, 48, 60)
    assert sum([], TokenUsage()) == TokenUsage()
    with pytest.raises(TypeError):
        a + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        1 + a  # __radd__ only accepts the 0 that starts sum()


def test_token_usage_is_a_frozen_value() -> None:
    usage = TokenUsage()
    assert dataclasses.astuple(usage) == (0, 0, 0, 0, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        usage.total_tokens = 1  # type: ignore[misc]
    assert hash(usage) == hash(TokenUsage())


# -- TokenUsageInfo ------------------------------------------------------------------


def test_new_or_append() -> None:
    first = TokenUsage(100, 0, 23, 0, 123)
    assert TokenUsageInfo.new_or_append(None, None, 272_000) is None
    info = TokenUsageInfo.new_or_append(None, first, 272_000)
    assert info == TokenUsageInfo(first, first, 272_000)
    second = TokenUsage(200, 100, 10, 5, 210)
    info2 = TokenUsageInfo.new_or_append(info, second, 400_000)
    # A/B: the window is only taken when the info is created.
    assert info2 == TokenUsageInfo(TokenUsage(300, 100, 33, 5, 333), second, 272_000)
    assert TokenUsageInfo.new_or_append(info2, None, 1) is info2


def test_fill_to_context_window() -> None:
    info = TokenUsageInfo(TokenUsage(total_tokens=200_000), TokenUsage(total_tokens=50_000), None)
    filled = info.fill_to_context_window(272_000)
    assert filled == TokenUsageInfo(
        TokenUsage(total_tokens=272_000), TokenUsage(total_tokens=72_000), 272_000
    )
    over = TokenUsageInfo(TokenUsage(total_tokens=300_000), TokenUsage(), 272_000)
    assert over.fill_to_context_window(272_000).last_token_usage == TokenUsage(total_tokens=0)
    assert TokenUsageInfo.full_context_window(128_000) == TokenUsageInfo(
        TokenUsage(total_tokens=128_000), TokenUsage(total_tokens=128_000), 128_000
    )


def test_info_matches_the_spec_token_count_json() -> None:
    info = TokenUsageInfo.new_or_append(None, TokenUsage(input_tokens=123, total_tokens=123), 272_000)
    assert info is not None
    assert dataclasses.asdict(info) == {
        "total_token_usage": {
            "input_tokens": 123,
            "cached_input_tokens": 0,
            "output_tokens": 0,
            "reasoning_output_tokens": 0,
            "total_tokens": 123,
        },
        "last_token_usage": {
            "input_tokens": 123,
            "cached_input_tokens": 0,
            "output_tokens": 0,
            "reasoning_output_tokens": 0,
            "total_tokens": 123,
        },
        "model_context_window": 272000,
    }


# -- TokenUsageTracker ------------------------------------------------------------------


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_tracker_accumulates_and_keeps_the_last_turn() -> None:
    clock = FakeClock()
    tracker = TokenUsageTracker(model_context_window=272_000, clock=clock)
    assert tracker.info is None
    assert tracker.total == TokenUsage()
    assert tracker.last is None
    assert tracker.history == ()

    a = TokenUsage(100, 0, 10, 0, 110)
    b = TokenUsage(200, 50, 20, 5, 220)
    tracker.record(a)
    clock.now = 1010.0
    info = tracker.record(b)
    assert info == TokenUsageInfo(TokenUsage(300, 50, 30, 5, 330), b, 272_000)
    assert tracker.info == info
    assert tracker.total == TokenUsage(300, 50, 30, 5, 330)
    assert tracker.last == b
    assert tracker.history == (UsageRecord(1000.0, a), UsageRecord(1010.0, b))


def test_tracker_history_by_time_range() -> None:
    clock = FakeClock(0.0)
    tracker = TokenUsageTracker(clock=clock)
    for t in (0.0, 10.0, 20.0, 30.0):
        clock.now = t
        tracker.record(TokenUsage(total_tokens=int(t) + 1))
    assert [r.timestamp for r in tracker.history_between(10.0, 30.0)] == [10.0, 20.0]
    assert [r.timestamp for r in tracker.history_between(start=15.0)] == [20.0, 30.0]
    assert [r.timestamp for r in tracker.history_between(end=10.0)] == [0.0]
    assert tracker.history_between(31.0) == []
    assert tracker.usage_between(10.0, 30.0) == TokenUsage(total_tokens=11 + 21)
    assert tracker.usage_between() == TokenUsage(total_tokens=1 + 11 + 21 + 31)
    assert tracker.usage_between(100.0) == TokenUsage()


def test_tracker_max_history_keeps_totals() -> None:
    tracker = TokenUsageTracker(clock=FakeClock(), max_history=2)
    for n in (1, 2, 3):
        tracker.record(TokenUsage(total_tokens=n))
    assert [r.usage.total_tokens for r in tracker.history] == [2, 3]
    assert tracker.total == TokenUsage(total_tokens=6)


@pytest.mark.parametrize(
    ("limit", "last", "expected"),
    [
        (None, TokenUsage(total_tokens=10**9), False),  # no limit: never compact
        (350_000, TokenUsage(total_tokens=349_999), False),
        (350_000, TokenUsage(total_tokens=350_000), True),  # `>=` the limit
        # A compares tokens_in_context_window(), i.e. without this turn's reasoning.
        (350_000, TokenUsage(total_tokens=355_000, reasoning_output_tokens=10_000), False),
        (350_000, TokenUsage(total_tokens=365_000, reasoning_output_tokens=10_000), True),
    ],
)
def test_should_compact(limit: int | None, last: TokenUsage, expected: bool) -> None:
    tracker = TokenUsageTracker(auto_compact_token_limit=limit, clock=FakeClock())
    assert tracker.should_compact() is False  # nothing recorded yet
    tracker.record(TokenUsage(total_tokens=10**8))
    tracker.record(last)  # only the last response counts, not the session total
    assert tracker.should_compact() is expected


def test_should_compact_with_explicit_limit() -> None:
    tracker = TokenUsageTracker(clock=FakeClock())
    tracker.record(TokenUsage(total_tokens=1_000))
    assert tracker.should_compact(1_000) is True
    assert tracker.should_compact(1_001) is False


def test_tracker_fill_to_context_window_and_reset() -> None:
    tracker = TokenUsageTracker(model_context_window=272_000, clock=FakeClock())
    tracker.record(TokenUsage(total_tokens=200_000))
    info = tracker.fill_to_context_window()
    assert info == TokenUsageInfo(TokenUsage(total_tokens=272_000), TokenUsage(total_tokens=72_000), 272_000)
    assert len(tracker.history) == 1  # not a real response: no history entry
    tracker.reset()
    assert tracker.info is None
    assert not tracker.history
    assert TokenUsageTracker(clock=FakeClock()).fill_to_context_window() is None


def test_tracker_fill_before_any_usage() -> None:
    tracker = TokenUsageTracker(model_context_window=128_000, clock=FakeClock())
    assert tracker.fill_to_context_window() == TokenUsageInfo.full_context_window(128_000)
