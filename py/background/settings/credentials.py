"""Credentials are bound to origins: a key goes only where the user approved sending it.

A stored API key carries the origins (``scheme://host:port``) it was approved for,
inside the vault record with the key itself (:class:`StoredKey`), so changing the
settings alone can never move it: ``key.set`` binds a key to the origin of the
base URL saved with it, and a later change of base URL to another origin needs
the user's click on the options page (``settings.approve``) before the key goes
there. ChatGPT tokens go only to the ChatGPT backend and the token endpoint of
``auth.openai.com`` (:data:`CHATGPT_ORIGINS`); a developer build may point them
elsewhere (the tests' mock servers).

Two layers enforce it. The settings logic decides which key a request may carry
(:meth:`Keys.for_origin`) and says so in words when it may not. Under it, every
transport the worker uses is wrapped in :class:`CredentialGuard`, which refuses
to send any request that carries a credential header to an origin outside the
set it was given: a bug in the first layer still cannot leak the key.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any
from urllib.parse import urlsplit

from modelclient import HttpRequest, StreamResponse, Transport

from .model import CHATGPT_BASE, TOKEN_URL, KeySource, Settings, SettingsStore, StoredKey, is_loopback

__all__ = [
    "ANYWHERE",
    "CHATGPT_ORIGINS",
    "CREDENTIAL_HEADERS",
    "CredentialGuard",
    "CredentialRefused",
    "Keys",
    "StoredKey",
    "guarded",
    "is_loopback",
    "origin_of",
]

#: Request headers that carry a credential (compared lower-case).
CREDENTIAL_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})


def origin_of(url: str) -> str:
    """``scheme://host[:port]``, lower-case, without a default port; ``""`` if not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


CHATGPT_ORIGINS = frozenset({origin_of(CHATGPT_BASE), origin_of(TOKEN_URL)})


class _Anywhere(frozenset[str]):
    """Every origin (a developer build's ChatGPT mock servers)."""

    def __contains__(self, item: object) -> bool:
        return True


ANYWHERE: frozenset[str] = _Anywhere()


class CredentialRefused(Exception):
    """A request would have carried a credential to an origin not approved for it."""

    def __init__(self, origin: str) -> None:
        super().__init__(
            f"SidePy refused to send your credential to {origin or 'that address'}: it is not approved "
            "for it. Approve the server on SidePy's settings page, or enter a key for it there."
        )
        self.origin = origin


class CredentialGuard:
    """A :class:`~modelclient.Transport` that refuses credentials outside ``allowed()``.

    ``allowed`` is read at every request (the approvals may change while a client lives).
    A request without credential headers passes untouched, unless ``every_request``
    (a transport that only ever carries secrets, such as the token refresh's, whose
    refresh token is in the body).
    """

    def __init__(self, inner: Transport, allowed: Callable[[], Collection[str]], *,
                 every_request: bool = False) -> None:
        self._inner = inner
        self._allowed = allowed
        self._every = every_request

    async def send(self, request: HttpRequest) -> StreamResponse:
        if self._every or any(name.lower() in CREDENTIAL_HEADERS for name in request.headers):
            origin = origin_of(request.url)
            if not origin or origin not in self._allowed():
                raise CredentialRefused(origin)
        return await self._inner.send(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def guarded(factory: Callable[[], Transport] | None, allowed: Callable[[], Collection[str]], *,
            every_request: bool = False) -> Callable[[], Transport] | None:
    """A transport factory whose transports are :class:`CredentialGuard`-ed."""
    if factory is None:
        return None
    inner = factory

    def make() -> Transport:
        return CredentialGuard(inner(), allowed, every_request=every_request)

    return make


class Keys:
    """The API key with its approved origins, over a key source (the vault's ``api_key`` record).

    Args:
        chatgpt_anywhere: a developer build: ChatGPT tokens may go to other origins
            (the tests' mock ChatGPT backend).
    """

    def __init__(self, source: KeySource, settings: SettingsStore, *, chatgpt_anywhere: bool = False) -> None:
        self.source = source
        self.settings = settings
        self.chatgpt_anywhere = chatgpt_anywhere
        self._origins: frozenset[str] = frozenset()  # of the key last read: what the guard allows

    async def load(self) -> StoredKey | None:
        """The key and its origins; a key without recorded origins is bound to the saved base URL's."""
        stored = await self.source.load()
        if stored is not None and stored.origins is None:
            origin = origin_of((await self.settings.load()).api_base)
            stored = StoredKey(stored.key, frozenset({origin}) if origin else frozenset())
            await self._store(stored.key, stored.origins or ())
        self._origins = stored.origins or frozenset() if stored is not None else frozenset()
        return stored

    async def _store(self, key: str, origins: Iterable[str]) -> None:
        await self.source.store(key, origins)
        self._origins = frozenset(origins)

    async def get(self) -> str | None:
        """The key (for views: whether one is set), whatever it is approved for."""
        stored = await self.load()
        return stored.key if stored is not None else None

    async def for_origin(self, origin: str) -> str | None:
        """The key if it is approved for ``origin``, else None."""
        stored = await self.load()
        return stored.key if stored is not None and origin in (stored.origins or ()) else None

    async def set(self, key: str, settings: Settings) -> None:
        """Store a key typed on the options page: approved for the saved base URL's origin."""
        origin = origin_of(settings.api_base)
        await self._store(key, {origin} if origin else set())

    async def store(self, key: str, origins: Iterable[str]) -> None:
        """Store a key approved for exactly ``origins`` (a saved provider's own key, back in
        the active slot with the origins the user approved it for)."""
        await self._store(key, origins)

    async def approve(self, origin: str) -> bool:
        """Add ``origin`` to the stored key's approved origins; False if no key is stored."""
        stored = await self.load()
        if stored is None:
            return False
        await self._store(stored.key, (stored.origins or frozenset()) | {origin})
        return True

    async def clear(self) -> None:
        await self.source.clear()
        self._origins = frozenset()

    def masked(self) -> str | None:
        return self.source.masked()

    def approved(self) -> frozenset[str]:
        """The origins approved for the key last read (the transport guard's allowlist)."""
        return self._origins

    def chatgpt_origins(self, settings: Settings) -> frozenset[str]:
        """Where ChatGPT tokens may go: the ChatGPT backend and the token endpoint, or in a
        developer build also the settings' own URLs."""
        if not self.chatgpt_anywhere:
            return CHATGPT_ORIGINS
        return CHATGPT_ORIGINS | {origin_of(settings.api_base), origin_of(settings.token_url)}

    def view(self, stored: StoredKey | None, settings: Settings) -> dict[str, Any]:
        """``SettingsView.key``: set, masked, and whether it may go to the saved base URL's origin."""
        origin = origin_of(settings.api_base)
        approved = stored is not None and origin in (stored.origins or ())
        return {"set": stored is not None, "masked": self.source.masked(), "origin": origin,
                "approved": approved}
