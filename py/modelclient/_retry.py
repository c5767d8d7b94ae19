"""Retry policy: backoff, server-requested delays, and what may be retried (sans-IO).

Strategy: decisions are values, the shell does the waiting. Codex runs two retry
layers and so does our client:

1. **Request level**, before any byte of the stream: ``for attempt in
   range(policy.request_max_retries + 1)``; each failed attempt is classified into
   an outcome (``RetryableHttp`` | ``RetryableTransport`` | ``Fatal``, codex's
   ``StreamAttemptError``). A retryable outcome either sleeps
   ``outcome.delay(attempt)`` or, on the last attempt, becomes
   ``outcome.into_error()``.
2. **Turn level**, when the stream itself fails: the whole request is re-sent up
   to ``stream_max_retries`` times for errors whose ``retryable`` is true, after
   the server's delay (``error.retry_delay``) or ``backoff(retries)``.

The two layers nest (Rust's defaults allow 5 × 6 = 30 requests for one user
message), so ``max_attempts_per_turn`` caps the HTTP requests one turn may send,
whatever layer sends them (default :data:`DEFAULT_MAX_ATTEMPTS_PER_TURN`).

Any wire API can reuse the policy: it needs only a status, headers and a body
(:meth:`RetryPolicy.classify_response`), or a :class:`ModelClientError`
(:meth:`RetryPolicy.should_retry_stream`).

The shell loop is then a few lines::

    for attempt in range(policy.request_max_retries + 1):
        outcome = ...  # send; on success return the stream
        if isinstance(outcome, Fatal) or not policy.can_retry_request(attempt):
            raise outcome.into_error()
        if isinstance(outcome, RetryableHttp) and outcome.refresh_auth:
            ...  # refresh the ChatGPT token before the next attempt
        await sleep(policy.request_delay(outcome, attempt).total_seconds())

Nothing here sleeps, reads a clock or draws randomness on its own: ``rand`` and
``clock`` are fields of :class:`RetryPolicy`.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeAlias

from ._classify import classify_http_error
from ._errors import ConnectionFailedError, ModelClientError, RetryLimitError, StreamError
from ._headers import HeadersLike, header_first, header_request_id, normalize_headers
from ._json import loads_untrusted

__all__ = [
    "BACKOFF_FACTOR",
    "DEFAULT_MAX_ATTEMPTS_PER_TURN",
    "DEFAULT_REQUEST_MAX_RETRIES",
    "DEFAULT_STREAM_MAX_RETRIES",
    "INITIAL_DELAY_MS",
    "MAX_RETRIES_CAP",
    "AttemptOutcome",
    "Fatal",
    "RetryPolicy",
    "RetryableHttp",
    "RetryableTransport",
    "backoff",
    "parse_retry_after",
    "parse_retry_after_header",
    "try_parse_retry_after",
]

# core/src/util.rs and model_provider_info.rs, unchanged A → C.
INITIAL_DELAY_MS = 200
BACKOFF_FACTOR = 2.0
DEFAULT_REQUEST_MAX_RETRIES = 4
DEFAULT_STREAM_MAX_RETRIES = 5
MAX_RETRIES_CAP = 100
DEFAULT_MAX_ATTEMPTS_PER_TURN = 10
"""HTTP requests one turn (one user message) may send, over both retry layers.

Two full request-level rounds (2 × 5 attempts): enough to ride out a rate limit
that clears within a minute, without Rust's 30 requests against a server that
keeps refusing."""

# The largest delay a timedelta holds; Rust's Duration saturates much higher
# (u64::MAX ms), which no caller could wait out either.
_MAX_DELAY_MS = timedelta.max // timedelta(milliseconds=1)
_JITTER_MAX = math.nextafter(1.1, 0.0)


def backoff(attempt: int, *, rand: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with proportional jitter (Rust's ``util::backoff``).

    ``floor(floor(200 ms × 2^(attempt−1)) × jitter)`` with jitter uniform in
    [0.9, 1.1): attempt 1 → 180–219 ms, 2 → 360–439 ms, 3 → 720–879 ms.
    Attempt 0 (and below) counts as 1, as A's ``attempt.saturating_sub(1)`` does.

    Args:
        attempt: 1-based retry number.
        rand: uniform source in [0, 1); injected so tests can pin the jitter.
    """
    exponent = max(attempt - 1, 0)
    # Rust: `(200.0 * 2f64.powi(n)) as u64`, then `(base as f64 * jitter) as u64`;
    # `as u64` saturates where Python's float pow would raise, so saturate too.
    base = math.floor(INITIAL_DELAY_MS * BACKOFF_FACTOR**exponent) if exponent < 1024 else None
    jitter = 0.9 + 0.2 * rand()
    # rand's uniform [0.9, 1.1) never yields 1.1; 0.9 + 0.2 × (1 − ε) rounds up to it.
    jitter = min(jitter, _JITTER_MAX)
    if base is None or base * jitter >= _MAX_DELAY_MS:
        return timedelta(milliseconds=_MAX_DELAY_MS)
    return timedelta(milliseconds=math.floor(base * jitter))


# B/C (d9118c04): A's `Please try again in (\d+(?:\.\d+)?)(s|ms)` made
# case-insensitive and taught Azure's "Try again in 35 seconds".
_RETRY_AFTER_RE = re.compile(r"(?i)try again in\s*(\d+(?:\.\d+)?)\s*(s|ms|seconds?)")


def parse_retry_after(message: str | None) -> timedelta | None:
    """The delay in a "try again in …" message, or ``None`` (the B/C regex).

    ``"…Please try again in 11.054s…"`` → 11.054 s, ``"…in 28ms…"`` → 28 ms (a
    fraction of a millisecond is truncated, as ``value as u64``), ``"Try again in
    35 seconds."`` → 35 s. Only the first match counts. Values a timedelta cannot
    hold (or that overflow to infinity) give ``None`` where Rust would panic.
    """
    if not message:
        return None
    match = _RETRY_AFTER_RE.search(message)
    if match is None:
        return None
    digits, unit = match.group(1), match.group(2).lower()
    # Like Rust's regex, `\d` matched any Unicode digit; `f64::parse` then
    # rejects non-ASCII ones (Python's float() would accept them).
    if not digits.isascii():
        return None
    value = float(digits)
    try:
        if unit == "ms":
            return timedelta(milliseconds=math.floor(value))
        return timedelta(seconds=value)  # "s", "second", "seconds"
    except (OverflowError, ValueError):  # inf, or beyond timedelta.max
        return None


def try_parse_retry_after(error: Mapping[str, Any] | None) -> timedelta | None:
    """The delay of a ``response.failed`` / HTTP error object, gated on its code.

    As A's ``try_parse_retry_after``: only ``code == "rate_limit_exceeded"`` is
    looked at; then :func:`parse_retry_after` of ``message``.
    """
    if not error or error.get("code") != "rate_limit_exceeded":
        return None
    message = error.get("message")
    return parse_retry_after(message) if isinstance(message, str) else None


def parse_retry_after_header(headers: HeadersLike) -> timedelta | None:
    """``Retry-After`` as A/B read it: whole seconds only.

    Rust ``parse::<u64>()``: digits with an optional ``+``; HTTP-dates, fractions,
    negatives and garbage give ``None`` (then backoff applies). ``retry-after-ms``
    is not read: no Codex version honours it.
    """
    text = header_first(normalize_headers(headers), "retry-after")
    if text is None or not re.fullmatch(r"\+?[0-9]+", text, re.ASCII):
        return None
    seconds = int(text)
    if seconds >= 2**64:
        return None
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        return None


# ---------------------------------------------------------------------------
# Outcomes of one request attempt (codex `StreamAttemptError`)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryableHttp:
    """A failed HTTP response that another attempt may fix (429, 5xx, refreshable 401).

    Fields:
        status: the HTTP status.
        retry_after: the server's requested delay, if any.
        request_id: the server's request id, if sent.
        error: what to surface if this was the last attempt.
        refresh_auth: a 401 — refresh the credential before the next attempt.
    """

    status: int
    retry_after: timedelta | None
    request_id: str | None
    error: ModelClientError
    refresh_auth: bool = False

    def delay(self, attempt: int, *, rand: Callable[[], float] = random.random) -> timedelta:
        """Server's delay if given, else ``backoff(attempt + 1)`` (0-based ``attempt``)."""
        if self.retry_after is not None:
            return self.retry_after
        return backoff(attempt + 1, rand=rand)

    def into_error(self) -> ModelClientError:
        """The error to raise once the retries are spent."""
        return self.error


@dataclass(frozen=True, slots=True)
class RetryableTransport:
    """The request failed below HTTP (connect, TLS, reset); another attempt may work.

    Fields:
        error: the :class:`ConnectionFailedError` to surface if out of retries.
    """

    error: ConnectionFailedError

    def delay(self, attempt: int, *, rand: Callable[[], float] = random.random) -> timedelta:
        """``backoff(attempt + 1)`` (0-based ``attempt``)."""
        return backoff(attempt + 1, rand=rand)

    def into_error(self) -> ModelClientError:
        """The error to raise once the retries are spent."""
        return self.error


@dataclass(frozen=True, slots=True)
class Fatal:
    """An attempt failed in a way no retry can fix.

    Fields:
        error: the error to raise now.
    """

    error: ModelClientError

    def into_error(self) -> ModelClientError:
        """The error to raise."""
        return self.error


AttemptOutcome: TypeAlias = RetryableHttp | RetryableTransport | Fatal


# ---------------------------------------------------------------------------
# The policy
# ---------------------------------------------------------------------------


def _clamp_retries(value: int) -> int:
    # ModelProviderInfo caps both budgets at 100, as Rust does.
    return max(0, min(value, MAX_RETRIES_CAP))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Both retry budgets, the cap over them, and the decisions of both layers.

    Fields:
        request_max_retries: HTTP retries before streaming starts (default 4, so
            5 attempts; capped at 100).
        stream_max_retries: turn-level re-sends after a stream error (default 5;
            capped at 100).
        max_attempts_per_turn: HTTP requests one turn may send over both layers
            (default 10); ``None`` lifts the cap (Rust's behaviour). At least 1.
        max_retry_after: longest server-requested delay honoured as is; longer
            ones are cut to this. ``None`` (default) honours any, as Rust does.
        rand: uniform [0, 1) source for the backoff jitter.
        clock: unix-seconds clock, used to derive usage-limit reset times.
    """

    request_max_retries: int = DEFAULT_REQUEST_MAX_RETRIES
    stream_max_retries: int = DEFAULT_STREAM_MAX_RETRIES
    max_attempts_per_turn: int | None = DEFAULT_MAX_ATTEMPTS_PER_TURN
    max_retry_after: timedelta | None = None
    rand: Callable[[], float] = field(default=random.random, compare=False)
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "request_max_retries", _clamp_retries(self.request_max_retries))
        object.__setattr__(self, "stream_max_retries", _clamp_retries(self.stream_max_retries))
        if self.max_attempts_per_turn is not None:
            object.__setattr__(self, "max_attempts_per_turn", max(1, self.max_attempts_per_turn))

    # -- request level ------------------------------------------------------

    def classify_response(
        self,
        status: int,
        headers: HeadersLike,
        body: str | bytes,
        *,
        can_refresh_auth: bool = False,
        plan_type: str | None = None,
        url: str | None = None,
        product: str | None = None,
    ) -> AttemptOutcome:
        """Decide what a failed HTTP response means for the request loop.

        - 401: retry after a credential refresh when one is possible
          (``can_refresh_auth``: ChatGPT tokens, as in B), else fatal.
        - 429: fatal for ``usage_limit_reached``, ``usage_not_included`` and
          ``insufficient_quota``; any other 429 is retried.
        - 5xx: retried (a 503 ``server_is_overloaded`` too, as C; it ends as
          :class:`ServerOverloadedError` when the retries run out).
        - anything else (400, 403, 404, …): fatal (:func:`classify_http_error`).

        A retried response waits ``Retry-After`` (whole seconds) when sent; else,
        ours, the body's "try again in …" for ``rate_limit_exceeded``; else backoff.
        The same delay rides on the final ``RetryLimitError`` for the turn level.
        """
        h = normalize_headers(headers)
        delay = self._server_delay(h, body) if status >= 500 or status == 429 else None
        error = classify_http_error(
            status,
            h,
            body,
            plan_type=plan_type,
            now=self.clock,
            url=url,
            retry_after=delay,
            product=product,
        )
        request_id = header_request_id(h)
        if status == 401:
            if not can_refresh_auth:
                return Fatal(error)
            return RetryableHttp(status, None, request_id, error, refresh_auth=True)
        # Every 5xx is retried first (A, C), even one that ends as ServerOverloaded;
        # a 429 only when it is a plain rate limit (RetryLimit once retries run out).
        if status >= 500 or isinstance(error, RetryLimitError):
            return RetryableHttp(status, delay, request_id, error)
        return Fatal(error)

    def classify_transport_error(self, message: str) -> RetryableTransport:
        """A connection-level failure (always retryable at request level)."""
        return RetryableTransport(ConnectionFailedError(message))

    def can_retry_request(self, attempt: int) -> bool:
        """Whether 0-based ``attempt`` may be followed by another attempt."""
        return attempt < self.request_max_retries

    def request_delay(self, outcome: RetryableHttp | RetryableTransport, attempt: int) -> timedelta:
        """How long to wait after the failed 0-based ``attempt``."""
        return self._cap(outcome.delay(attempt, rand=self.rand))

    # -- turn level ---------------------------------------------------------

    def should_retry_stream(self, error: ModelClientError, retries: int, attempts: int = 0) -> bool:
        """Whether a turn that failed with ``error`` may be re-sent.

        ``retries`` is how many re-sends already happened (0 on the first failure);
        ``attempts`` how many HTTP requests the turn has sent so far.
        """
        return error.retryable and retries < self.stream_max_retries and self.may_attempt(attempts)

    def may_attempt(self, attempts: int) -> bool:
        """Whether a turn that has sent ``attempts`` HTTP requests may send another."""
        return self.max_attempts_per_turn is None or attempts < self.max_attempts_per_turn

    def stream_delay(self, error: ModelClientError, retries: int) -> timedelta:
        """The wait before re-send number ``retries`` (1-based, after incrementing).

        The server's delay when the error carries one (``error.retry_delay``: a
        ``response.failed`` "try again in …", or the ``Retry-After`` of the last
        429/5xx of a :class:`RetryLimitError`), else ``backoff(retries)``.
        """
        delay = error.retry_delay if isinstance(error, StreamError | RetryLimitError) else None
        if delay is not None:
            return self._cap(delay)
        return backoff(retries, rand=self.rand)

    # -- helpers ------------------------------------------------------------

    def _server_delay(self, headers: Mapping[str, str], body: str | bytes) -> timedelta | None:
        delay = parse_retry_after_header(headers)
        if delay is None:
            text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
            delay = _body_retry_after(text)
        return delay

    def _cap(self, delay: timedelta) -> timedelta:
        if self.max_retry_after is not None and delay > self.max_retry_after:
            return self.max_retry_after
        return delay


def _body_retry_after(body: str) -> timedelta | None:
    try:
        parsed = loads_untrusted(body)
    except ValueError:
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return try_parse_retry_after(error) if isinstance(error, dict) else None
