"""Rate-limit snapshots of the ChatGPT (Codex) backend, parsed from response headers.

Strategy: as codex's ``parse_rate_limit_snapshot`` → ``parse_rate_limit_window``
→ ``parse_header_f64/u64/str``, a snapshot is composed from the total
readers of ``_headers``, which return ``None`` on a missing or unreadable value
and never raise.

Families read:

* ``x-codex-{primary,secondary}-{used-percent,window-minutes}`` plus both reset
  shapes, ``-reset-after-seconds`` (A) and ``-reset-at`` (unix seconds, B/C);
* ``x-codex-credits-{has-credits,unlimited,balance}`` (B/C);
* ``x-<name>-primary-used-percent`` … for other families, ``x-<name>-limit-name``
  (C; :func:`parse_all_rate_limits`);
* the public API's ``x-ratelimit-*`` families, read by ``_api_ratelimits`` and
  carried in :attr:`RateLimitSnapshot.requests` / ``.tokens``.

Headers may be any :data:`HeadersLike`, names in any case. Everything here is
pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ._api_ratelimits import ApiRateLimit, parse_api_rate_limits
from ._headers import (
    HeadersLike,
    header_bool,
    header_float,
    header_int,
    header_str,
    header_uint,
    normalize_headers,
)

__all__ = [
    "CreditsSnapshot",
    "RateLimitSnapshot",
    "RateLimitWindow",
    "parse_all_rate_limits",
    "parse_rate_limits",
]

DEFAULT_LIMIT_ID = "codex"

# ---------------------------------------------------------------------------
# Snapshot types
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateLimitWindow:
    """One usage window of the ChatGPT (Codex) backend.

    Fields:
        used_percent: share of the window already used, 0–100 (finite).
        window_minutes: window length in minutes, when sent.
        resets_in_seconds: seconds until reset (A's ``-reset-after-seconds``).
        resets_at: unix seconds of the reset (B/C's ``-reset-at``).
    """

    used_percent: float
    window_minutes: int | None = None
    resets_in_seconds: int | None = None
    resets_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict with Rust's field names."""
        return {
            "used_percent": self.used_percent,
            "window_minutes": self.window_minutes,
            "resets_in_seconds": self.resets_in_seconds,
            "resets_at": self.resets_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RateLimitWindow:
        """Inverse of :meth:`to_json`."""
        return cls(
            used_percent=float(data["used_percent"]),
            window_minutes=data.get("window_minutes"),
            resets_in_seconds=data.get("resets_in_seconds"),
            resets_at=data.get("resets_at"),
        )


@dataclass(frozen=True, slots=True)
class CreditsSnapshot:
    """Credits of a ChatGPT plan (B/C: ``CreditsSnapshot``).

    Fields:
        has_credits, unlimited: booleans from ``x-codex-credits-*``.
        balance: the trimmed balance string, ``None`` when empty or absent.
    """

    has_credits: bool
    unlimited: bool
    balance: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict with Rust's field names."""
        return {
            "has_credits": self.has_credits,
            "unlimited": self.unlimited,
            "balance": self.balance,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CreditsSnapshot:
        """Inverse of :meth:`to_json`."""
        return cls(bool(data["has_credits"]), bool(data["unlimited"]), data.get("balance"))


@dataclass(frozen=True, slots=True)
class RateLimitSnapshot:
    """Everything the response headers say about rate limits.

    Fields (A: primary/secondary; B: + credits; C: + limit_id, limit_name,
    plan_type, rate_limit_reached_type; ours: + requests/tokens):
        limit_id: family id, ``"codex"`` for the default ``x-codex-*`` family.
        limit_name: ``x-<name>-limit-name`` when sent.
        primary, secondary: the two usage windows, ``None`` when absent/empty.
        credits: ``x-codex-credits-*`` when both booleans parse.
        plan_type: ``x-codex-plan-type`` (the backend sends it; Rust fills this
            field from the WebSocket event instead).
        rate_limit_reached_type: C's snake_case enum value, when known.
        requests, tokens: the public API's ``x-ratelimit-*`` families.
    """

    primary: RateLimitWindow | None = None
    secondary: RateLimitWindow | None = None
    credits: CreditsSnapshot | None = None
    limit_id: str | None = None
    limit_name: str | None = None
    plan_type: str | None = None
    rate_limit_reached_type: str | None = None
    requests: ApiRateLimit | None = None
    tokens: ApiRateLimit | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict with Rust's field names (nested windows as dicts)."""
        return {
            "limit_id": self.limit_id,
            "limit_name": self.limit_name,
            "primary": None if self.primary is None else self.primary.to_json(),
            "secondary": None if self.secondary is None else self.secondary.to_json(),
            "credits": None if self.credits is None else self.credits.to_json(),
            "plan_type": self.plan_type,
            "rate_limit_reached_type": self.rate_limit_reached_type,
            "requests": None if self.requests is None else self.requests.to_json(),
            "tokens": None if self.tokens is None else self.tokens.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RateLimitSnapshot:
        """Inverse of :meth:`to_json`; missing keys read as ``None``."""

        def opt(key: str, conv: Any) -> Any:
            value = data.get(key)
            return None if value is None else conv(value)

        return cls(
            primary=opt("primary", RateLimitWindow.from_json),
            secondary=opt("secondary", RateLimitWindow.from_json),
            credits=opt("credits", CreditsSnapshot.from_json),
            limit_id=data.get("limit_id"),
            limit_name=data.get("limit_name"),
            plan_type=data.get("plan_type"),
            rate_limit_reached_type=data.get("rate_limit_reached_type"),
            requests=opt("requests", ApiRateLimit.from_json),
            tokens=opt("tokens", ApiRateLimit.from_json),
        )


# ---------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------


def _parse_window(h: Mapping[str, str], prefix: str, which: str) -> RateLimitWindow | None:
    base = f"{prefix}-{which}"
    used = header_float(h, f"{base}-used-percent")
    if used is None:  # Rust: no readable used_percent, no window
        return None
    minutes = header_int(h, f"{base}-window-minutes")
    resets_in = header_uint(h, f"{base}-reset-after-seconds")
    resets_at = header_int(h, f"{base}-reset-at")
    # A: used != 0, or a non-zero window/reset; B/C: or any reset-at at all.
    has_data = (
        used != 0.0
        or (minutes is not None and minutes != 0)
        or (resets_in is not None and resets_in != 0)
        or resets_at is not None
    )
    if not has_data:
        return None
    return RateLimitWindow(used, minutes, resets_in, resets_at)


def _parse_credits(h: Mapping[str, str]) -> CreditsSnapshot | None:
    has_credits = header_bool(h, "x-codex-credits-has-credits")
    unlimited = header_bool(h, "x-codex-credits-unlimited")
    if has_credits is None or unlimited is None:
        return None
    balance = header_str(h, "x-codex-credits-balance")
    return CreditsSnapshot(has_credits, unlimited, balance or None)


def _parse_family(h: Mapping[str, str], limit_id: str) -> RateLimitSnapshot:
    # C: ids use `_`, header names use `-`.
    prefix = "x-" + limit_id.replace("_", "-")
    return RateLimitSnapshot(
        primary=_parse_window(h, prefix, "primary"),
        secondary=_parse_window(h, prefix, "secondary"),
        credits=_parse_credits(h),
        limit_id=limit_id,
        limit_name=header_str(h, f"{prefix}-limit-name") or None,
        plan_type=header_str(h, "x-codex-plan-type") or None,
    )


def parse_rate_limits(headers: HeadersLike, limit_id: str | None = None) -> RateLimitSnapshot | None:
    """Parse one rate-limit family (default ``codex``) and the public API limits.

    As in A/B, a snapshot is **always** returned, even when every
    window is ``None``, so each 2xx response yields one ``RateLimits`` event; the
    ``| None`` in the signature is kept for callers that treat "no headers" as
    absent in the future.
    """
    h = normalize_headers(headers)
    snapshot = _parse_family(h, (limit_id or DEFAULT_LIMIT_ID).lower())
    requests, tokens = parse_api_rate_limits(h)
    if requests is None and tokens is None:
        return snapshot
    return replace(snapshot, requests=requests, tokens=tokens)


_FAMILY_HEADER = re.compile(r"x-([a-z0-9-]+)-primary-used-percent", re.ASCII)


def parse_all_rate_limits(headers: HeadersLike) -> list[RateLimitSnapshot]:
    """C's multi-family parse: the default family first, then others.

    Every ``x-<name>-primary-used-percent`` names a family ``<name>`` (lower-cased,
    ``-`` → ``_``). Non-default families are kept only if they have a primary,
    secondary or credits window; the default one is always returned.
    """
    h = normalize_headers(headers)
    out: list[RateLimitSnapshot] = []
    default = parse_rate_limits(h)
    assert default is not None  # always produced, see parse_rate_limits
    out.append(default)
    seen = {DEFAULT_LIMIT_ID}
    for name in h:
        m = _FAMILY_HEADER.fullmatch(name)
        if m is None:
            continue
        limit_id = m.group(1).replace("-", "_")
        if limit_id in seen:
            continue
        seen.add(limit_id)
        snap = _parse_family(h, limit_id)
        if snap.primary or snap.secondary or snap.credits:
            out.append(snap)
    return out
