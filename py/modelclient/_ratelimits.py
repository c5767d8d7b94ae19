"""Rate-limit snapshots parsed from HTTP response headers.

Strategy: one total helper per header shape (``header_str``, ``_header_float``,
``_header_int``, ``_header_bool``, ``_header_duration``), each returning ``None``
on a missing or unreadable value and never raising; snapshots are composed from
them, as codex's ``parse_rate_limit_snapshot`` → ``parse_rate_limit_window`` →
``parse_header_f64/u64/str`` (spec §5.2). The number grammars are Rust's
(``str::parse::<f64>`` / ``::<i64>``), not Python's ``float()``/``int()``, which
also accept ``"1_0"``, inner spaces and non-ASCII digits.

Families read (spec §5.1, §5.4):

* ``x-codex-{primary,secondary}-{used-percent,window-minutes}`` plus both reset
  shapes, ``-reset-after-seconds`` (A) and ``-reset-at`` (unix seconds, B/C);
* ``x-codex-credits-{has-credits,unlimited,balance}`` (B/C);
* ``x-<name>-primary-used-percent`` … for other families, ``x-<name>-limit-name``
  (C; :func:`parse_all_rate_limits`);
* the public API's ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``
  (not read by Codex; ours, so the panel can show API-key limits).

Headers may be any ``Mapping[str, str]`` or an iterable of ``(name, value)``
pairs, with names in any case; the first value of a repeated name wins (as
``HeaderMap::get``). Everything here is pure: no clock, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import Any, TypeAlias

__all__ = [
    "ApiRateLimit",
    "CreditsSnapshot",
    "HeadersLike",
    "RateLimitSnapshot",
    "RateLimitWindow",
    "header_str",
    "normalize_headers",
    "parse_all_rate_limits",
    "parse_api_rate_limits",
    "parse_go_duration",
    "parse_rate_limits",
]

HeadersLike: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]
"""Response headers: a mapping (dict, ``httpx.Headers``, a converted JS ``Headers``)
or ``(name, value)`` pairs. Names are matched case-insensitively."""

DEFAULT_LIMIT_ID = "codex"

# ---------------------------------------------------------------------------
# Total header helpers
# ---------------------------------------------------------------------------


def normalize_headers(headers: HeadersLike) -> dict[str, str]:
    """Return ``{lower-case name: first value}`` for any accepted header shape."""
    if isinstance(headers, Mapping):
        pairs: Iterable[Any] = headers.items()
    else:
        pairs = headers
    out: dict[str, str] = {}
    for name, value in pairs:
        key = str(name).lower()
        # HeaderMap::get returns the first value of a repeated name.
        if key not in out:
            out[key] = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return out


def _visible_ascii(value: str) -> bool:
    # `HeaderValue::to_str` fails on anything but visible ASCII, space and tab.
    return all(c == "\t" or " " <= c <= "~" for c in value)


def header_str(headers: Mapping[str, str], name: str) -> str | None:
    """The value of ``name`` in already-normalised ``headers``, or ``None``.

    ``None`` when absent or not readable as ASCII text (Rust ``to_str().ok()``).
    Surrounding whitespace is stripped, as an HTTP parser does before Rust sees it.
    """
    raw = headers.get(name.lower())
    if raw is None or not _visible_ascii(raw):
        return None
    return raw.strip(" \t")


# Rust `f64::from_str`: optional sign, decimal with optional fraction/exponent,
# or inf/infinity/nan in any case. No whitespace, no `_`, ASCII digits only.
_RUST_F64 = re.compile(
    r"[+-]?(?:inf|infinity|nan|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)",
    re.IGNORECASE | re.ASCII,
)
_RUST_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def _parse_f64(text: str | None) -> float | None:
    if text is None or not _RUST_F64.fullmatch(text):
        return None
    value = float(text)
    # codex: `.parse::<f64>().ok().filter(|v| v.is_finite())`
    return value if math.isfinite(value) else None


def _parse_i64(text: str | None) -> int | None:
    if text is None or not _RUST_INT.fullmatch(text):
        return None
    value = int(text)
    return value if _I64_MIN <= value <= _I64_MAX else None


def _parse_u64(text: str | None) -> int | None:
    # Rust's unsigned parse accepts a leading `+` but never a `-`.
    if text is None or not _RUST_INT.fullmatch(text) or text.startswith("-"):
        return None
    value = int(text)
    return value if value < 2**64 else None


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    return _parse_f64(header_str(headers, name))


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    return _parse_i64(header_str(headers, name))


def _header_uint(headers: Mapping[str, str], name: str) -> int | None:
    return _parse_u64(header_str(headers, name))


def _header_bool(headers: Mapping[str, str], name: str) -> bool | None:
    # Spec §5.2: `true`/`false` in any case, or `1`/`0`; anything else is None.
    text = header_str(headers, name)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None


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


@dataclass(frozen=True, slots=True)
class RateLimitSnapshot:
    """Everything the response headers say about rate limits (spec §5.3).

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
    used = _header_float(h, f"{base}-used-percent")
    if used is None:  # spec §5.2: no readable used_percent, no window
        return None
    minutes = _header_int(h, f"{base}-window-minutes")
    resets_in = _header_uint(h, f"{base}-reset-after-seconds")
    resets_at = _header_int(h, f"{base}-reset-at")
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
    has_credits = _header_bool(h, "x-codex-credits-has-credits")
    unlimited = _header_bool(h, "x-codex-credits-unlimited")
    if has_credits is None or unlimited is None:
        return None
    balance = header_str(h, "x-codex-credits-balance")
    return CreditsSnapshot(has_credits, unlimited, balance or None)


def _parse_family(h: Mapping[str, str], limit_id: str) -> RateLimitSnapshot:
    # C §5.4: ids use `_`, header names use `-`.
    prefix = "x-" + limit_id.replace("_", "-")
    return RateLimitSnapshot(
        primary=_parse_window(h, prefix, "primary"),
        secondary=_parse_window(h, prefix, "secondary"),
        credits=_parse_credits(h),
        limit_id=limit_id,
        limit_name=header_str(h, f"{prefix}-limit-name") or None,
        plan_type=header_str(h, "x-codex-plan-type") or None,
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
    limit = _header_uint(h, f"x-ratelimit-limit-{kind}")
    remaining = _header_uint(h, f"x-ratelimit-remaining-{kind}")
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


def parse_rate_limits(headers: HeadersLike, limit_id: str | None = None) -> RateLimitSnapshot | None:
    """Parse one rate-limit family (default ``codex``) and the public API limits.

    As in A/B (spec §5.2), a snapshot is **always** returned, even when every
    window is ``None``, so each 2xx response yields one ``RateLimits`` event; the
    ``| None`` in the signature is kept for callers that treat "no headers" as
    absent in the future.
    """
    h = normalize_headers(headers)
    snapshot = _parse_family(h, (limit_id or DEFAULT_LIMIT_ID).lower())
    requests = _parse_api_family(h, "requests")
    tokens = _parse_api_family(h, "tokens")
    if requests is None and tokens is None:
        return snapshot
    return RateLimitSnapshot(
        primary=snapshot.primary,
        secondary=snapshot.secondary,
        credits=snapshot.credits,
        limit_id=snapshot.limit_id,
        limit_name=snapshot.limit_name,
        plan_type=snapshot.plan_type,
        requests=requests,
        tokens=tokens,
    )


_FAMILY_HEADER = re.compile(r"x-([a-z0-9-]+)-primary-used-percent", re.ASCII)


def parse_all_rate_limits(headers: HeadersLike) -> list[RateLimitSnapshot]:
    """C's multi-family parse (spec §5.4): the default family first, then others.

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
