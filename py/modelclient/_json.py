"""The one decoder for JSON that comes from a server: :func:`loads_untrusted`.

Every server-controlled JSON text in the model client (SSE event data, HTTP
error bodies) is decoded here, never with a bare ``json.loads``, because:

* **Depth.** In Pyodide, ``json.loads('[' * 100_000 + ']' * 100_000)``
  overflows the WebAssembly stack inside the C decoder: a fatal error that
  kills the interpreter, not a Python exception. (CPython raises
  ``RecursionError``, which is not a ``ValueError`` either.) Like serde_json,
  whose ``remaining_depth`` starts at 128, we refuse anything nested 128 levels
  or deeper, and we refuse it *before* decoding.
* **Constants.** serde_json refuses ``NaN`` / ``Infinity`` / ``-Infinity``;
  Python's ``json`` would accept them.

So a text is valid here exactly when Rust would parse it, as far as the client
cares, and nothing a server sends can crash the worker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_DEPTH", "loads_untrusted"]

#: The deepest nesting accepted (arrays and objects, the outermost included);
#: serde_json's limit, so 128 is refused.
MAX_DEPTH = 127

# A JSON string, or an unterminated one running to the end of the text. The
# second form keeps the scan linear: a string that never closes is swallowed
# once instead of being retried from every later quote. The brackets it hides
# are never reached by the decoder either (it stops at the bad string).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


_decode: Callable[[str], Any] = json.JSONDecoder(parse_constant=_reject_constant).decode


def too_deep(text: str) -> bool:
    """Whether ``text`` nests arrays / objects more than :data:`MAX_DEPTH` deep.

    Brackets inside JSON strings do not count. Linear in ``len(text)``; the
    common case (few brackets at all) is two C-level scans.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        else:
            depth -= 1
    return False


def loads_untrusted(text: str) -> Any:
    """Decode server-controlled JSON, refusing what serde_json would refuse.

    Raises:
        ValueError: ``text`` is not JSON, contains ``NaN`` / ``Infinity``, or
            nests 128 levels or deeper (checked before decoding, so it can
            never overflow the stack).
    """
    if too_deep(text):
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return _decode(text)
    except RecursionError as exc:  # unreachable after too_deep; belt and braces
        raise ValueError("JSON nested too deeply") from exc
