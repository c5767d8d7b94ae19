"""Scripts as JSON, for the HTTP control endpoints (``POST /_mock/script``).

A browser e2e test or another process drives the server with the same scripts
the Python API builds, written as JSON. Two forms:

- a preset, named after a builder of ``_scripts.py`` with its keyword arguments::

      {"preset": "http_error", "kind": "rate_limit", "retry_after": 2, "times": 2}

- explicit steps::

      {"steps": [{"op": "turn", "text": "Hi", "end": "open"}, {"op": "cut"}]}
      {"status": 500, "body": {"error": {"message": "boom", "type": "server_error"}}}

Both take the common keys ``times``, ``headers``, ``delay_ms``, ``label``,
``endpoint``, ``status`` and ``codex_rate_limits`` / ``openai_rate_limits``
(``true`` or an object of keyword arguments for the header builders).

Fixture paths are confined to the server's fixture folders: the control API is
reachable by any page on this machine, and replay must not become a file reader.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._headers import codex_rate_limit_headers, openai_rate_limit_headers
from ._scripts import (
    Script,
    cut_reply,
    error_event_reply,
    failed_reply,
    find_fixture,
    http_error,
    incomplete_reply,
    malformed_reply,
    replay,
    slow_drip,
    stall_reply,
    text_reply,
)
from ._steps import (
    MALFORMED_EVENT,
    Chunking,
    Cut,
    Drip,
    ErrorEvent,
    Event,
    Failed,
    Raw,
    Replay,
    Sleep,
    Stall,
    Start,
    Step,
    Turn,
)

__all__ = ["PRESETS", "ScriptError", "scripts_from_json"]


class ScriptError(ValueError):
    """A JSON script could not be understood (answered with HTTP 400)."""


PRESETS: dict[str, Callable[..., Script]] = {
    "text": text_reply,
    "failed": failed_reply,
    "incomplete": incomplete_reply,
    "error_event": error_event_reply,
    "http_error": http_error,
    "replay": replay,
    "slow_drip": slow_drip,
    "cut": cut_reply,
    "stall": stall_reply,
    "malformed": malformed_reply,
}
"""JSON preset name → builder; the other keys of the object are its keyword arguments."""

# Steps whose JSON keys are exactly their dataclass fields.
_PLAIN_STEPS: dict[str, type[Any]] = {
    "sleep": Sleep,
    "chunk": Chunking,
    "cut": Cut,
    "stall": Stall,
    "start": Start,
    "failed": Failed,
    "error": ErrorEvent,
}

_COMMON = ("times", "headers", "delay_ms", "label", "endpoint", "status")


def scripts_from_json(obj: Any, *, fixture_dirs: Sequence[Path]) -> list[Script]:
    """Read one script, a list of scripts, or ``{"scripts": [...]}``."""
    if isinstance(obj, Mapping) and "scripts" in obj:
        obj = obj["scripts"]
    items = obj if isinstance(obj, list) else [obj]
    return [_script(item, fixture_dirs) for item in items]


def _script(obj: Any, dirs: Sequence[Path]) -> Script:
    if not isinstance(obj, Mapping):
        raise ScriptError(f"a script must be a JSON object, not {type(obj).__name__}")
    kwargs = dict(obj)
    common = {key: kwargs.pop(key) for key in _COMMON if key in kwargs}
    headers = dict(common.pop("headers", None) or {})
    header_builders: tuple[tuple[str, Callable[..., dict[str, str]]], ...] = (
        ("codex_rate_limits", codex_rate_limit_headers),
        ("openai_rate_limits", openai_rate_limit_headers),
    )
    for key, header_builder in header_builders:
        spec = kwargs.pop(key, None)
        if spec:
            headers.update(_call(header_builder, spec if isinstance(spec, Mapping) else {}, key))
    times = common.get("times")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool)):
        raise ScriptError("'times' must be an integer >= 1 or null")
    script: Script
    if "preset" in kwargs:
        name = kwargs.pop("preset")
        builder = PRESETS.get(name)
        if builder is None:
            raise ScriptError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
        if name == "replay":
            kwargs["path"] = str(_fixture(kwargs.get("path"), dirs))
            kwargs["fixture_dirs"] = []
        script = _call(builder, kwargs, f"preset {name!r}")
    else:
        script = _explicit(kwargs, dirs)
    configured: Script = _call(script.with_options, {"headers": headers, **common}, "options")
    return configured


def _explicit(kwargs: dict[str, Any], dirs: Sequence[Path]) -> Script:
    steps = [_step(step, dirs) for step in kwargs.pop("steps", [])]
    body = kwargs.pop("body", None)
    content_type = kwargs.pop("content_type", "application/json")
    if kwargs:
        raise ScriptError(f"unknown script keys: {', '.join(sorted(kwargs))}")
    if body is None:
        return Script(tuple(steps), label="steps")
    if steps:
        raise ScriptError("a script has either steps (a stream) or a body, not both")
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return Script(body=data, content_type=content_type, label="body")


def _step(obj: Any, dirs: Sequence[Path]) -> Step:
    if not isinstance(obj, Mapping) or "op" not in obj:
        raise ScriptError(f"a step must be an object with an 'op', not {obj!r}")
    kwargs = dict(obj)
    op = kwargs.pop("op")
    if op in _PLAIN_STEPS:
        step: Step = _call(_PLAIN_STEPS[op], kwargs, f"step {op!r}")
        return step
    if op == "event":
        return Event(kwargs["data"], kwargs.get("name"))
    if op == "raw":
        if "base64" in kwargs:
            return Raw(base64.b64decode(kwargs["base64"]))
        return Raw(str(kwargs.get("text", "")).encode())
    if op == "malformed":
        return Raw(MALFORMED_EVENT)
    if op == "replay":
        path = _fixture(kwargs.get("path"), dirs)
        return Replay(str(path), float(kwargs.get("event_delay_ms", 0)))
    if op == "drip":
        payload = kwargs.pop("payload", None)
        drip: Drip = _call(Drip, kwargs, "step 'drip'")
        if payload is not None:
            drip = Drip(drip.interval_ms, drip.duration_ms, str(payload).encode())
        return drip
    if op == "turn":
        interleave = {
            int(after): tuple(_step(s, dirs) for s in steps)
            for after, steps in (kwargs.pop("interleave", None) or {}).items()
        }
        turn: Turn = _call(Turn, {**kwargs, "interleave": interleave}, "step 'turn'")
        return turn
    raise ScriptError(
        f"unknown step op {op!r}; known: event, raw, malformed, replay, drip, turn, "
        + ", ".join(_PLAIN_STEPS)
    )


def _fixture(path: Any, dirs: Sequence[Path]) -> Path:
    if not isinstance(path, str) or not path:
        raise ScriptError("replay needs a 'path' (a file name in a fixture folder)")
    try:
        return find_fixture(path, dirs, confine=True)
    except FileNotFoundError as exc:
        raise ScriptError(str(exc)) from exc


def _call(func: Callable[..., Any], kwargs: Mapping[str, Any], what: str) -> Any:
    try:
        return func(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ScriptError(f"{what}: {exc}") from exc
