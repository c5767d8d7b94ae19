"""Total readers of HTTP response headers, shared by rate limits, retries and errors.

Strategy: one total helper per header shape (``header_str``, ``header_float``,
``header_int``, ``header_uint``, ``header_bool``, ``header_request_id``), each
returning ``None`` on a missing or unreadable value and never raising, as codex's
``parse_header_f64/u64/str``. The number grammars are Rust's
(``str::parse::<f64>`` / ``::<i64>`` / ``::<u64>``), not Python's
``float()``/``int()``, which also accept ``"1_0"``, inner spaces and non-ASCII
digits.

Headers may be any ``Mapping[str, str]`` or an iterable of ``(name, value)``
pairs, with names in any case; :func:`normalize_headers` turns them into one
``{lower-case name: first value}`` dict (the first value of a repeated name
wins, as ``HeaderMap::get``), and every reader takes that dict.

A browser's ``fetch`` cannot give repeated headers apart: ``Headers`` joins them
into one ``"v1, v2"`` value, as a proxy may too. The number and boolean readers
therefore read the first element of such a list, so first-value-wins holds on
every transport (none of their grammars contains a comma). ``__all__`` is what
the package exports; the typed ``header_*`` readers are for its modules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

__all__ = ["HeadersLike", "header_str", "normalize_headers"]

HeadersLike: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]
"""Response headers: a mapping (dict, ``httpx.Headers``, a converted JS ``Headers``)
or ``(name, value)`` pairs. Names are matched case-insensitively."""


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


def header_first(headers: Mapping[str, str], name: str) -> str | None:
    """The first element of a comma-joined value (``"1, 2"`` → ``"1"``), else as :func:`header_str`."""
    text = header_str(headers, name)
    if text is None or "," not in text:
        return text
    return text.split(",", 1)[0].strip(" \t")


def header_float(headers: Mapping[str, str], name: str) -> float | None:
    """A finite ``f64``, else ``None``."""
    return _parse_f64(header_first(headers, name))


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """An ``i64``, else ``None``."""
    return _parse_i64(header_first(headers, name))


def header_uint(headers: Mapping[str, str], name: str) -> int | None:
    """A ``u64``, else ``None``."""
    return _parse_u64(header_first(headers, name))


def header_bool(headers: Mapping[str, str], name: str) -> bool | None:
    """``true``/``false`` in any case, or ``1``/``0``; anything else is ``None``."""
    text = header_first(headers, name)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None


def header_request_id(headers: Mapping[str, str]) -> str | None:
    """The server's request id: ``x-request-id``, ``x-oai-request-id``, else ``cf-ray``."""
    # A used `cf-ray` only; C prefers the API's own ids. Support asks for those.
    for name in ("x-request-id", "x-oai-request-id", "cf-ray"):
        value = header_str(headers, name)
        if value:
            return value
    return None
