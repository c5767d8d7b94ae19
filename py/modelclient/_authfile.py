"""Codex's ``auth.json`` and the id-token claims (Rust ``auth/storage.rs``, ``token_data.rs``).

:class:`AuthDotJson` parses and writes the file exactly as Rust's serde structs
do: pretty-printed, ``OPENAI_API_KEY`` always written, ``tokens`` and
``last_refresh`` left out when absent, ``last_refresh`` in chrono's RFC 3339 form.
The id token is kept parsed (:class:`IdTokenInfo`) and written back as its raw
JWT. JWTs are read without checking the signature, as Rust does: the token came
from the auth server over TLS, and the client only reads the account and plan.

The secrets (API key, tokens) appear in no ``repr`` and no validation error.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

from ._json import loads_untrusted

__all__ = [
    "AUTH_CLAIM",
    "AuthDotJson",
    "IdTokenError",
    "IdTokenInfo",
    "TokenData",
    "jwt_expiry",
    "parse_id_token",
    "parse_jwt_claims",
]

AUTH_CLAIM = "https://api.openai.com/auth"
"""The id-token claim object holding ``chatgpt_account_id`` and ``chatgpt_plan_type``."""

# ---------------------------------------------------------------------------
# JWT claims (no signature check, as Rust: the token came from the auth server)
# ---------------------------------------------------------------------------


class IdTokenError(ValueError):
    """A token is not a JWT whose claims can be read (Rust ``IdTokenInfoError``)."""


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _b64url_decode(text: str) -> bytes:
    # The base64 crate's URL_SAFE_NO_PAD: URL alphabet, no "=", and canonical
    # (a last character with unused bits set is refused, as Rust refuses it).
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise IdTokenError("invalid ID token payload: not base64url without padding")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode() != text:
        raise IdTokenError("invalid ID token payload: non-canonical base64url (trailing bits set)")
    return data


def parse_jwt_claims(token: str) -> dict[str, Any]:
    """The claims object of a JWT: exactly 3 non-empty parts, base64url payload, JSON.

    Raises:
        IdTokenError: the token is not of that shape.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise IdTokenError(f"invalid ID token format: expected 3 dot-separated parts, got {len(parts)}")
    if not all(parts):
        raise IdTokenError("invalid ID token format: a part is empty")
    payload = _b64url_decode(parts[1])
    try:
        claims = loads_untrusted(payload.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError included
        raise IdTokenError(f"invalid ID token payload: not JSON ({exc})") from None
    if not isinstance(claims, dict):
        raise IdTokenError("invalid ID token payload: the claims are not a JSON object")
    return claims


def _claim(claims: dict[str, Any], name: str) -> str | None:
    # serde's Option<String>: missing or null is None; any other type fails the token.
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise IdTokenError(f"invalid ID token claims: {name!r} must be a string")
    return value


class IdTokenInfo(BaseModel):
    """What Codex reads from the id token (Rust ``IdTokenInfo``).

    Fields:
        email: the ``email`` claim.
        chatgpt_plan_type: ``"https://api.openai.com/auth".chatgpt_plan_type``,
            verbatim (``plus``, ``pro``… or any other string).
        chatgpt_account_id: ``"https://api.openai.com/auth".chatgpt_account_id``.
        raw_jwt: the token itself (what ``auth.json`` stores); never in ``repr``.
    """

    model_config = ConfigDict(frozen=True, strict=True, hide_input_in_errors=True)

    email: str | None = None
    chatgpt_plan_type: str | None = None
    chatgpt_account_id: str | None = None
    raw_jwt: str = Field(repr=False)


def parse_id_token(token: str) -> IdTokenInfo:
    """Read an id token's claims (Rust ``parse_id_token``).

    Raises:
        IdTokenError: malformed JWT, or a claim Codex reads has the wrong type.
    """
    claims = parse_jwt_claims(token)
    auth = claims.get(AUTH_CLAIM)
    if auth is None:
        auth = {}
    elif not isinstance(auth, dict):
        raise IdTokenError(f"invalid ID token claims: {AUTH_CLAIM!r} must be an object")
    return IdTokenInfo(
        email=_claim(claims, "email"),
        chatgpt_plan_type=_claim(auth, "chatgpt_plan_type"),
        chatgpt_account_id=_claim(auth, "chatgpt_account_id"),
        raw_jwt=token,
    )


def jwt_expiry(token: str) -> datetime | None:
    """A JWT's integer ``exp`` as a UTC datetime; ``None`` when not a JWT or no usable ``exp`` (C)."""
    try:
        exp = parse_jwt_claims(token).get("exp")
    except IdTokenError:
        return None
    if type(exp) is not int:  # serde's i64: no floats, no booleans
        return None
    try:
        return datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


# ---------------------------------------------------------------------------
# auth.json
# ---------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))", re.ASCII
)


def _parse_rfc3339(text: str) -> datetime:
    # chrono's DateTime<Utc> from a string: any offset, converted to UTC. Python
    # keeps microseconds, so a 9-digit fraction (Linux Codex) loses its last 3.
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"last_refresh is not an RFC 3339 date-time: {text!r}")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        offset = timedelta(0) if zulu else int(sign + "1") * timedelta(hours=int(off_h), minutes=int(off_m))
        zone = timezone(offset)
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone)
    except ValueError as exc:
        raise ValueError(f"last_refresh is not a valid date-time: {text!r} ({exc})") from None
    return moment.astimezone(UTC)


def _format_rfc3339(moment: datetime) -> str:
    # chrono's Serialize: to_rfc3339_opts(SecondsFormat::AutoSi, true): "Z", and
    # 0, 3 or 6 fraction digits as the value needs.
    utc = moment.astimezone(UTC)
    text = utc.replace(microsecond=0, tzinfo=None).isoformat()
    if utc.microsecond % 1000 == 0 and utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"
    elif utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


class TokenData(BaseModel):
    """``auth.json``'s ``tokens`` (Rust ``TokenData``); the secrets stay out of ``repr``.

    Fields:
        id_token: the parsed id token (given and written as the JWT string).
        access_token: the bearer for the ChatGPT backend (a JWT).
        refresh_token: the opaque token the refresh exchanges.
        account_id: the ChatGPT account id stored at sign-in, if any.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore", hide_input_in_errors=True)

    id_token: IdTokenInfo
    access_token: str = Field(repr=False)
    refresh_token: str = Field(repr=False)
    account_id: str | None = None

    @field_validator("id_token", mode="before")
    @classmethod
    def _read_id_token(cls, value: Any) -> Any:
        return parse_id_token(value) if isinstance(value, str) else value

    @model_serializer
    def _dump(self) -> dict[str, Any]:
        # serde's field order; `account_id` is written even when null.
        return {
            "id_token": self.id_token.raw_jwt,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "account_id": self.account_id,
        }


class AuthDotJson(BaseModel):
    """Codex's ``auth.json`` (Rust ``AuthDotJson``): parse with :meth:`from_json`, write with :meth:`to_json`.

    Fields:
        openai_api_key: ``OPENAI_API_KEY``; when set, it is the credential.
        tokens: the ChatGPT tokens, if signed in with ChatGPT.
        last_refresh: when the tokens were last refreshed (aware, UTC).

    Unknown fields (C's ``auth_mode``, ``agent_identity``) are ignored and not
    written back, as A's serde struct does.
    """

    model_config = ConfigDict(
        frozen=True, strict=True, extra="ignore", validate_by_name=True, hide_input_in_errors=True
    )

    openai_api_key: str | None = Field(default=None, alias="OPENAI_API_KEY", repr=False)
    tokens: TokenData | None = None
    last_refresh: datetime | None = None

    @field_validator("last_refresh", mode="before")
    @classmethod
    def _read_last_refresh(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _parse_rfc3339(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("last_refresh must be timezone-aware")
        return value.astimezone(UTC) if isinstance(value, datetime) else value

    @model_serializer
    def _dump(self) -> dict[str, Any]:
        # `OPENAI_API_KEY` always; `tokens` and `last_refresh` only when set.
        data: dict[str, Any] = {"OPENAI_API_KEY": self.openai_api_key}
        if self.tokens is not None:
            data["tokens"] = self.tokens.model_dump()
        if self.last_refresh is not None:
            data["last_refresh"] = _format_rfc3339(self.last_refresh)
        return data

    @classmethod
    def from_json(cls, text: str | bytes) -> AuthDotJson:
        """Parse an ``auth.json`` text.

        Raises:
            ValueError: not JSON, not the ``auth.json`` shape, or a malformed id
                token (a pydantic ``ValidationError`` names the field).
        """
        data = loads_untrusted(text.decode("utf-8") if isinstance(text, bytes) else text)
        if not isinstance(data, dict):
            raise ValueError("auth.json must hold a JSON object")
        return cls.model_validate(data)

    def to_json(self) -> str:
        """The text Codex writes: ``serde_json::to_string_pretty``, no trailing newline."""
        return json.dumps(self.model_dump(), indent=2, ensure_ascii=False)
