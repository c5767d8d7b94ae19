"""What a turn sends: prompt items, model settings and the provider, per preset."""

from __future__ import annotations

import json

from background.chat.request import build_prompt, context_window, model_settings, provider_info, redact
from background.settings.model import Settings
from background.store.records import StoredConversation, StoredMessage
from modelclient import ReasoningItem
from tests.unit.background.kit import KEY, Harness


def conversation(model: str, effort: str | None = None) -> StoredConversation:
    reasoning = {"type": "reasoning", "id": "rs", "summary": [], "encrypted_content": "blob"}
    answer = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "A"}]}
    return StoredConversation(
        id="c",
        created_at=0,
        updated_at=0,
        model=model,
        reasoning_effort=effort,
        messages=[
            StoredMessage(
                id="u",
                role="user",
                created_at=0,
                text="Q",
                items=[{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Q"}]}],
            ),
            StoredMessage(
                id="a",
                role="assistant",
                created_at=0,
                text="A",
                items=[reasoning, answer, {"type": "message", "role": 5}],
            ),
            StoredMessage(id="p", role="assistant", created_at=0, streaming=True),
        ],
    )


def test_reasoning_items_go_back_only_to_models_that_reason() -> None:
    reasoning = build_prompt(conversation("gpt-5"), Settings())
    assert [type(i).__name__ for i in reasoning.input] == ["MessageItem", "ReasoningItem", "MessageItem"]
    assert isinstance(reasoning.input[1], ReasoningItem) and reasoning.input[1].encrypted_content == "blob"
    plain = build_prompt(conversation("gpt-4.1"), Settings())
    assert [type(i).__name__ for i in plain.input] == [
        "MessageItem",
        "MessageItem",
    ]  # the broken item is skipped


def test_model_settings_ignore_an_effort_this_client_does_not_know() -> None:
    assert model_settings(conversation("gpt-5", "high"), Settings()).reasoning_effort == "high"
    assert model_settings(conversation("gpt-5", "extreme"), Settings()).reasoning_effort is None


def test_an_effort_goes_only_to_a_model_that_takes_it() -> None:
    assert model_settings(conversation("gpt-5.2", "xhigh"), Settings()).reasoning_effort == "xhigh"
    assert model_settings(conversation("gpt-5.1", "none"), Settings()).reasoning_effort == "none"
    assert model_settings(conversation("gpt-5", "xhigh"), Settings()).reasoning_effort is None
    assert model_settings(conversation("gpt-5.1", "minimal"), Settings()).reasoning_effort is None
    assert model_settings(conversation("gpt-4o", "high"), Settings()).reasoning_effort is None
    assert model_settings(conversation("qwen3:8b", "high"), Settings()).reasoning_effort is None


def test_azure_gets_its_query_and_the_api_key_header() -> None:
    url = "https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview"
    provider = provider_info(Settings(provider="azure", base_url=url), KEY)
    assert provider.responses_url() == url
    assert provider.is_azure_responses_endpoint() and provider.http_headers == {"api-key": KEY}
    openai = provider_info(Settings(organization=" org-1 ", project=""), KEY)
    assert openai.http_headers is None and openai.organization == "org-1" and openai.project is None


def test_context_windows() -> None:
    assert context_window("gpt-5-mini") == 272_000 and context_window("gpt-4o-mini") == 128_000
    assert context_window("llama3") is None


def test_redact() -> None:
    assert redact({"a": [f"x{KEY}y", 3]}, KEY) == {"a": ["x…y", 3]}
    assert redact("same", None) == "same"


def test_an_azure_turn_through_the_app() -> None:
    h = Harness()
    h.ask(
        {
            "type": "settings.set",
            "id": 1,
            "patch": {"provider": "azure", "base_url": "res.openai.azure.com", "organization": "org"},
        }
    )
    h.ask({"type": "chat.send", "id": 2, "text": "hi"})
    request = h.transport.requests[0]
    assert request.url == "https://res.openai.azure.com/openai/v1/responses"
    assert request.headers["api-key"] == KEY and request.headers["OpenAI-Organization"] == "org"
    assert json.loads(request.body or b"{}")["store"] is True  # Azure rejects store: false
