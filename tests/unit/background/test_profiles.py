"""Provider profiles: names, snapshots, and which wire API a profile's requests use."""

from __future__ import annotations

import pytest

from background.settings.profiles import Profile, default_name, effective_wire, new_profile_id, snapshot


@pytest.mark.parametrize(
    ("preset", "choice", "detected", "wire"),
    [
        ("openai", "auto", None, "responses"),
        ("deepseek", "auto", None, "chat"),
        ("ollama", "auto", "responses", "chat"),  # the preset knows better than an old detection
        ("custom", "auto", "chat", "chat"),
        ("custom", "auto", None, "responses"),
        ("custom", "responses", "chat", "responses"),  # the user's choice wins
    ],
)
def test_effective_wire(preset: str, choice: str, detected: str | None, wire: str) -> None:
    assert effective_wire(preset, choice, detected) == wire  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("preset", "url", "name"),
    [
        ("openai", "https://api.openai.com/v1", "OpenAI"),
        ("ollama", "http://localhost:11434/v1", "Ollama on this machine"),
        ("ollama", "http://gpu-box:11434/v1", "Ollama"),
        ("custom", "https://llm.example.com/v1", "llm.example.com"),
        ("", "https://openrouter.ai/api/v1", "OpenRouter"),
    ],
)
def test_default_name(preset: str, url: str, name: str) -> None:
    assert default_name(preset, url) == name


def test_snapshot_keeps_only_the_providers_fields_and_no_key() -> None:
    settings = {"preset": "groq", "base_url": "https://api.groq.com/openai/v1", "model": "llama-3.3",
                "models": ["a"], "instructions": "be brief", "key": {"set": True},
                "wire_api": "auto"}  # fmt: skip
    profile = snapshot(settings, new_profile_id(), "Groq")
    assert set(profile.fields) == {"preset", "base_url", "model", "models", "wire_api"}
    assert profile.view() == {"id": profile.id, "name": "Groq", "preset": "groq", "model": "llama-3.3"}
    assert Profile.model_validate(profile.model_dump()) == profile
