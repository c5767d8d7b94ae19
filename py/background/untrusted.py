"""The one decoder for JSON that enters the worker: messages, imports, storage, page results.

Why not ``json.loads``: in Pyodide, ``json.loads("[" * 100_000)`` overflows the
WebAssembly stack inside the C decoder. That is a fatal error which kills the
interpreter, not a Python exception, so one hostile message (or an imported file,
or a damaged storage record) would take the whole worker down. Everything
decoded here is refused *before* decoding when it nests deeper than the model
client's limit (:data:`modelclient._json.MAX_DEPTH`, serde_json's) or is longer
than the caller's size limit, and ``NaN`` / ``Infinity`` are refused as JSON
has no such values.
"""

from __future__ import annotations

from typing import Any

from modelclient._json import MAX_DEPTH, loads_untrusted

__all__ = ["MAX_DEPTH", "MAX_MESSAGE_CHARS", "UntrustedInput", "decode", "decode_message"]

#: A message's size limit: the largest request is ``conv.import`` (its text may be
#: 50 M characters, :data:`background.protocol.MAX_IMPORT_CHARS`), plus its envelope.
MAX_MESSAGE_CHARS = 50_001_000


class UntrustedInput(ValueError):
    """Refused input; the message says why in words (never the input itself)."""


def decode(text: object, *, max_chars: int, what: str = "the data") -> Any:
    """Decode untrusted JSON ``text`` of at most ``max_chars`` characters.

    Raises:
        UntrustedInput: not text, too long, nested too deeply, or not JSON.
    """
    if not isinstance(text, str):
        raise UntrustedInput(f"{what} is not text")
    if len(text) > max_chars:
        raise UntrustedInput(f"{what} is too large ({len(text):,} characters; the limit is {max_chars:,})")
    try:
        return loads_untrusted(text)
    except ValueError as exc:
        if "nested" in str(exc):
            raise UntrustedInput(f"{what} is nested more than {MAX_DEPTH} levels deep") from None
        raise UntrustedInput(f"{what} is not valid JSON ({_where(exc)})") from None


def decode_message(text: object) -> Any:
    """A message from a port or a one-shot ``chrome.runtime`` message."""
    return decode(text, max_chars=MAX_MESSAGE_CHARS, what="the message")


def _where(exc: ValueError) -> str:
    """``json``'s position info without the text it quotes."""
    pos = getattr(exc, "pos", None)
    msg = getattr(exc, "msg", None)
    if isinstance(msg, str) and isinstance(pos, int):
        return f"{msg} at character {pos}"
    return "cannot be decoded"
