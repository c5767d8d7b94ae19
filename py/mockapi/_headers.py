"""Rate-limit response headers: the ChatGPT backend's ``x-codex-*`` family
and the public API's ``x-ratelimit-*`` family, with values taken from recorded
responses (``corpus/responses/headers/*.json``)."""

from __future__ import annotations

import time

__all__ = ["codex_rate_limit_headers", "openai_rate_limit_headers"]


def codex_rate_limit_headers(
    *,
    primary_used_percent: float = 23.0,
    primary_window_minutes: int = 300,
    primary_reset_after_seconds: int = 8123,
    secondary_used_percent: float = 41.0,
    secondary_window_minutes: int = 10080,
    secondary_reset_after_seconds: int = 371042,
    credits_has_credits: bool | None = False,
    credits_unlimited: bool = False,
    credits_balance: str = "",
    plan_type: str | None = None,
    active_limit: str | None = None,
    now: float | None = None,
) -> dict[str, str]:
    """The ``x-codex-*`` family as the ChatGPT backend sends it.

    Both the reset-after-seconds (era A) and the unix reset-at (B/C) headers are
    sent, as in the recorded 429 of ``headers/codexproxy_429_codex_usage_headers.json``.
    Pass ``credits_has_credits=None`` to leave the credits headers out.
    """
    base = int(time.time() if now is None else now)
    headers = {
        "x-codex-primary-used-percent": _num(primary_used_percent),
        "x-codex-primary-window-minutes": str(primary_window_minutes),
        "x-codex-primary-reset-after-seconds": str(primary_reset_after_seconds),
        "x-codex-primary-reset-at": str(base + primary_reset_after_seconds),
        "x-codex-secondary-used-percent": _num(secondary_used_percent),
        "x-codex-secondary-window-minutes": str(secondary_window_minutes),
        "x-codex-secondary-reset-after-seconds": str(secondary_reset_after_seconds),
        "x-codex-secondary-reset-at": str(base + secondary_reset_after_seconds),
    }
    if credits_has_credits is not None:
        headers["x-codex-credits-has-credits"] = str(credits_has_credits)
        headers["x-codex-credits-unlimited"] = str(credits_unlimited)
        headers["x-codex-credits-balance"] = credits_balance
    if plan_type is not None:
        headers["x-codex-plan-type"] = plan_type
    if active_limit is not None:
        headers["x-codex-active-limit"] = active_limit
    return headers


def openai_rate_limit_headers(
    *,
    limit_requests: int = 30000,
    remaining_requests: int = 29999,
    reset_requests: str = "2ms",
    limit_tokens: int = 150000000,
    remaining_tokens: int = 149999967,
    reset_tokens: str = "0s",
) -> dict[str, str]:
    """The public API's ``x-ratelimit-*`` headers (values from a recorded 200)."""
    return {
        "x-ratelimit-limit-requests": str(limit_requests),
        "x-ratelimit-limit-tokens": str(limit_tokens),
        "x-ratelimit-remaining-requests": str(remaining_requests),
        "x-ratelimit-remaining-tokens": str(remaining_tokens),
        "x-ratelimit-reset-requests": reset_requests,
        "x-ratelimit-reset-tokens": reset_tokens,
    }


def _num(value: float) -> str:
    # "100" and "87.5" both occur on the wire; keep integers integral.
    return str(int(value)) if float(value).is_integer() else repr(float(value))
