"""The vault's record names: one place, so no two parts of the worker store under the same name."""

from __future__ import annotations

__all__ = ["API_KEY", "CHATGPT_AUTH", "ORIGINS_SUFFIX", "origins_record", "profile_key_record"]

API_KEY = "api_key"  # the API key (background.vault.handlers.VaultKeySource)
CHATGPT_AUTH = "chatgpt_auth"  # the ChatGPT sign-in's auth.json (background.accounts)
# A key's approved origins (background.settings.credentials): a JSON list, in the record
# "<key record>.origins", sealed like the key (so only the vault's owner can change them).
ORIGINS_SUFFIX = ".origins"


def profile_key_record(profile_id: str) -> str:
    """Where a saved provider keeps its own key while another provider is active
    (background.settings.providers); its origins go in ``origins_record`` of it."""
    return f"{API_KEY}.{profile_id}"


def origins_record(record: str) -> str:
    """The record holding the approved origins of the key in ``record``."""
    return record + ORIGINS_SUFFIX
