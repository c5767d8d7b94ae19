"""A failed turn's advice: what to do, in the words of the provider it was sent to.

``modelclient.advise_failure`` knows the providers: a local server that is not
running and how to start it, Ollama's origin check (``OLLAMA_ORIGINS``), a model
the server does not have. A turn that fails asks it once, with the settings the
turn used; for a model the server does not have it first asks the server which
models it has (``GET /models``, the same origin and key the turn just used), so
the sentence can name them. The result rides on the turn's ``ErrorInfo`` as
``advice: {reason, text}``; the panel shows the text and offers the action the
reason calls for (panel.errors).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from modelclient import ModelClientError, Transport, advise_failure, find_preset, list_models

from ..settings.model import Settings
from .request import provider_info

__all__ = ["advise"]

WithTimeout = Callable[[Awaitable[Any], float], Awaitable[Any]]
LIST_TIMEOUT_S = 5.0  # the failure is already on its way to the user: do not hold it long


async def advise(error: ModelClientError, settings: Settings, *, model: str, key: str | None,
                 transport: Callable[[], Transport] | None, extension_origin: str = "",
                 with_timeout: WithTimeout | None = None) -> dict[str, str] | None:
    """``{reason, text}`` for ``error``, or None (ChatGPT sign-in, or nothing better to say)."""
    if settings.uses_chatgpt_base:
        return None  # the ChatGPT backend is no provider of the user's; its errors say enough
    preset = find_preset(settings.preset_id)

    def advice_for(models: list[str]) -> Any:
        return advise_failure(error, preset, settings.base, model=model, models=models,
                              extension_origin=extension_origin, has_key=key is not None)

    advice = advice_for([])
    if advice is not None and advice.reason == "unknown_model" and transport is not None:
        models = await _listed(settings, key, transport, with_timeout)
        if models:
            advice = advice_for(models)
    return {"reason": advice.reason, "text": advice.text} if advice is not None else None


async def _listed(settings: Settings, key: str | None, transport: Callable[[], Transport],
                  with_timeout: WithTimeout | None) -> list[str]:
    """The server's models, or [] when it will not say."""
    client = transport()
    try:
        return await list_models(client, provider_info(settings, key), bearer_token=key,
                                 with_timeout=with_timeout, timeout_s=LIST_TIMEOUT_S)
    except ModelClientError:
        return []
    finally:
        await client.aclose()
