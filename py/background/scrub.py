"""The last line of defence: no credential leaves the worker in anything it posts or logs.

Handlers never put a key or a token in a reply on purpose; this catches the
accidents (an exception text, a server's echo). The one intentional exit, the
options page's ``vault.reveal``, spells the secret in base64 so it passes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Scrubber", "redact"]


class Scrubber:
    """Replaces the API key in use and the ChatGPT tokens in use with ``…``.

    Args:
        tokens: the ChatGPT tokens in use right now (JWTs: nothing to escape).
    """

    def __init__(self, tokens: Callable[[], Iterable[str]] = tuple) -> None:
        self._tokens = tokens
        self._secret: str | None = None

    def remember(self, key: str) -> None:
        """Scrub ``key`` from everything posted or logged from now on."""
        self._secret = key

    def __call__(self, text: str) -> str:
        secret = self._secret
        if secret:
            text = text.replace(secret, "…").replace(json.dumps(secret)[1:-1], "…")
        for token in self._tokens():
            text = text.replace(token, "…")
        return text


def redact(value: Any, secret: str | None) -> Any:
    """``value`` with every occurrence of ``secret`` in its strings replaced by ``…``."""
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, "…")
    if isinstance(value, dict):
        return {k: redact(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret) for v in value]
    return value
