"""The errors' display text: Rust's ``Display`` strings, with the product's own name.

Where Codex names itself ("Codex ran out of room…"), the text names the
product that the caller passed as ``product`` (the extension passes
``"SidePy"``), or says it without a name when there is none. The classes of
``_errors`` keep their fixed one-line texts inline; the texts that need logic
live here: the ``http`` crate's status reasons with the request-id suffix, the
server's message pulled out of an error body and trimmed, the Cloudflare block
page, and the usage-limit text with its reset time. Pure: no clock, no time
zone (``str(err)`` must read neither). ``__all__`` is what the package exports;
the other helpers are for ``_errors`` and ``_classify``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ._json import loads_untrusted

__all__ = ["format_status"]

# The `http` crate's canonical reasons: `StatusCode`'s Display is "{code} {reason}".
# Python's HTTPStatus phrases differ (413, 414, 416, 422) and change between
# versions, and Pyodide runs a newer Python than CPython CI.
_REASONS = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non Authoritative Information",
    204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
    208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
    410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
    421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
    424: "Failed Dependency", 426: "Upgrade Required", 428: "Precondition Required",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    510: "Not Extended", 511: "Network Authentication Required",
}  # fmt: skip


def format_status(status: int) -> str:
    """``429`` → ``"429 Too Many Requests"``, as Rust's ``StatusCode`` displays."""
    return f"{status} {_REASONS.get(status, '<unknown status code>')}"


def request_id_suffix(request_id: str | None) -> str:
    """``", request id: {id}"``, or ``""`` without an id."""
    return "" if request_id is None else f", request id: {request_id}"


def retry_limit_text(status: int, request_id: str | None, message: str | None = None) -> str:
    """``exceeded retry limit, last status: 429 Too Many Requests[: message][, request id: …]``.

    Rust's text, with the server's own message (ours) when the last reply had one.
    """
    said = f": {message}" if message else ""
    return f"exceeded retry limit, last status: {format_status(status)}{said}{request_id_suffix(request_id)}"


_CLOUDFLARE_BLOCKED = (
    "Access blocked by Cloudflare. This usually happens when connecting from a restricted region"
)


MAX_MESSAGE_BYTES = 1000
"""The longest server text an error message quotes (C trims at 1000 bytes)."""

_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TITLE_SEARCH_CHARS = 4_096


def trim_text(text: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """``text`` stripped, cut to ``limit`` UTF-8 bytes (on a character boundary) + ``...``."""
    text = text.strip()
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore").rstrip() + "..."


def body_summary(body: str) -> str | None:
    """What a non-JSON error body says, fit for one line of an error message.

    An HTML page (a proxy's or a web server's error page) is reduced to its
    ``<title>``, or to "an HTML page", never quoted whole; other text is trimmed
    to :data:`MAX_MESSAGE_BYTES`. ``None`` for an empty body.
    """
    text = body.strip()
    if not text:
        return None
    if text.startswith("<"):
        # A title sits at the top of a page; a bounded search keeps a hostile page linear.
        match = _TITLE_RE.search(text, 0, _TITLE_SEARCH_CHARS)
        title = " ".join(match.group(1).split()) if match else ""
        return f"HTML page: {trim_text(title)}" if title else "an HTML page"
    return trim_text(" ".join(text.split()))


def server_message(body: str, error: Mapping[str, Any] | None = None) -> str | None:
    """The server's own words in an error body, fit for one line; ``None`` if it gave none.

    ``error.message`` of a ``{"error": {...}}`` body; ``error`` itself when it is
    a string (``{"error": "model not found"}``, as some compatible servers send);
    else a summary of a non-JSON body (an HTML page's title, or the text trimmed
    to 1000 bytes). Every text is trimmed: a server's message is not trusted to be short.
    """
    try:
        parsed = loads_untrusted(body)
    except ValueError:
        return body_summary(body)
    if error is None:
        nested = parsed.get("error") if isinstance(parsed, dict) else None
        error = nested if isinstance(nested, dict) else {}
    message = error.get("message")
    if isinstance(message, str) and message.strip():
        return trim_text(message)
    if isinstance(parsed, dict):
        value = parsed.get("error")
        if isinstance(value, str) and value.strip():
            return trim_text(value)
        value = parsed.get("message") or parsed.get("detail")
        if isinstance(value, str) and value.strip():
            return trim_text(value)
    return None


def url_suffix(url: str | None) -> str:
    """``", url: {url}"``, or ``""`` without one."""
    return "" if not url else f", url: {url}"


def unexpected_status_text(status: int, message: str | None, url: str | None, request_id: str | None) -> str:
    """``unexpected status {status}: {message}[, url: …][, request id: …]`` (C's layout).

    ``message`` is the server's own ``error.message``, else a summary of the body
    (:func:`body_summary`), else ``Unknown error``, as C does; A quoted the
    whole body, so an HTML page filled the error banner.
    """
    shown = message or "Unknown error"
    suffix = url_suffix(url) + request_id_suffix(request_id)
    return f"unexpected status {format_status(status)}: {shown}{suffix}"


def cloudflare_blocked_text(status: int, request_id: str | None) -> str:
    """B's text for a Cloudflare block page (a 403 whose HTML says "Cloudflare" and "blocked")."""
    return f"{_CLOUDFLARE_BLOCKED} (status {format_status(status)}){request_id_suffix(request_id)}"


def is_cloudflare_block(status: int, body: str) -> bool:
    """Whether a failed response is Cloudflare's regional block page (B)."""
    return status == 403 and "Cloudflare" in body and "blocked" in body


def context_window_text(product: str | None) -> str:
    """``ContextWindowExceededError``'s text; Codex names itself where ``product`` goes."""
    who = product or "The conversation"
    return (
        f"{who} ran out of room in the model's context window. Start a new "
        "conversation or clear earlier history before retrying."
    )


def usage_not_included_text(product: str | None) -> str:
    """``UsageNotIncludedError``'s text."""
    what = f"To use {product} with your ChatGPT plan" if product else "To use this with your ChatGPT plan"
    return f"{what}, upgrade to Plus: https://openai.com/chatgpt/pricing."


def _format_reset_duration(total_secs: int) -> str:
    # A's `format_reset_duration`: non-zero days/hours/minutes, seconds dropped.
    days, rest = divmod(total_secs, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [
        f"{n} {unit if n == 1 else unit + 's'}"
        for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if n > 0
    ]
    return " ".join(parts) if parts else "less than a minute"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _format_reset_at(resets_at: datetime) -> str:
    # B's long form `%b %-d{st|nd|rd|th}, %Y %-I:%M %p`, in UTC (see usage_limit_text).
    t = resets_at.astimezone(UTC)
    day = t.day
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    hour12 = t.hour % 12 or 12
    ampm = "AM" if t.hour < 12 else "PM"
    return f"{_MONTHS[t.month - 1]} {day}{suffix}, {t.year} {hour12}:{t.minute:02d} {ampm} UTC"


def _when(resets_in_seconds: int | None, resets_at: datetime | None) -> str | None:
    if resets_in_seconds is not None:
        return f"in {_format_reset_duration(resets_in_seconds)}"
    if resets_at is not None:
        return f"at {_format_reset_at(resets_at)}"
    return None


def usage_limit_text(
    plan_type: str | None,
    resets_in_seconds: int | None,
    resets_at: datetime | None,
    product: str | None = None,
) -> str:
    """The text of ``UsageLimitReachedError``, per plan (A's texts).

    It says "try again in {duration}" from ``resets_in_seconds`` (A;
    ``classify_http_error`` always fills it when the body gives either reset
    field). Only without it does the text fall back to B's "try again at
    {time}", written in UTC with the date, because ``str()`` must not read the
    clock or the worker's time zone.
    """
    when = _when(resets_in_seconds, resets_at)
    suffix = f" Try again {when}." if when else " Try again later."
    suffix_or = f" or try again {when}." if when else " or try again later."
    head = "You've hit your usage limit."
    match plan_type:
        case "plus":
            return f"{head} Upgrade to Pro (https://openai.com/chatgpt/pricing){suffix_or}"
        case "team" | "business":
            return f"{head} To get more access now, send a request to your admin{suffix_or}"
        case "free":
            using = f" using {product}" if product else ""
            return f"{head} Upgrade to Plus to continue{using} (https://openai.com/chatgpt/pricing)."
        case _:  # pro, enterprise, edu, unknown plans and no plan
            return f"{head}{suffix}"
