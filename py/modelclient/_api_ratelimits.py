"""The public API's ``x-ratelimit-*`` headers (ours: Codex does not read them).

``api.openai.com`` answers an API key's requests with
``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``; the resets are Go
``time.Duration`` text (``"6m0s"``, ``"20ms"``). We read them so the panel can
show API-key limits next to the ChatGPT plan's ``x-codex-*`` windows
(``_ratelimits``), which carry them in :attr:`RateLimitSnapshot.requests` /
``.tokens``. Pure, like every header reader: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import Any

from ._headers import HeadersLike, header_str, header_uint, normalize_headers

__all__ = ["ApiRateLimit", "parse_api_rate_limits", "parse_go_duration"]


@dataclass(frozen=True, slots=True)
class ApiRateLimit:
    """One ``x-ratelimit-*-{requests,tokens}`` family of the public API (ours).

    Fields:
        limit: the per-minute (or per-day) limit.
        remaining: what is left in the current window.
        resets_in: time until the window is full again (``"6m0s"`` → 360 s).
    """

    limit: int | None = None
    remaining: int | None = None
    resets_in: timedelta | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict; ``resets_in`` as float seconds."""
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "resets_in_seconds": (None if self.resets_in is None else self.resets_in.total_seconds()),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApiRateLimit:
        """Inverse of :meth:`to_json`."""
        secs = data.get("resets_in_seconds")
        return cls(
            limit=data.get("limit"),
            remaining=data.get("remaining"),
            resets_in=None if secs is None else timedelta(seconds=secs),
        )


# Go's time.Duration text (`6m0s`, `20ms`, `1h2m3.5s`), plus `d` for days.
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h|d)", re.ASCII)
_DURATION_US = {
    "ns": Fraction(1, 1000),
    "us": Fraction(1),
    "µs": Fraction(1),
    "μs": Fraction(1),
    "ms": Fraction(1000),
    "s": Fraction(1_000_000),
    "m": Fraction(60_000_000),
    "h": Fraction(3_600_000_000),
    "d": Fraction(86_400_000_000),
}


def parse_go_duration(text: str | None) -> timedelta | None:
    """Parse ``"6m0s"``, ``"1s"``, ``"20ms"``, ``"1h2m3.5s"``, ``"0"`` to a timedelta.

    Exact arithmetic (``"12ms"`` is exactly 0.012 s), rounded to microseconds.
    ``None`` for anything else, negative values, or values too large.
    """
    if text is None:
        return None
    text = text.strip()
    if text == "0":
        return timedelta(0)
    pos, total = 0, Fraction(0)
    if not text:
        return None
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if m is None:
            return None
        total += Fraction(m.group(1)) * _DURATION_US[m.group(2)]
        pos = m.end()
    try:
        return timedelta(microseconds=round(total))
    except OverflowError:
        return None


def _parse_api_family(h: Mapping[str, str], kind: str) -> ApiRateLimit | None:
    limit = header_uint(h, f"x-ratelimit-limit-{kind}")
    remaining = header_uint(h, f"x-ratelimit-remaining-{kind}")
    resets_in = parse_go_duration(header_str(h, f"x-ratelimit-reset-{kind}"))
    if limit is None and remaining is None and resets_in is None:
        return None
    return ApiRateLimit(limit, remaining, resets_in)


def parse_api_rate_limits(
    headers: HeadersLike,
) -> tuple[ApiRateLimit | None, ApiRateLimit | None]:
    """The public API's ``(requests, tokens)`` families; ``None`` where nothing parsed.

    Only the exact ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` names
    are read; ``…-tokens_usage_based`` and similar variants are ignored.
    """
    h = normalize_headers(headers)
    return _parse_api_family(h, "requests"), _parse_api_family(h, "tokens")
