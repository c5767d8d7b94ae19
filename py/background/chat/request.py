"""What a turn sends: the prompt from the conversation, the model and provider from settings.

Pure functions over records and settings, so the request a turn makes is easy to
test and to reason about: the conversation's raw items become the ``Prompt``,
the conversation's model / reasoning effort and the settings' provider preset
become ``ModelSettings`` and ``ModelProviderInfo``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from pydantic import ValidationError

from modelclient import (
    ModelProviderInfo,
    ModelSettings,
    Prompt,
    ResponseItem,
    WebSearchTool,
    find_preset,
    parse_item,
    reasoning_efforts,
)

from ..attachments.items import WireApi, with_attachments
from ..page.context import PAGE_RULES
from ..protocol import Effort
from ..scrub import redact
from ..settings.model import Settings
from ..store.records import StoredConversation

__all__ = ["build_prompt", "context_window", "model_settings", "provider_info", "redact"]

# Context windows of the families modelclient knows (Codex's model table); unknown models: None.
_CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("gpt-5", 272_000),
    ("codex-", 272_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
    ("gpt-oss", 96_000),
    ("gpt-3.5", 16_385),
)
_EFFORTS = frozenset(get_args(Effort))


def context_window(model: str) -> int | None:
    """The model's context window in tokens, if known."""
    return next((size for prefix, size in _CONTEXT_WINDOWS if model.startswith(prefix)), None)


def build_prompt(
    conversation: StoredConversation,
    settings: Settings,
    files: Mapping[str, bytes] | None = None,
    wire: WireApi = "responses",
) -> Prompt:
    """The whole history as items; the streaming placeholder, queued messages and unreadable
    items left out (a queued message waits for its own turn; see ``background.chat.queue``).

    Reasoning items go back only to models that reason: another family would
    reject their encrypted content after a model switch. A user message's
    attachments become content parts for ``wire`` from ``files`` (attachment id ->
    bytes; see :mod:`background.attachments.items`).
    """
    reasons = ModelSettings(model=conversation.model).family().supports_reasoning_summaries
    items: list[ResponseItem] = []
    for message in conversation.messages:
        if message.streaming or message.queued:
            continue
        for raw in message.items:
            # A Chat Completions server's reasoning has no encrypted state to send back.
            if raw.get("type") == "reasoning" and (not reasons or not raw.get("encrypted_content")):
                continue
            if message.attachments and raw.get("type") == "message" and raw.get("role") == "user":
                raw = with_attachments(raw, message.attachments, files or {}, wire, typed=bool(message.text))
            try:
                items.append(parse_item(raw))
            except ValidationError:
                continue  # kept in storage, not sendable: skip rather than fail the turn
    tools: list[Any] = [WebSearchTool()] if settings.web_search else []
    instructions = settings.instructions
    if any(m.context is not None for m in conversation.messages if m.role == "user"):
        instructions = f"{instructions}\n\n{PAGE_RULES}"  # the page blocks are data, not instructions
    return Prompt(input=items, tools=tools, base_instructions_override=instructions)


def model_settings(conversation: StoredConversation, settings: Settings) -> ModelSettings:
    """The conversation's model and effort with the settings' summary and verbosity.

    An effort the model does not take (``modelclient.reasoning_efforts``: the default
    ``minimal`` after a switch to ``gpt-5.1``, any effort for ``gpt-4o`` or a model
    modelclient does not know) is left out rather than refused by the server, as the
    panel's picker offers none.
    """
    effort = conversation.reasoning_effort
    if effort not in _EFFORTS or effort not in reasoning_efforts(conversation.model):
        effort = None
    return ModelSettings.model_validate({
        "model": conversation.model,
        "reasoning_effort": effort,
        "reasoning_summary": settings.reasoning_summary,
        "verbosity": settings.verbosity,
    })


def provider_info(settings: Settings, key: str | None) -> ModelProviderInfo:
    """Where requests go: the preset, base URL and query, retries, idle timeout."""
    return ModelProviderInfo(
        name="azure" if settings.provider == "azure" else "OpenAI",
        # None: the client's default for its auth, the ChatGPT backend with ChatGPT sign-in.
        base_url=None if settings.uses_chatgpt_base else settings.base,
        query_params=settings.query_params(),
        # Azure's key auth is the api-key header (Bearer also works on its v1 API).
        http_headers={"api-key": key} if settings.provider == "azure" and key else None,
        organization=settings.organization,
        project=settings.project,
        request_max_retries=settings.request_max_retries,
        stream_max_retries=settings.stream_max_retries,
        stream_idle_timeout_ms=settings.idle_timeout_ms,
        # Chat Completions for a server that speaks only that (settings.wire: chosen, preset, detected).
        wire_api=settings.wire,
        chat_include_usage=find_preset(settings.preset_id).chat_include_usage,
    )
