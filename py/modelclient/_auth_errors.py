"""The ChatGPT token refresh's errors (B's ``RefreshTokenError``).

Part of the one error tree (``_errors``, which re-exports them): raised by
``_auth.AuthManager`` when the token endpoint refuses or fails a refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from ._error_base import ModelClientError
from ._error_text import format_status

__all__ = ["REFRESH_TOKEN_FAILED_MESSAGES", "RefreshTokenFailedError", "RefreshTokenTransientError"]

REFRESH_TOKEN_FAILED_MESSAGES = {
    "expired": "Your access token could not be refreshed because your refresh token has expired. "
    "Please log out and sign in again.",
    "exhausted": "Your access token could not be refreshed because your refresh token was already "
    "used. Please log out and sign in again.",
    "revoked": "Your access token could not be refreshed because your refresh token was revoked. "
    "Please log out and sign in again.",
    "other": "Your access token could not be refreshed. Please log out and sign in again.",
}
"""Rust's ``RefreshTokenFailedReason`` (lower-cased) → its message (B, ``c4ebe4b0``)."""


class RefreshTokenFailedError(ModelClientError):
    """The token endpoint answered 401: the refresh token is dead; only a new sign-in helps.

    B's ``RefreshTokenError::Permanent`` / ``CodexErr::RefreshTokenFailed``.

    Fields:
        reason: ``"expired"`` (``refresh_token_expired``), ``"exhausted"``
            (``refresh_token_reused``), ``"revoked"`` (``refresh_token_invalidated``)
            or ``"other"``.
        message: the reason's Rust text unless given.
    """

    kind = "refresh_token_failed"

    def __init__(self, reason: str = "other", message: str | None = None) -> None:
        self.reason = reason if reason in REFRESH_TOKEN_FAILED_MESSAGES else "other"
        self.message = REFRESH_TOKEN_FAILED_MESSAGES[self.reason] if message is None else message
        super().__init__(self.message)

    def fields(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        message = fields.get("message")
        return cls(str(fields.get("reason", "other")), None if message is None else str(message))


class RefreshTokenTransientError(ModelClientError):
    """The token refresh failed in a way a later attempt may not (5xx, network, bad reply).

    B's ``RefreshTokenError::Transient``, surfaced as the retryable ``CodexErr::Io``.

    Fields:
        status: the token endpoint's HTTP status, or ``None`` (no usable response).
        message: the body's ``error.message``, else the body, else what went wrong.
    """

    kind = "refresh_token_transient"
    retryable = True

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        self.message = message
        where = "" if status is None else f"{format_status(status)}: "
        super().__init__(f"Failed to refresh token: {where}{message}")

    def fields(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        status = fields.get("status")
        return cls(None if status is None else int(status), str(fields["message"]))
