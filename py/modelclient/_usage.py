"""Token usage: the per-response ``TokenUsage``, session ``TokenUsageInfo``, and a tracker.

Contract (Rust ``protocol/src/protocol.rs`` of version A):

* ``TokenUsage`` has the five Rust fields. ``from_api`` flattens the Responses
  API ``usage`` object: ``input_tokens_details.cached_tokens`` and
  ``output_tokens_details.reasoning_tokens`` become ``cached_input_tokens`` and
  ``reasoning_output_tokens``, 0 when the details are absent or ``null``.
* The derived numbers use the exact Rust formulas, including the
  ``BASELINE_TOKENS = 12000`` offset (prompts, fixed tools, room to compact),
  version A's ``tokens_in_context_window = total - reasoning`` and A's ``f32``
  percentage truncated to an integer.
* ``TokenUsageInfo`` is Rust's session accumulator (total, last, window) as an
  immutable value: its methods return a new info.
* ``TokenUsageTracker`` adds what the port needs on top: a timestamped history
  queryable by time range and Codex's auto-compaction check. Its clock
  is injected; nothing here does I/O.
"""

from __future__ import annotations

import math
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BASELINE_TOKENS",
    "TokenUsage",
    "TokenUsageInfo",
    "TokenUsageTracker",
    "UsageRecord",
]

#: Tokens always in context (prompts, fixed tools, space to call compact);
#: left out of both sides of the "context left" percentage (Rust constant).
BASELINE_TOKENS = 12_000

_F32 = struct.Struct("<f")


def _f32(value: float) -> float:
    """Round ``value`` to the nearest IEEE binary32, as Rust's ``as f32`` does.

    One f64 operation rounded to f32 equals the f32 operation (53 >= 2*24+2),
    so ``_f32(_f32(a) / _f32(b))`` is exactly Rust's ``a as f32 / b as f32``.
    """
    try:
        result: float = _F32.unpack(_F32.pack(value))[0]
    except OverflowError:  # beyond f32's range: Rust's cast saturates to infinity
        return math.copysign(math.inf, value)
    return result


def json_kind(value: object) -> str:
    """Name a decoded JSON value the way serde's "invalid type" errors do."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    return "sequence" if isinstance(value, list) else "map"


def _count(obj: Mapping[str, Any], key: str, *, required: bool) -> int:
    value = obj.get(key)
    if type(value) is int:  # exact: bool is not a count, nor is 12.0 (serde i64)
        return value
    if value is None:
        if required:
            if key not in obj:
                raise ValueError(f"missing field `{key}`")
            raise ValueError(f"invalid type: null, expected i64 for `{key}`")
        return 0
    raise ValueError(f"invalid type: {json_kind(value)}, expected i64 for `{key}`")


def _detail(obj: Mapping[str, Any], details_key: str, key: str) -> int:
    details = obj.get(details_key)
    if details is None:  # Rust: Option<Details>; absent or null -> 0
        return 0
    if not isinstance(details, Mapping):
        raise ValueError(f"invalid type: {json_kind(details)}, expected struct for `{details_key}`")
    return _count(details, key, required=False)


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts of one response (or a sum of several).

    Fields:

    .. attribute:: input_tokens

       Prompt tokens, cached ones included.

    .. attribute:: cached_input_tokens

       The part of ``input_tokens`` served from the prompt cache.

    .. attribute:: output_tokens

       Generated tokens, reasoning included.

    .. attribute:: reasoning_output_tokens

       The part of ``output_tokens`` spent on reasoning.

    .. attribute:: total_tokens

       As reported by the server (normally input + output).
    """

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def from_api(cls, usage: Mapping[str, Any], *, strict: bool = False) -> TokenUsage:
        """Build from a Responses API ``usage`` object.

        Missing or ``null`` counts and details give 0. With ``strict=True``
        the three counts Rust requires (``input_tokens``, ``output_tokens``,
        ``total_tokens``) must be present, as ``response.completed`` parsing
        demands.

        Raises:
            ValueError: ``usage`` is not an object, or a count is present but
                not an integer (or, when strict, a required count is missing).
        """
        if not isinstance(usage, Mapping):
            raise ValueError(f"invalid type: {json_kind(usage)}, expected struct for `usage`")
        return cls(
            input_tokens=_count(usage, "input_tokens", required=strict),
            cached_input_tokens=_detail(usage, "input_tokens_details", "cached_tokens"),
            output_tokens=_count(usage, "output_tokens", required=strict),
            reasoning_output_tokens=_detail(usage, "output_tokens_details", "reasoning_tokens"),
            total_tokens=_count(usage, "total_tokens", required=strict),
        )

    def is_zero(self) -> bool:
        """Return whether nothing was counted (Rust: ``total_tokens == 0``)."""
        return self.total_tokens == 0

    def cached_input(self) -> int:
        """Cached input tokens, never negative."""
        return max(self.cached_input_tokens, 0)

    def non_cached_input(self) -> int:
        """Input tokens not served from cache: ``input - cached``, never negative."""
        return max(self.input_tokens - self.cached_input(), 0)

    def blended_total(self) -> int:
        """The "total" shown to users: ``non_cached_input + output`` (cache hits are cheap)."""
        return max(self.non_cached_input() + max(self.output_tokens, 0), 0)

    def tokens_in_context_window(self) -> int:
        """Tokens that stay in the model's context: ``total - reasoning`` (saturating).

        Rust version A drops this turn's reasoning, which the server does not
        keep in context. (From 2025-11-03, B/C use ``total_tokens`` alone.)
        """
        return max(self.total_tokens - self.reasoning_output_tokens, 0)

    def percent_of_context_window_remaining(self, context_window: int) -> int:
        """Percent (0-100) of the user-controllable context window still free.

        Both sides leave out ``BASELINE_TOKENS``, so right after the first
        prompt this reads 100 and it falls toward 0 as the window fills. A
        window no larger than the baseline gives 0. Computed in ``f32`` and
        truncated, as Rust version A (B/C round an ``f64`` instead).
        """
        if context_window <= BASELINE_TOKENS:
            return 0
        effective = context_window - BASELINE_TOKENS
        used = max(self.tokens_in_context_window() - BASELINE_TOKENS, 0)
        remaining = max(effective - used, 0)
        ratio = _f32(_f32(float(remaining)) / _f32(float(effective)))
        percent = _f32(ratio * 100.0)
        if math.isnan(percent):  # inf/inf past f32's range; Rust's `NaN as u8` is 0
            return 0
        return int(min(max(percent, 0.0), 100.0))

    def __add__(self, other: TokenUsage) -> TokenUsage:
        """Field-wise sum (Rust ``add_assign``)."""
        if not isinstance(other, TokenUsage):
            return NotImplemented
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_output_tokens + other.reasoning_output_tokens,
            self.total_tokens + other.total_tokens,
        )

    def __radd__(self, other: int) -> TokenUsage:
        # Lets ``sum(usages)`` start from the int 0.
        if other == 0:
            return self
        return NotImplemented


@dataclass(frozen=True, slots=True)
class TokenUsageInfo:
    """Session token accounting, as Rust's ``TokenUsageInfo`` (sent in ``TokenCount``).

    Fields:

    .. attribute:: total_token_usage

       Sum over every response of the session.

    .. attribute:: last_token_usage

       The most recent response's usage.

    .. attribute:: model_context_window

       The model's context window in tokens, if known.
    """

    total_token_usage: TokenUsage
    last_token_usage: TokenUsage
    model_context_window: int | None = None

    @classmethod
    def new_or_append(
        cls,
        info: TokenUsageInfo | None,
        last: TokenUsage | None,
        model_context_window: int | None,
    ) -> TokenUsageInfo | None:
        """Rust ``new_or_append``: start (or continue) ``info`` and add ``last``.

        ``None`` when both ``info`` and ``last`` are ``None``. As in Rust A/B,
        ``model_context_window`` is used only when a new info is created.
        """
        if info is None and last is None:
            return None
        if info is None:
            info = cls(TokenUsage(), TokenUsage(), model_context_window)
        return info if last is None else info.append_last_usage(last)

    def append_last_usage(self, last: TokenUsage) -> TokenUsageInfo:
        """Return a copy with ``last`` added to the total and made the last usage."""
        return TokenUsageInfo(self.total_token_usage + last, last, self.model_context_window)

    def fill_to_context_window(self, context_window: int) -> TokenUsageInfo:
        """Return the info Rust reports on ``ContextWindowExceeded``: the window is full.

        The total becomes ``{total_tokens: context_window}``, the last usage the
        difference to the previous total (at least 0), other counts 0.
        """
        previous_total = self.total_token_usage.total_tokens
        return TokenUsageInfo(
            TokenUsage(total_tokens=context_window),
            TokenUsage(total_tokens=max(context_window - previous_total, 0)),
            context_window,
        )

    @classmethod
    def full_context_window(cls, context_window: int) -> TokenUsageInfo:
        """A fresh info already filled to ``context_window``."""
        return cls(TokenUsage(), TokenUsage(), None).fill_to_context_window(context_window)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One history entry of ``TokenUsageTracker``: when, and how much."""

    timestamp: float
    usage: TokenUsage


class TokenUsageTracker:
    """Session-level token accounting with history and the auto-compaction check.

    Args:
        model_context_window: The model's context window, if known.
        auto_compact_token_limit: Compact once the last response's
            ``tokens_in_context_window()`` reaches this (version A:
            from config, else 350 000 for ``gpt-5-codex*``, else never).
        clock: Returns the current time in seconds; ``time.time`` by default.
        max_history: Keep at most this many history entries (oldest dropped);
            totals are unaffected. ``None`` keeps all.
    """

    def __init__(
        self,
        *,
        model_context_window: int | None = None,
        auto_compact_token_limit: int | None = None,
        clock: Callable[[], float] = time.time,
        max_history: int | None = None,
    ) -> None:
        self.model_context_window = model_context_window
        self.auto_compact_token_limit = auto_compact_token_limit
        self._clock = clock
        self._history: deque[UsageRecord] = deque(maxlen=max_history)
        self._info: TokenUsageInfo | None = None

    @property
    def info(self) -> TokenUsageInfo | None:
        """The Rust-shaped accumulator, ``None`` before the first usage."""
        return self._info

    @property
    def total(self) -> TokenUsage:
        """Sum over the session (zeros before the first usage)."""
        return TokenUsage() if self._info is None else self._info.total_token_usage

    @property
    def last(self) -> TokenUsage | None:
        """The most recent response's usage, if any."""
        return None if self._info is None else self._info.last_token_usage

    @property
    def history(self) -> tuple[UsageRecord, ...]:
        """Every recorded ``(timestamp, usage)``, oldest first."""
        return tuple(self._history)

    def record(self, usage: TokenUsage) -> TokenUsageInfo:
        """Add one response's usage (from ``Completed.token_usage``); return the new info."""
        info = TokenUsageInfo.new_or_append(self._info, usage, self.model_context_window)
        assert info is not None  # ``usage`` is not None
        self._info = info
        self._history.append(UsageRecord(self._clock(), usage))
        return info

    def fill_to_context_window(self) -> TokenUsageInfo | None:
        """Mark the window full after ``ContextWindowExceeded`` (Rust does this
        before surfacing the error). No-op returning ``None`` if the window is unknown.
        """
        window = self.model_context_window
        if window is None:
            return None
        base = self._info or TokenUsageInfo(TokenUsage(), TokenUsage(), window)
        self._info = base.fill_to_context_window(window)
        return self._info

    def history_between(self, start: float | None = None, end: float | None = None) -> list[UsageRecord]:
        """Entries with ``start <= timestamp < end`` (an open side when ``None``)."""
        return [
            rec
            for rec in self._history
            if (start is None or rec.timestamp >= start) and (end is None or rec.timestamp < end)
        ]

    def usage_between(self, start: float | None = None, end: float | None = None) -> TokenUsage:
        """Sum of the usages recorded in ``[start, end)``."""
        return sum((rec.usage for rec in self.history_between(start, end)), TokenUsage())

    def should_compact(self, limit: int | None = None) -> bool:
        """Whether the conversation should be compacted now (version A).

        True when the last response's ``tokens_in_context_window()`` is at least
        ``limit`` (default: ``auto_compact_token_limit``). False when there is
        no limit or no usage yet.
        """
        limit = self.auto_compact_token_limit if limit is None else limit
        last = self.last
        if limit is None or last is None:
            return False
        return last.tokens_in_context_window() >= limit

    def reset(self) -> None:
        """Forget all usage (a new session)."""
        self._history.clear()
        self._info = None
