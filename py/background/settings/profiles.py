"""Provider profiles: the providers a user saved, and which one chat uses (sans-IO).

A profile is one saved provider — "OpenAI", "Ollama on this machine",
"OpenRouter" — with its preset, base URL, wire API, default model, the models
its server listed, and its own key (kept in the vault under the profile's name,
bound to the profile's origin). The settings keep the *active* profile's fields
at the top level, where every request reads them; the other profiles wait in
``Settings.profiles``. Switching copies the chosen profile's fields up and its
key into the active slot, and the left one's back, so no request path needs to
know profiles exist.

The wire API of a profile (:func:`effective_wire`): the user's choice if they
made one, else the preset's, else what Test connection or saving detected,
else the Responses API.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from modelclient import WireApi, find_preset, guess_preset

__all__ = [
    "MAX_PROFILES",
    "PROFILE_FIELDS",
    "Profile",
    "WireChoice",
    "default_name",
    "effective_wire",
    "new_profile_id",
    "snapshot",
]

WireChoice = Literal["auto", "responses", "chat"]
MAX_PROFILES = 20
#: The settings fields that belong to a profile (the rest are the user's, whatever the provider).
PROFILE_FIELDS = (
    "preset", "provider", "base_url", "wire_api", "detected_wire", "model", "models",
    "organization", "project",
)  # fmt: skip


class Profile(BaseModel):
    """One saved provider; ``fields`` holds the settings fields of :data:`PROFILE_FIELDS`."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=r"^p[0-9a-f]{8,32}$")
    name: str = Field(min_length=1, max_length=60)
    fields: dict[str, Any] = Field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        """What the panel's switcher and the options page's list show (no key, ever)."""
        preset = find_preset(str(self.fields.get("preset") or ""))
        return {"id": self.id, "name": self.name, "preset": preset.id, "model": self.fields.get("model")}


def new_profile_id() -> str:
    return "p" + secrets.token_hex(8)


def snapshot(settings: Mapping[str, Any], profile_id: str, name: str) -> Profile:
    """The profile of the settings' top-level (active) provider fields."""
    fields = {k: settings.get(k) for k in PROFILE_FIELDS if k in settings}
    return Profile(id=profile_id, name=name, fields=fields)


def default_name(preset_id: str, base_url: str) -> str:
    """A name for a new profile: the preset's label, "… on this machine" for a local server,
    the host for a custom one."""
    preset = find_preset(preset_id) if preset_id else guess_preset(base_url)
    host = urlsplit(base_url).hostname or base_url
    if preset.id == "custom":
        return host[:60] or "Custom"
    if preset.local and host in ("localhost", "127.0.0.1", "::1"):
        return f"{preset.label} on this machine"[:60]
    return preset.label[:60]


def effective_wire(preset_id: str, choice: WireChoice, detected: WireApi | None) -> WireApi:
    """The wire API requests use: the user's choice, the preset's, the detected one, else Responses."""
    if choice != "auto":
        return choice
    return find_preset(preset_id).wire_api or detected or "responses"
