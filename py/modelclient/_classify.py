"""Mapping a failed HTTP response onto the error tree.

:func:`classify_http_error` is pure: status, headers and body in, one error of
``_errors`` out. The body is read as ``{"error": {"type", "code", "message",
"plan_type", "resets_in_seconds" (A) | "resets_at" (B/C)}}`` when it is JSON of
that shape, and as plain text otherwise; the clock it needs to fill the missing
reset field of a usage-limit error is injected. Whether to retry before giving
up is ``_retry.RetryPolicy``'s decision, not this module's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ._error_text import server_message
from ._errors import (
    CyberPolicyError,
    InternalServerError,
    InvalidImageRequestError,
    InvalidRequestError,
    ModelClientError,
    QuotaExceededError,
    RetryLimitError,
    ServerOverloadedError,
    UnauthorizedError,
    UnexpectedStatusError,
    UsageLimitReachedError,
    UsageNotIncludedError,
)
from ._headers import HeadersLike, header_request_id, normalize_headers
from ._json import loads_untrusted
from ._ratelimits import parse_rate_limits

__all__ = ["classify_http_error"]


def _body_text(body: str | bytes) -> str:
    # reqwest's `text()` decodes lossily; so do we.
    return body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body


def _error_object(body: str) -> dict[str, Any]:
    """``body["error"]`` when the body is ``{"error": {...}}``, else ``{}``.

    A body serde_json would refuse (NaN, nested 128 deep) reads as plain text.
    """
    try:
        parsed = loads_untrusted(body)
    except ValueError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _opt_int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _utc_from_unix(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _usage_limit_reached(
    error: Mapping[str, Any],
    headers: Mapping[str, str],
    plan_type: str | None,
    now: Callable[[], float],
    product: str | None,
) -> UsageLimitReachedError:
    resets_in = _opt_int(error, "resets_in_seconds")  # A (u64)
    if resets_in is not None and resets_in < 0:
        resets_in = None
    resets_at_unix = _opt_int(error, "resets_at")  # B (i64 unix seconds)
    resets_at = None if resets_at_unix is None else _utc_from_unix(resets_at_unix)
    # Fill whichever reset field the body left out, from the injected clock, so
    # the error carries both (A's text needs the duration, the UI the instant).
    if resets_in is None and resets_at_unix is not None and resets_at is not None:
        resets_in = max(0, math.floor(resets_at_unix - now()))
    elif resets_at is None and resets_in is not None:
        resets_at = _utc_from_unix(now() + resets_in)
    return UsageLimitReachedError(
        _opt_str(error, "plan_type") or plan_type,
        resets_at,
        parse_rate_limits(headers),
        resets_in_seconds=resets_in,
        product=product,
    )


_INVALID_IMAGE = "The image data you provided does not represent a valid image"


def classify_http_error(
    status: int,
    headers: HeadersLike,
    body: str | bytes,
    *,
    plan_type: str | None = None,
    now: Callable[[], float] = time.time,
    url: str | None = None,
    retry_after: timedelta | None = None,
    product: str | None = None,
) -> ModelClientError:
    """Map a failed HTTP response to the error to surface.

    This is the **final** error: for a status the request-level retry would
    retry (429, 5xx) it is what remains once the retries are spent —
    ``RetryLimitError`` as in A/B, ``InternalServerError`` for 500, and C's
    ``ServerOverloadedError`` for a 503 saying ``server_is_overloaded`` or
    ``slow_down``. Whether to retry first is :class:`modelclient.RetryPolicy`'s
    decision. Any wire API can use it: it reads only the status, the headers
    and the decoded body (``{"error": {...}}`` JSON, or plain text).

    Args:
        status: the HTTP status; must not be 2xx.
        headers: the response headers, names in any case.
        body: the decoded response body (bytes are decoded as UTF-8, lossily).
        plan_type: the plan from the ID token, used when a usage-limit body has none.
        now: clock (unix seconds) used to derive the missing reset field.
        url: the requested URL, shown in ``UnexpectedStatusError`` (a wrong base URL).
        retry_after: the delay the response asked for, kept on ``RetryLimitError``
            so the turn-level retry can honour it.
        product: the product named in texts where Codex names itself.

    Raises:
        ValueError: ``status`` is a 2xx success.
    """
    if 200 <= status < 300:
        raise ValueError(f"HTTP {status} is not an error")
    h = normalize_headers(headers)
    text = _body_text(body)
    error = _error_object(text)
    request_id = header_request_id(h)
    error_type = _opt_str(error, "type")
    error_code = _opt_str(error, "code")
    message = server_message(text, error)

    if status == 401:
        return UnauthorizedError(text, request_id, message, url)
    if status == 429:
        if error_type == "usage_limit_reached":
            return _usage_limit_reached(error, h, plan_type, now, product)
        if error_type == "usage_not_included" or error_code == "usage_not_included":
            return UsageNotIncludedError(product)
        if error_code == "insufficient_quota":  # B (0c647bc5): fatal, not a rate limit
            return QuotaExceededError()
        return RetryLimitError(status, request_id, message, retry_after)
    if status == 400:
        if error_code == "cyber_policy":  # C
            return CyberPolicyError(_opt_str(error, "message"))
        if _INVALID_IMAGE in text:  # C: a substring test of the body, as Rust does
            return InvalidImageRequestError()
        return InvalidRequestError(message or "Invalid request.", text, request_id)
    if status == 500:
        return InternalServerError(message)
    if status == 503 and error_code in ("server_is_overloaded", "slow_down"):  # C
        return ServerOverloadedError()
    if status >= 500:
        return RetryLimitError(status, request_id, message, retry_after)
    return UnexpectedStatusError(status, text, request_id, message, url)
