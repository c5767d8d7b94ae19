"""Settings: base URL normalisation, field errors, atomic saves, the key's mask."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from background.settings.model import (
    SETTINGS_KEY,
    MemoryKeySource,
    Settings,
    SettingsError,
    SettingsStore,
    mask_key,
    normalise_base_url,
    validate_key,
)
from background.store.storage import MemoryStore, Records
from tests.support.aio import run_loop, run_sync
from tests.unit.background.kit import KEY, KEY_VIEW, NO_KEY_VIEW, Harness


@pytest.mark.parametrize(
    ("given", "provider", "base", "query"),
    [
        ("", "openai", "https://api.openai.com/v1", ""),
        ("https://api.openai.com/v1", "openai", "https://api.openai.com/v1", ""),
        ("https://api.openai.com/v1/", "openai", "https://api.openai.com/v1", ""),
        ("https://api.openai.com/v1/responses", "openai", "https://api.openai.com/v1", ""),
        ("https://api.openai.com", "openai", "https://api.openai.com/v1", ""),
        ("  HTTPS://api.openai.com/v1  ", "openai", "https://api.openai.com/v1", ""),
        ("api.openai.com/v1", "openai", "https://api.openai.com/v1", ""),
        ("localhost:11434", "compatible", "http://localhost:11434/v1", ""),
        ("127.0.0.1:8080/v1/responses/", "compatible", "http://127.0.0.1:8080/v1", ""),
        ("http://127.0.0.1:5000/v1", "compatible", "http://127.0.0.1:5000/v1", ""),
        ("https://gw.example.com/openai/v1/responses", "compatible", "https://gw.example.com/openai/v1", ""),
        ("https://res.openai.azure.com", "azure", "https://res.openai.azure.com/openai/v1", ""),
        (
            "https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview",
            "azure",
            "https://res.openai.azure.com/openai",
            "api-version=2025-04-01-preview",
        ),
    ],
)
def test_base_urls_are_normalised(given: str, provider: Any, base: str, query: str) -> None:
    assert normalise_base_url(given, provider) == (base, query)


@pytest.mark.parametrize(
    ("given", "provider", "says"),
    [
        ("ftp://example.com/v1", "openai", "http:// or https://"),
        ("https://api.openai.com/v1/completions", "openai", "legacy Completions"),
        ("", "compatible", "enter the server's URL"),
        ("https://exa mple.com/v1", "compatible", "spaces"),
        ("https://", "openai", "http:// or https://"),
    ],
)
def test_bad_base_urls_say_what_to_do(given: str, provider: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        normalise_base_url(given, provider)


def test_request_url_shows_exactly_where_turns_go() -> None:
    url = "https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview"
    settings = Settings(provider="azure", base_url=url)
    assert settings.request_url == url
    assert settings.query_params() == {"api-version": "2025-04-01-preview"}
    assert settings.view(NO_KEY_VIEW)["base_url"] == (
        "https://res.openai.azure.com/openai?api-version=2025-04-01-preview"
    )


def store() -> tuple[SettingsStore, MemoryStore]:
    memory = MemoryStore()
    return SettingsStore(Records(memory)), memory


def test_an_invalid_patch_names_each_field_and_saves_nothing() -> None:
    settings, memory = store()
    run_sync(settings.patch({"model": "gpt-5"}))
    before = memory.data[SETTINGS_KEY]
    with pytest.raises(SettingsError) as caught:
        run_sync(
            settings.patch(
                {
                    "model": "gpt-4o",
                    "idle_timeout_ms": 10,
                    "reasoning_effort": "max",
                    "base_url": "ftp://x",
                    "colour": "blue",
                }
            )
        )
    assert set(caught.value.fields) == {"colour"}  # unknown fields are refused first
    with pytest.raises(SettingsError) as caught:
        run_sync(
            settings.patch(
                {"model": "gpt-4o", "idle_timeout_ms": 10, "reasoning_effort": "max", "base_url": "ftp://x"}
            )
        )
    fields = caught.value.fields
    assert set(fields) == {"idle_timeout_ms", "reasoning_effort", "base_url"}
    assert "5000" in fields["idle_timeout_ms"] and "http" in fields["base_url"]
    assert memory.data[SETTINGS_KEY] == before
    assert run_sync(settings.load()).model == "gpt-5"


def test_settings_survive_a_restart_and_read_only_view_fields_are_ignored() -> None:
    settings, memory = store()
    view = Settings().view({"set": True, "masked": "sk-…abcd"})
    view.update(model="o4-mini", templates=[{"name": "tldr", "prompt": "Summarise in 3 bullets"}])
    run_sync(settings.patch(view))  # a form sends the whole view back
    fresh = SettingsStore(Records(memory))
    loaded = run_sync(fresh.load())
    assert loaded.model == "o4-mini" and loaded.templates[0].name == "tldr"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"templates": [{"name": "a", "prompt": "x"}, {"name": "a", "prompt": "y"}]}, "templates"),
        ({"templates": [{"name": "Has Space", "prompt": "x"}]}, "templates"),
        ({"model": "gpt 5"}, "model"),
        ({"provider": "azure"}, "base_url"),  # still the OpenAI URL: say what Azure needs
        ({"provider": "other"}, "provider"),
        ({"stream_max_retries": 101}, "stream_max_retries"),
    ],
)
def test_field_errors(patch: dict[str, Any], field: str) -> None:
    settings, _ = store()
    with pytest.raises(SettingsError) as caught:
        run_sync(settings.patch(patch))
    assert field in caught.value.fields


def test_switching_back_to_openai_restores_its_url() -> None:
    settings, _ = store()
    run_sync(settings.patch({"provider": "compatible", "base_url": "localhost:1234"}))
    assert (
        run_sync(settings.patch({"provider": "openai"})).request_url == "https://api.openai.com/v1/responses"
    )


def test_a_damaged_settings_record_falls_back_to_defaults_and_is_reported() -> None:
    memory = MemoryStore()
    memory.data[SETTINGS_KEY] = "{oops"
    records = Records(memory)
    assert run_sync(SettingsStore(records).load()) == Settings()
    assert SETTINGS_KEY in records.problems and memory.data[SETTINGS_KEY] == "{oops"


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        (None, None),
        ("sk-proj-abcdefghijklmnop1234", "sk-…1234"),
        ("sk-abcdefghijklmnopWXYZ", "sk-…WXYZ"),
        ("azurekeyabcdefghij9876", "…9876"),
        ("short-key", "…"),
    ],
)
def test_mask_key(key: str | None, masked: str | None) -> None:
    assert mask_key(key) == masked


@pytest.mark.parametrize("bad", ["", "   ", "short", "sk-has space-inside", "sk-ünïcode-key-123", 42])
def test_validate_key_refuses_what_cannot_be_sent(bad: Any) -> None:
    with pytest.raises(SettingsError) as caught:
        validate_key(bad)
    assert "key" in caught.value.fields


def test_memory_key_source() -> None:
    keys = MemoryKeySource()
    run_sync(keys.set(KEY))
    assert run_sync(keys.get()) == KEY and keys.masked() == "sk-…WXYZ"
    run_sync(keys.clear())
    assert run_sync(keys.get()) is None and keys.masked() is None


# -------------------------------------------------------------- through the app


def test_settings_messages_round_trip_and_errors_have_fields() -> None:
    h = Harness(key=None)
    got = h.ask({"type": "settings.get", "id": 1})
    assert got["type"] == "settings" and got["settings"]["key"] == NO_KEY_VIEW
    assert got["settings"]["request_url"] == "https://api.openai.com/v1/responses"
    bad = h.ask({"type": "settings.set", "id": 2, "patch": {"idle_timeout_ms": "soon"}})
    assert bad["type"] == "error" and bad["code"] == "invalid_settings" and "idle_timeout_ms" in bad["fields"]
    ok = h.ask({"type": "settings.set", "id": 3, "patch": {"model": "gpt-4.1", "web_search": True}})
    assert ok["settings"]["model"] == "gpt-4.1" and ok["settings"]["web_search"] is True


def test_key_messages_store_the_key_and_only_show_its_mask() -> None:
    h = Harness(key=None)
    bad = h.ask({"type": "key.set", "id": 1, "key": "no"})
    assert bad["code"] == "invalid_settings" and "key" in bad["fields"]
    ok = h.ask({"type": "key.set", "id": 2, "key": f"  {KEY}\n"})
    assert ok["settings"]["key"] == KEY_VIEW and KEY not in json.dumps(ok)
    assert run_sync(h.keys.get()) == KEY
    cleared = h.ask({"type": "key.clear", "id": 3})
    assert cleared["settings"]["key"] == NO_KEY_VIEW


def test_web_search_setting_offers_the_tool() -> None:
    h = Harness()
    h.ask({"type": "settings.set", "id": 1, "patch": {"web_search": True, "instructions": "Be brief."}})
    h.ask({"type": "chat.send", "id": 2, "text": "news?"})
    body = json.loads(h.transport.requests[0].body or b"{}")
    assert body["tools"] == [{"type": "web_search"}] and body["instructions"] == "Be brief."


def test_a_key_source_that_refuses_gets_an_error_reply_not_a_crash() -> None:
    class Locked(Exception):
        code = "vault_locked"

    class LockedKeys(MemoryKeySource):
        async def set(self, key: str) -> None:
            raise Locked("the vault is locked: unlock it first")

        async def store(self, key: str, origins: object) -> None:
            raise Locked("the vault is locked: unlock it first")

        async def clear(self) -> None:
            raise Locked("the vault is locked: unlock it first")

    h = Harness(key=None, keys=LockedKeys())
    for message in ({"type": "key.set", "id": 1, "key": KEY}, {"type": "key.clear", "id": 2}):
        reply = h.ask(message)
        assert reply["type"] == "error" and reply["code"] == "vault_locked" and "unlock" in reply["message"]
        assert KEY not in json.dumps(reply)


class SlowStore(MemoryStore):
    """Writes take a few turns of the event loop, as chrome.storage's do."""

    async def set(self, items: dict[str, str]) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        await super().set(items)


def test_a_wire_kept_by_a_turn_does_not_undo_a_save_made_meanwhile() -> None:
    # A turn detects the wire API of the server it started on while the options page saves
    # another base URL: the page's save stands, and the other server's answer is not kept.
    async def both() -> Settings:
        store = SettingsStore(Records(SlowStore()))
        started_on = await store.patch({"preset": "custom", "base_url": "http://127.0.0.1:9/v1"})
        await asyncio.gather(store.patch({"base_url": "http://127.0.0.1:10/v1"}),
                             store.keep_detected_wire(started_on, "chat"))
        return await SettingsStore(store.records).load()  # as stored

    saved = run_loop(both())
    assert (saved.base_url, saved.detected_wire) == ("http://127.0.0.1:10/v1", None)
