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

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from modelclient import (
    ModelClientError,
    Transport,
    explain_failure,
    find_preset,
    list_models,
)

from ..errors import ProtocolError
from ..protocol import ModelsList, ProfileDelete, ProfileSave, ProfileSelect, Request, reply
from .credentials import Keys, origin_of
from .model import MAX_MODELS, KeySource, Settings, SettingsError, SettingsStore, provider_info
from .profiles import MAX_PROFILES, PROFILE_FIELDS, Profile, default_name, new_profile_id, snapshot
from .view import SettingsViews

__all__ = ["ProviderHandlers"]

Message = dict[str, Any]
#: A profile's parked key: the key source of its own vault record.
ParkedKeys = Callable[[str], KeySource]
WithTimeout = Callable[[Awaitable[Any], float], Awaitable[Any]]
_DEFAULTS = Settings().model_dump(mode="json")


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
        # One profile change at a time: each reads the settings and the key slot, then writes
        # both; two interleaved would file one provider's key under another.
        self._lock = asyncio.Lock()

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
        async with self._lock:
            return await self._profile_save(request)

    async def _profile_save(self, request: ProfileSave) -> Message:
        settings = await self.settings.load()
        current = settings.model_dump(mode="json")
        profiles = list(settings.profiles)
        active = settings.active_profile
        typed = (request.name or "").strip()[:60]
        if not request.new:
            if not active and len(profiles) >= MAX_PROFILES:
                raise ProtocolError("too_many", f"At most {MAX_PROFILES} providers can be saved.")
            profile_id = active or new_profile_id()
            name = typed or _name(settings)
            profiles = _replaced(profiles, snapshot(current, profile_id, name))
            await self._patch({"profiles": [p.model_dump() for p in profiles], "active_profile": profile_id})
            return reply("settings", request, settings=await self.views.view())
        # A new provider, starting as a copy of the active one without its key. The active one
        # keeps its profile (saved now under its usual name if it had none) and its key.
        kept = snapshot(current, active or new_profile_id(), _name(settings))
        profiles = _replaced(profiles, kept)
        if len(profiles) >= MAX_PROFILES:
            raise ProtocolError("too_many", f"At most {MAX_PROFILES} providers can be saved.")
        profile_id = new_profile_id()
        name = typed or default_name(settings.preset_id, settings.base)
        profiles.append(snapshot(current, profile_id, name))
        await self._keys_readable()
        await self._park(kept.id)  # its key stays its own (a copy: the slot is untouched so far)
        await self._patch({"profiles": [p.model_dump() for p in profiles], "active_profile": profile_id})
        try:
            await self.keys.clear()  # the new provider has none yet
        except Exception as exc:
            await self._restore(settings)
            raise ProtocolError("key_unavailable", f"No new provider was added: {exc}") from None
        return reply("settings", request, settings=await self.views.view())

    async def profile_select(self, request: Request) -> Message:
        """``profile.select {profile_id}``: chat uses that saved provider from the next message on."""
        assert isinstance(request, ProfileSelect)
        async with self._lock:
            return await self._profile_select(request)

    async def _profile_select(self, request: ProfileSelect) -> Message:
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
                # A copy of the active key into its profile's record: the slot keeps it until
                # the settings name the target, so a refused switch leaves both as they were.
                await self._park(settings.active_profile)
            kept = [p.model_dump() for p in _ordered(profiles, settings)]
            await self._patch({**_fields(target), "profiles": kept, "active_profile": target.id})
            try:
                await self._unpark(target.id)
            except Exception as exc:  # the key did not move: neither do the settings
                await self._restore(settings)
                raise ProtocolError("key_unavailable", f"Provider not switched: {exc}") from None
        return reply("settings", request, settings=await self.views.view())

    async def profile_delete(self, request: Request) -> Message:
        """``profile.delete {profile_id}``: forget a saved provider and its key (not the active one)."""
        assert isinstance(request, ProfileDelete)
        async with self._lock:
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
        """The active key, copied into ``profile_id``'s own record (or that record emptied)."""
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

    async def _restore(self, before: Settings) -> None:
        """The settings as they were before a switch whose key could not follow it."""
        await self.settings.patch(before.model_dump(mode="json", exclude={"schema_"}), internal=True)

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
        # The list is this server's: kept only if the settings still name it (a switch while
        # GET /models was under way must not give the new provider the old one's models).
        now = await self.settings.load()
        if ids and (now.active_profile, now.base_url) == (settings.active_profile, settings.base_url):
            await self._patch({"models": ids[:MAX_MODELS]})
        return reply("settings", request, settings=await self.views.view())


def _name(settings: Settings) -> str:
    current = next((p for p in settings.profiles if p.id == settings.active_profile), None)
    return current.name if current is not None else default_name(settings.preset_id, settings.base)


def _replaced(profiles: list[Profile], profile: Profile) -> list[Profile]:
    """``profiles`` with ``profile`` in its place (at the end if it is new)."""
    if any(p.id == profile.id for p in profiles):
        return [profile if p.id == profile.id else p for p in profiles]
    return [*profiles, profile]


def _fields(profile: Profile) -> dict[str, Any]:
    """The settings fields a switch to ``profile`` sets: its own, and the defaults for any it
    was saved without (nothing of the provider switched from stays behind)."""
    return {**{k: _DEFAULTS[k] for k in PROFILE_FIELDS if k in _DEFAULTS}, **profile.fields}


def _ordered(profiles: list[Profile], settings: Settings) -> list[Profile]:
    """Profiles in the order they were saved (a switch does not reorder the list)."""
    order = {p.id: i for i, p in enumerate(settings.profiles)}
    return sorted(profiles, key=lambda p: order.get(p.id, len(order)))
