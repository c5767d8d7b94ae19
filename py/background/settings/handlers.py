"""The ``settings.read`` and ``settings.write`` capabilities: the settings and the API key.

``settings.get`` is a panel's too; everything that changes where requests go or
which credential they carry (``settings.set``, ``settings.test``, ``settings.approve``,
``key.*``) is the options page's (:mod:`background.router`).

The key goes only to origins the user approved for it
(:mod:`background.settings.credentials`): ``key.set`` approves the saved base
URL's origin; moving the base URL to another origin leaves the key unapproved
there until the user clicks to approve it (``settings.approve``); ``settings.test``
of unsaved settings uses a key typed for it, or the stored key only where the
tested origin is already approved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from modelclient import WireApi

from ..errors import ProtocolError
from ..protocol import (
    KeySet,
    Request,
    SettingsApprove,
    SettingsPreview,
    SettingsSet,
    SettingsTest,
    error_reply,
    reply,
)
from .conntest import ConnectionTest, origin_pattern
from .credentials import Keys, origin_of
from .model import Settings, SettingsError, SettingsStore, validate_key
from .view import SettingsViews

__all__ = ["SettingsHandlers"]

Message = dict[str, Any]
# settings.test with ChatGPT sign-in (background.accounts): (tester, settings) -> the outcome
ChatGPTTest = Callable[[ConnectionTest, Settings], Awaitable[Message]]
# A connection test whose transport refuses credentials outside the given origins
Tester = Callable[[Collection[str]], ConnectionTest]
STALE_PROVIDER = "The provider was switched in the panel; reload this page's settings."
MAX_FOUND = 20  # servers whose tested wire API is remembered until they are saved


class SettingsHandlers:
    """``settings.*`` and ``key.*``.

    Args:
        tester: ``settings.test``'s connection test, for the origins its credential may go to.
        chatgpt_test: ``settings.test`` when ChatGPT sign-in is selected.
        key_unavailable: why no key can be read right now (a locked or damaged vault), or None.
        remember_secret: told a newly set key, so it is scrubbed from what is posted.
    """

    def __init__(self, settings: SettingsStore, keys: Keys, views: SettingsViews, tester: Tester,
                 *, chatgpt_test: ChatGPTTest,
                 key_unavailable: Callable[[], Awaitable[str | None]] | None = None,
                 remember_secret: Callable[[str], None]) -> None:
        self.settings = settings
        self.keys = keys
        self.views = views
        self._tester = tester
        self._chatgpt_test = chatgpt_test
        self._key_unavailable = key_unavailable
        self._remember = remember_secret
        # What Test connection found each tested server speaks, {(base URL, preset): wire API}:
        # the options page tests the form's values before they are saved, so the saved
        # provider learns its wire API when those values are saved (settings.set).
        self._found: dict[tuple[str, str], WireApi] = {}

    def handlers(self) -> dict[str, Callable[[Request], Awaitable[Message]]]:
        return {
            "settings.get": self.settings_get,
            "settings.set": self.settings_set,
            "settings.preview": self.settings_preview,
            "settings.test": self.settings_test,
            "settings.approve": self.settings_approve,
            "key.set": self.key_set,
            "key.clear": self.key_clear,
        }

    async def settings_get(self, request: Request) -> Message:
        """``settings.get``."""
        return reply("settings", request, settings=await self.views.view())

    async def settings_set(self, request: Request) -> Message:
        """``settings.set``: validated as a whole, saved in one write, or nothing is saved."""
        assert isinstance(request, SettingsSet)
        await self._same_provider(request.active_profile)
        try:
            saved = await self.settings.patch(request.patch)
        except SettingsError as exc:
            message = f"Settings not saved: {exc}"
            return error_reply(request.id, "invalid_settings", message, fields=exc.fields)
        found = self._found.get((saved.base_url, saved.preset_id))
        if found is not None and saved.detected_wire is None:
            await self.settings.patch({"detected_wire": found}, internal=True)
        return reply("settings", request, settings=await self.views.view())

    async def settings_preview(self, request: Request) -> Message:
        """``settings.preview``: the view a form's values would give (``request_url``), not saved."""
        assert isinstance(request, SettingsPreview)
        try:
            settings = await self.settings.preview(request.patch)
        except SettingsError as exc:
            message = f"Settings not valid: {exc}"
            return error_reply(request.id, "invalid_settings", message, fields=exc.fields)
        masked = self.keys.masked()  # the last known mask: reading the key is not this message's business
        origin = origin_of(settings.api_base)
        key = {"set": masked is not None, "masked": masked, "origin": origin,
               "approved": masked is not None and origin in self.keys.approved()}
        return reply("settings.preview", request, settings=settings.view(key))

    async def settings_test(self, request: Request) -> Message:
        """``settings.test``: ``GET {base}/models`` with the key; says exactly what is wrong."""
        assert isinstance(request, SettingsTest)
        try:
            settings = await self.settings.preview(request.patch)
            typed = validate_key(request.key) if request.key is not None else None
        except SettingsError as exc:
            return error_reply(request.id, "invalid_settings", f"Cannot test: {exc}", fields=exc.fields)
        origin = origin_of(settings.api_base)
        if settings.auth_mode == "chatgpt":  # the ChatGPT sign-in, not the key (background.accounts)
            allowed = self.keys.chatgpt_origins(settings)
            if origin not in allowed:
                return self._not_sent(request, settings, "chatgpt_not_here",
                                      f"Your ChatGPT sign-in is only sent to ChatGPT, not to {origin}.")
            outcome = await self._chatgpt_test(self._tester(allowed), settings)
        elif typed is not None:  # typed on the options page for exactly these settings
            outcome = await self._tester({origin}).run(settings, typed, probe=request.probe)
        else:
            stored = await self.keys.load()
            if stored is not None and origin not in (stored.origins or ()) and settings.takes_no_key:
                stored = None  # the key stays home; the server needs none
            if stored is not None and origin not in (stored.origins or ()):
                return self._not_sent(
                    request, settings, "key_not_approved",
                    f"Your saved key is not approved for {origin}: save these settings and approve "
                    "sending it there, or type the key for this server to test with it.")
            outcome = await self._tester({origin}).run(settings, stored.key if stored is not None else None,
                                                       probe=request.probe)
        if outcome["kind"] == "no_key" and self._key_unavailable is not None:
            why = await self._key_unavailable()  # say why there is no key: locked or damaged
            if why:
                outcome["message"] = f"No key to test: {why}"
        await self._remember_wire(settings, outcome.get("wire") if outcome.get("detected") else None)
        return {"type": "settings.test", "id": request.id, **outcome}  # not reply(): it has a "kind"

    async def _remember_wire(self, tested: Settings, detected: object) -> None:
        """A wire API the test detected is kept for the saved provider it was detected on, and
        for those settings if they are saved later."""
        wire: WireApi = "responses" if detected == "responses" else "chat"
        if detected != wire:
            return  # nothing detected
        where = (tested.base_url, tested.preset_id)
        self._found.pop(where, None)
        self._found[where] = wire
        while len(self._found) > MAX_FOUND:
            del self._found[next(iter(self._found))]  # the oldest
        await self.settings.keep_detected_wire(tested, wire)

    async def _same_provider(self, shown: str | None) -> None:
        """The options page writes to the provider it shows: if the panel switched to another
        saved provider since the page loaded its settings, the write would land on that one
        (a key approved for its server, another provider's URL on it). ``None``: not said."""
        if shown is not None and shown != (await self.settings.load()).active_profile:
            raise ProtocolError("stale", STALE_PROVIDER)

    @staticmethod
    def _not_sent(request: Request, settings: Settings, kind: str, message: str) -> Message:
        """A ``settings.test`` outcome for a test that sent nothing (no credential may go there)."""
        url = f"{settings.api_base}/models"
        return {"type": "settings.test", "id": request.id, "url": url, "origin": origin_pattern(url),
                "ok": False, "kind": kind, "message": message}

    async def settings_approve(self, request: Request) -> Message:
        """``settings.approve {origin}``: the user clicked to send the key to the saved base URL's
        origin. ``origin`` is what the page showed; it must still be the saved one."""
        assert isinstance(request, SettingsApprove)
        await self._same_provider(request.active_profile)
        settings = await self.settings.load()
        origin = origin_of(settings.api_base)
        if request.origin != origin:
            raise ProtocolError("stale", f"The settings changed meanwhile: the server is now {origin}. "
                                "Look at it again before approving.")
        if settings.auth_mode == "chatgpt":
            raise ProtocolError("bad_request", "ChatGPT sign-in is never sent to other servers; "
                                "approving is for API keys.")
        try:
            approved = await self.keys.approve(origin)
        except Exception as exc:  # the key source refused (e.g. a locked vault): say why
            return error_reply(request.id, _code(exc), f"Not approved: {exc}")
        if not approved:
            raise ProtocolError("no_key", "There is no saved API key to approve: enter one.")
        return reply("settings", request, settings=await self.views.view())
    async def key_set(self, request: Request) -> Message:
        """``key.set``: the key is stored by the key source and never sent back."""
        assert isinstance(request, KeySet)
        await self._same_provider(request.active_profile)
        try:
            key = validate_key(request.key)
        except SettingsError as exc:
            return error_reply(request.id, "invalid_settings", f"Key not saved: {exc}", fields=exc.fields)
        self._remember(key)
        try:
            await self.keys.set(key, await self.settings.load())
        except Exception as exc:  # the key source refused (e.g. a locked vault): say why
            return error_reply(request.id, _code(exc), f"Key not saved: {exc}")
        return reply("settings", request, settings=await self.views.view())

    async def key_clear(self, request: Request) -> Message:
        """``key.clear``."""
        try:
            await self.keys.clear()
        except Exception as exc:
            return error_reply(request.id, _code(exc), f"Key not removed: {exc}")
        return reply("settings", request, settings=await self.views.view())

def _code(exc: Exception) -> str:
    """A key source's own error code (the vault's), else ``key_unavailable``."""
    return str(getattr(exc, "code", "key_unavailable"))
