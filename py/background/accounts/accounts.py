"""ChatGPT sign-in: a Codex ``auth.json`` kept in the key vault, and the ``AuthManager`` turns share.

Codex signed in with ChatGPT keeps its tokens in ``~/.codex/auth.json`` (read by
``modelclient.AuthDotJson``; docs/rust-parity.md). SidePy cannot run Codex's browser
login (it needs a loopback redirect on port 1455), so the user imports that file once
(``auth.import``) and SidePy then uses and refreshes the tokens itself, as Codex does:

* **Stored** in the key vault as its own record, :data:`CHATGPT_AUTH`, in the same
  envelope as the API key (AES-GCM under the vault's data key; docs/security.md).
  The record's plaintext is the ``auth.json`` text exactly as Codex writes it
  (:meth:`AuthDotJson.to_json`), with ``tokens.account_id`` filled in from the id
  token and no ``OPENAI_API_KEY``. Nothing of it is in plain storage, and no page
  ever gets it back: views carry the email, plan, a masked account id and the
  last refresh time only (:func:`summary`).
* **Used** through one :class:`~modelclient.AuthManager` per worker, shared by
  every turn and ``settings.test``: a refresh is single-flight only within one
  manager, and two managers refreshing the same refresh token would spend it
  twice (the second gets ``refresh_token_reused``: signed out).
* **Refreshed tokens are written back** to the vault by the manager's ``save``
  callback, unless the record changed meanwhile (a new import or a sign-out
  wins). A vault that refuses the write (locked by then) keeps them in memory and
  writes them at the next use.

The vault's locked and damaged states apply: a turn then ends with
``not_signed_in`` and a message saying what to do (:class:`AccountUnavailable`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from modelclient import AuthDotJson, AuthManager, Transport
from modelclient._json import loads_untrusted  # depth-guarded: a deep body kills Pyodide

from ..settings.credentials import ANYWHERE, CHATGPT_ORIGINS, guarded, origin_of
from ..settings.model import TOKEN_URL, Settings
from ..vault.keyvault import KeyVault
from ..vault.names import CHATGPT_AUTH
from ..vault.vault import VaultError, VaultLocked

__all__ = [
    "CHATGPT_AUTH",
    "MAX_AUTH_JSON_CHARS",
    "AccountUnavailable",
    "Accounts",
    "AuthImportError",
    "mask_account_id",
    "parse_auth_json",
    "summary",
]

MAX_AUTH_JSON_CHARS = 64 * 1024  # Codex's file is ~4 KB; the vault takes up to 32 Ki characters

NOT_SIGNED_IN = ("ChatGPT sign-in is selected, but no Codex auth.json was imported. Open SidePy's settings "
                 "to import one, or switch back to your API key.")
LOCKED = ("Your ChatGPT sign-in is locked with your passphrase: unlock your keys in SidePy's settings.")
DAMAGED = ("Your ChatGPT sign-in could not be read (key store damaged): import your auth.json again in "
           "SidePy's settings.")

WithTimeout = Callable[[Awaitable[Any], float], Awaitable[Any]]


class AuthImportError(ValueError):
    """An ``auth.json`` SidePy cannot use; the message says why and never quotes the file."""


class AccountUnavailable(Exception):
    """No usable ChatGPT sign-in: not imported, vault locked or damaged, no network here."""

    def __init__(self, message: str, kind: str = "not_signed_in") -> None:
        super().__init__(message)
        self.kind = kind

    def info(self) -> dict[str, Any]:
        """An ``ErrorInfo`` for ``turn.error``."""
        return {"kind": self.kind, "message": str(self), "retryable": False, "fields": {}}


# ---------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------


def _describe(exc: ValidationError) -> str:
    # The model hides inputs in its errors; the location and the rule are enough.
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "auth.json"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"


def _header_safe(token: str) -> bool:
    return bool(token) and all("!" <= c <= "~" for c in token)


def parse_auth_json(text: str) -> AuthDotJson:
    """A Codex ``auth.json`` with ChatGPT tokens, ready to store.

    ``tokens.account_id`` is taken from the id token's ``chatgpt_account_id``
    claim when the file has none; an ``OPENAI_API_KEY`` in the file is not kept
    (the API key has its own field, and Codex would prefer it over the tokens).

    Raises:
        AuthImportError: not JSON, not an ``auth.json``, no ChatGPT tokens, a
            malformed JWT, or no ChatGPT account in the id token.
    """
    if len(text) > MAX_AUTH_JSON_CHARS:
        raise AuthImportError("this file is too large to be a Codex auth.json (over 64 KiB)")
    try:
        data = loads_untrusted(text.lstrip("\ufeff"))
    except ValueError as exc:  # json's messages give a position, never the text
        raise AuthImportError(f"this is not a Codex auth.json: it is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise AuthImportError("this is not a Codex auth.json: it must hold a JSON object")
    if data.get("tokens") is None:
        if data.get("OPENAI_API_KEY"):
            raise AuthImportError("this auth.json holds an API key, not a ChatGPT sign-in: paste the key in "
                                  "the API key field instead")
        raise AuthImportError("this auth.json has no ChatGPT tokens: sign in to Codex with ChatGPT "
                              "(codex login), then import ~/.codex/auth.json")
    try:
        auth = AuthDotJson.model_validate(data)
    except ValidationError as exc:
        raise AuthImportError(f"this auth.json is not valid: {_describe(exc)}") from None
    tokens = auth.tokens
    assert tokens is not None
    for name, token in (("access_token", tokens.access_token), ("refresh_token", tokens.refresh_token)):
        if not _header_safe(token):
            raise AuthImportError(f"this auth.json is not valid: tokens.{name} is empty or has characters "
                                  "that cannot be sent to the server")
    account = tokens.account_id or tokens.id_token.chatgpt_account_id
    if not account:
        raise AuthImportError("the id token names no ChatGPT account (no chatgpt_account_id claim): sign in "
                              "to Codex with ChatGPT again, then import the new auth.json")
    return auth.model_copy(update={"openai_api_key": None,
                                   "tokens": tokens.model_copy(update={"account_id": account})})


def mask_account_id(account: str | None) -> str | None:
    """``7f3e…6f70``: enough to recognise an account, not to use it."""
    if not account:
        return None
    return f"{account[:4]}…{account[-4:]}" if len(account) >= 12 else "…"


def summary(auth: AuthDotJson) -> dict[str, Any]:
    """What a page may know of a sign-in: ``{email?, plan?, account_id_masked?, last_refresh?}``.

    ``last_refresh`` is epoch milliseconds. Never a token.
    """
    tokens = auth.tokens
    out: dict[str, Any] = {}
    if tokens is not None:
        info = tokens.id_token
        account = tokens.account_id or info.chatgpt_account_id
        for name, value in (("email", info.email), ("plan", info.chatgpt_plan_type),
                            ("account_id_masked", mask_account_id(account))):
            if value:
                out[name] = value
    if auth.last_refresh is not None:
        out["last_refresh"] = int(auth.last_refresh.timestamp() * 1000)
    return out


def _from_vault(text: str) -> AuthDotJson:
    try:
        auth = AuthDotJson.from_json(text)
    except ValueError:
        raise AccountUnavailable(DAMAGED) from None
    if auth.tokens is None:
        raise AccountUnavailable(DAMAGED)
    return auth


# ---------------------------------------------------------------------------
# The worker's account
# ---------------------------------------------------------------------------


class Accounts:
    """The ChatGPT sign-in of this profile: import, sign-out, status, and the shared ``AuthManager``.

    Args:
        vault: where the record lives; ``None`` (tests, no WebCrypto): nothing can be imported.
        transport: the app's transport factory (the refresh goes through ``fetch`` too).
        clock: epoch seconds (the manager's "now": token age, ``exp``, ``last_refresh``).
        with_timeout: bounds each refresh (the client's ``with_timeout``).
        custom_urls: a developer build: the token endpoint may be another than
            ``auth.openai.com``'s (the tests' mock); otherwise the tokens go nowhere else.
    """

    def __init__(self, vault: KeyVault | None, transport: Callable[[], Transport] | None, *,
                 clock: Callable[[], float], with_timeout: WithTimeout | None = None,
                 custom_urls: bool = False) -> None:
        self.vault = vault
        self._custom_urls = custom_urls
        # Whatever the settings say, this transport reaches only the token endpoint (and in a
        # developer build wherever its settings point).
        self._transport = guarded(transport, lambda: ANYWHERE if custom_urls else CHATGPT_ORIGINS,
                                  every_request=True)
        self._clock = clock
        self._with_timeout = with_timeout
        self._manager: AuthManager | None = None
        self._text: str | None = None  # the vault text the manager stands for (as read, or last saved)
        self._unsaved: str | None = None  # refreshed tokens the vault refused: written at the next use

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def secrets(self) -> list[str]:
        """The tokens in use, for the app to scrub from everything it posts or logs."""
        auth = self._manager.auth if self._manager is not None else None
        tokens = auth.tokens if auth is not None else None
        if tokens is None:
            return []
        return [tokens.access_token, tokens.refresh_token, tokens.id_token.raw_jwt]

    async def _load(self) -> tuple[str, AuthDotJson] | None:
        """The stored record, parsed. Raises VaultError (locked, damaged) or AccountUnavailable."""
        if self.vault is None:
            return None
        text = await self.vault.read(CHATGPT_AUTH)
        return None if text is None else (text, _from_vault(text))

    # ------------------------------------------------------------- messages

    async def import_text(self, text: str) -> AuthDotJson:
        """Validate and store an ``auth.json``; the next turn uses it.

        Raises:
            AuthImportError: the file is not usable (nothing is stored).
            AccountUnavailable: no vault in this runtime.
            VaultError: the vault refused the write (locked).
        """
        auth = parse_auth_json(text)
        if self.vault is None:
            raise AccountUnavailable("No key vault here: the sign-in cannot be kept.", "unavailable")
        await self.vault.write(CHATGPT_AUTH, auth.to_json())
        self._manager = self._text = self._unsaved = None  # a refresh in flight must not overwrite it
        return auth

    async def clear(self) -> None:
        """Sign out: the record is deleted (the tokens stay valid at OpenAI until they expire)."""
        self._manager = self._text = self._unsaved = None
        if self.vault is not None:
            await self.vault.delete(CHATGPT_AUTH)

    async def view(self, settings: Settings, *, key_set: bool) -> dict[str, Any]:
        """``AuthView`` (docs/protocol.md, "Accounts"): never a token."""
        out: dict[str, Any] = {"selected": settings.auth_mode}
        try:
            found = await self._load()
        except VaultLocked:
            out.update(chatgpt="locked", message=LOCKED)
        except (VaultError, AccountUnavailable):
            out.update(chatgpt="damaged", message=DAMAGED)
        else:
            if found is None:
                out["chatgpt"] = "none"
            else:
                # The manager's copy is newer when the vault refused its refreshed tokens (locked).
                manager = self._manager if found[0] == self._text else None
                out.update(chatgpt="signed_in", **summary(manager.auth if manager else found[1]))
        if settings.auth_mode == "chatgpt":
            out["mode"] = "chatgpt" if out["chatgpt"] == "signed_in" else "none"
        else:
            out["mode"] = "apikey" if key_set else "none"
        return out

    # ------------------------------------------------------------------ use

    async def manager(self, settings: Settings) -> AuthManager:
        """The ``AuthManager`` for a turn or a connection test (the same one while the record is unchanged).

        Raises:
            AccountUnavailable: not signed in, the vault is locked or damaged, no transport, or
                anything unexpected (a turn must end with a message, never hang).
        """
        try:
            return await self._manager_for(settings)
        except AccountUnavailable:
            raise
        except VaultLocked:
            raise AccountUnavailable(LOCKED) from None
        except VaultError:
            raise AccountUnavailable(DAMAGED) from None
        except Exception as exc:  # a bug or a browser failure; its text may not be safe to show
            print(f"background: ChatGPT sign-in unavailable: {type(exc).__name__}")
            raise AccountUnavailable(f"SidePy could not use your ChatGPT sign-in ({type(exc).__name__}).",
                                     "internal") from None

    async def _manager_for(self, settings: Settings) -> AuthManager:
        if not self._custom_urls and origin_of(settings.token_url) not in CHATGPT_ORIGINS:
            raise AccountUnavailable(f"Your ChatGPT sign-in is only refreshed at {TOKEN_URL}; clear the "
                                     "token URL in SidePy's settings.", "unavailable")
        found = await self._load()
        if found is None:
            self._manager = self._text = self._unsaved = None
            raise AccountUnavailable(NOT_SIGNED_IN)
        text, auth = found
        if self._manager is None or text != self._text:
            if self._transport is None:
                raise AccountUnavailable("No network transport in this runtime.", "unavailable")
            self._manager, self._text, self._unsaved = self._new_manager(auth, settings), text, None
        self._manager.token_url = settings.token_url  # a changed setting applies at once
        if self._unsaved is not None:
            await self._save(self._unsaved)
        return self._manager

    def _new_manager(self, auth: AuthDotJson, settings: Settings) -> AuthManager:
        assert self._transport is not None

        async def save(refreshed: AuthDotJson) -> None:
            if self._manager is manager:  # not replaced by an import or a sign-out meanwhile
                await self._save(refreshed.to_json())

        manager = AuthManager(auth, transport=self._transport(), save=save, token_url=settings.token_url,
                              clock=self._now, with_timeout=self._with_timeout)
        return manager

    async def _save(self, text: str) -> None:
        """Write refreshed tokens over the record this manager was made from (only that one)."""
        assert self.vault is not None
        try:
            if await self.vault.read(CHATGPT_AUTH) != self._text:
                return  # re-imported, signed out or wiped meanwhile: that wins
            await self.vault.write(CHATGPT_AUTH, text)
        except VaultError as exc:
            # The old refresh token is spent: keep the new one for the next use rather than lose it.
            print(f"background: refreshed ChatGPT tokens not saved yet ({exc.code}); saving at the next use")
            self._unsaved = text
            return
        self._text, self._unsaved = text, None
