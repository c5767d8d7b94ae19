"""Saved provider profiles and the server's model list: ``profile.*`` and ``models.list``.

A panel may switch between the providers the user saved (``profile.select``) and
refresh the active provider's model list (``models.list``): neither moves a
credential anywhere new — each profile's key stays bound to the origins it was
approved for (:mod:`background.settings.credentials`) and travels with its
profile. Saving and deleting profiles is the options page's (``profile.save``,
``profile.delete``), as every change of where requests go is.

Switching parks the active provider's fields in its profile and its key in the
vault record of that profile (``api_key.<profile id>``), then brings the chosen
profile's fields up to the settings' top level and its key into the active slot,
so every request path keeps reading "the settings" and "the key".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from modelclient import (
    ModelClientError,
    Transport,
    explain_failure,
    find_preset,
    list_models,
)

from ..chat.request import provider_info  # the same provider a turn uses
from ..errors import ProtocolError
from ..protocol import ModelsList, ProfileDelete, ProfileSave, ProfileSelect, Request, reply
from .credentials import Keys, origin_of
from .model import KeySource, Settings, SettingsError, SettingsStore
from .profiles import MAX_PROFILES, Profile, default_name, new_profile_id, snapshot
from .view import SettingsViews

__all__ = ["ProviderHandlers"]

Message = dict[str, Any]
#: A profile's parked key: the key source of its own vault record.
ParkedKeys = Callable[[str], KeySource]
WithTimeout = Callable[[Awaitable[Any], float], Awaitable[Any]]
MAX_MODELS = 500


class ProviderHandlers:
    """``profile.select`` / ``profile.save`` / ``profile.delete`` and ``models.list``.

    Args:
        parked: the key source of a profile's own vault record.
        transport: a transport whose credentials may go only to the given origins.
        extension_origin: ``chrome-extension://<id>``, for Ollama's origin advice.
        key_unavailable: why no key can be read now (a locked or damaged vault), or None:
            keys are only moved between providers while they can be read.
    """

    def __init__(self, settings: SettingsStore, keys: Keys, views: SettingsViews, parked: ParkedKeys,
                 transport: Callable[[frozenset[str]], Transport | None], *,
                 with_timeout: WithTimeout | None = None, extension_origin: str = "",
                 key_unavailable: Callable[[], Awaitable[str | None]] | None = None) -> None:
        self.settings = settings
        self.keys = keys
        self.views = views
        self._parked = parked
        self._transport = transport
        self._with_timeout = with_timeout
        self._origin = extension_origin
        self._key_unavailable = key_unavailable

    def handlers(self) -> dict[str, Callable[[Request], Awaitable[Message]]]:
        return {
            "profile.select": self.profile_select,
            "profile.save": self.profile_save,
            "profile.delete": self.profile_delete,
            "models.list": self.models_list,
        }

    # ------------------------------------------------------------------ profiles

    async def profile_save(self, request: Request) -> Message:
        """``profile.save {name?, new}``: remember the active provider as a profile (a new one
        with ``new``, else the active one's), so it can be switched back to."""
        assert isinstance(request, ProfileSave)
        settings = await self.settings.load()
        current = settings.model_dump(mode="json")
        profiles = list(settings.profiles)
        if request.new or not settings.active_profile:
            if len(profiles) >= MAX_PROFILES:
                raise ProtocolError("too_many", f"At most {MAX_PROFILES} providers can be saved.")
            # The active provider keeps its profile; the new one starts as a copy of it.
            if settings.active_profile and not any(p.id == settings.active_profile for p in profiles):
                profiles.append(snapshot(current, settings.active_profile, _name(settings)))
            profile_id = new_profile_id()
            if request.new and settings.active_profile:
                await self._keys_readable()
                await self._park(settings.active_profile)  # its key stays its own
                await self.keys.clear()  # the new provider has none yet
                # ... and its profile has the fields as they are now.
                profiles = [snapshot(current, p.id, p.name) if p.id == settings.active_profile else p
                            for p in profiles]
        else:
            profile_id = settings.active_profile
        name = (request.name or "").strip()[:60] or _name(settings)
        profiles = [p for p in profiles if p.id != profile_id] + [snapshot(current, profile_id, name)]
        await self._patch({"profiles": [p.model_dump() for p in profiles], "active_profile": profile_id})
        return reply("settings", request, settings=await self.views.view())

    async def profile_select(self, request: Request) -> Message:
        """``profile.select {profile_id}``: chat uses that saved provider from the next message on."""
        assert isinstance(request, ProfileSelect)
        settings = await self.settings.load()
        target = next((p for p in settings.profiles if p.id == request.profile_id), None)
        if target is None:
            raise ProtocolError("not_found", "That provider is no longer saved: pick another.")
        if target.id != settings.active_profile:
            await self._keys_readable()
            current = settings.model_dump(mode="json")
            profiles = [p for p in settings.profiles if p.id != settings.active_profile]
            if settings.active_profile:
                profiles.append(snapshot(current, settings.active_profile, _name(settings)))
                await self._park(settings.active_profile)
            await self._unpark(target.id)
            kept = [p.model_dump() for p in _ordered(profiles, settings)]
            await self._patch({**target.fields, "profiles": kept, "active_profile": target.id})
        return reply("settings", request, settings=await self.views.view())

    async def profile_delete(self, request: Request) -> Message:
        """``profile.delete {profile_id}``: forget a saved provider and its key (not the active one)."""
        assert isinstance(request, ProfileDelete)
        settings = await self.settings.load()
        if request.profile_id == settings.active_profile:
            raise ProtocolError("bad_request", "Switch to another provider before removing this one.")
        await self._parked(request.profile_id).clear()
        profiles = [p.model_dump() for p in settings.profiles if p.id != request.profile_id]
        await self._patch({"profiles": profiles})
        return reply("settings", request, settings=await self.views.view())

    async def _keys_readable(self) -> None:
        """Refuse to move keys while the vault cannot be read: a locked vault reads as "no key",
        and parking that would forget the provider's key."""
        why = await self._key_unavailable() if self._key_unavailable is not None else None
        if why:
            raise ProtocolError("key_unavailable", f"Providers cannot be switched now: {why}")

    async def _park(self, profile_id: str) -> None:
        """The active key, into ``profile_id``'s own record (or that record emptied)."""
        stored = await self.keys.load()
        parked = self._parked(profile_id)
        if stored is None:
            await parked.clear()
        else:
            await parked.store(stored.key, stored.origins or ())

    async def _unpark(self, profile_id: str) -> None:
        """``profile_id``'s own key into the active slot, with the origins it was approved for."""
        parked = self._parked(profile_id)
        stored = await parked.load()
        if stored is None:
            await self.keys.clear()
        else:
            await self.keys.store(stored.key, stored.origins or ())

    async def _patch(self, patch: dict[str, Any]) -> Settings:
        try:
            return await self.settings.patch(patch, internal=True)
        except SettingsError as exc:
            raise ProtocolError("invalid_settings", f"Provider not switched: {exc}") from None

    # ------------------------------------------------------------------ models

    async def models_list(self, request: Request) -> Message:
        """``models.list``: ``GET {base}/models`` of the active provider, with its key where it is
        approved; the list is kept with the settings (and its profile) and pushed."""
        assert isinstance(request, ModelsList)
        settings = await self.settings.load()
        origin = origin_of(settings.api_base)
        key = await self.keys.for_origin(origin)
        preset = find_preset(settings.preset_id)
        transport = self._transport(frozenset({origin}))
        if transport is None:
            raise ProtocolError("unavailable", "There is no network transport in this runtime.")
        try:
            ids = await list_models(transport, provider_info(settings, key), bearer_token=key,
                                    with_timeout=self._with_timeout)
        except ModelClientError as error:
            message = explain_failure(error, preset, settings.base, model=settings.model,
                                      extension_origin=self._origin, has_key=key is not None) or str(error)
            raise ProtocolError("models", message) from None
        finally:
            await transport.aclose()
        if ids:
            await self._patch({"models": ids[:MAX_MODELS]})
        return reply("settings", request, settings=await self.views.view())


def _name(settings: Settings) -> str:
    current = next((p for p in settings.profiles if p.id == settings.active_profile), None)
    return current.name if current is not None else default_name(settings.preset_id, settings.base)


def _ordered(profiles: list[Profile], settings: Settings) -> list[Profile]:
    """Profiles in the order they were saved (a switch does not reorder the list)."""
    order = {p.id: i for i, p in enumerate(settings.profiles)}
    return sorted(profiles, key=lambda p: order.get(p.id, len(order)))
