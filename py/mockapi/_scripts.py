"""Scripts: what the mock server answers to one request, and ready-made ones.

A :class:`Script` is either a plain HTTP reply (``body`` set: a JSON error, say) or
a stream (``body`` is ``None``): a ``text/event-stream`` whose body is produced by
running ``steps`` (see ``_steps.py``). The builders below (``text_reply``,
``http_error``, ``replay``, …) return the scripts tests need; ``_control.py``
reads the same scripts from JSON for the HTTP control endpoints.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import EllipsisType
from typing import Any

from ._headers import codex_rate_limit_headers
from ._payloads import http_error_parts
from ._steps import (
    _ERROR_EVENT_MESSAGE,
    KEEPALIVE,
    MALFORMED_EVENT,
    Chunking,
    Cut,
    Drip,
    ErrorEvent,
    Failed,
    Raw,
    Replay,
    Stall,
    Start,
    Step,
    Turn,
)

__all__ = [
    "Script",
    "cut_reply",
    "default_fixture_dirs",
    "error_event_reply",
    "failed_reply",
    "find_fixture",
    "http_error",
    "incomplete_reply",
    "malformed_reply",
    "replay",
    "slow_drip",
    "stall_reply",
    "text_reply",
]

# -- scripts ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Script:
    """What the server answers to one request (or ``times`` requests; ``None`` = until reset).

    Fields:
        steps: the stream body, when ``body`` is ``None``.
        status: HTTP status (stream or plain reply).
        headers: extra response headers (``x-codex-*``, ``Retry-After``, ``x-request-id``…).
        body: a plain reply body (JSON error); ``None`` makes this a stream.
        content_type: content type of ``body``.
        delay_ms: wait before sending the status line (latency to first byte).
        label: recorded with each request it answers.
        endpoint: ``"responses"`` or ``"models"``: which requests may consume it.
    """

    steps: Sequence[Step] = ()
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"
    delay_ms: float = 0
    times: int | None = 1
    label: str = "script"
    endpoint: str = "responses"

    @property
    def streams(self) -> bool:
        """Whether the reply is an SSE stream (rather than a plain body)."""
        return self.body is None

    def with_options(
        self,
        *,
        times: int | EllipsisType | None = ...,
        headers: Mapping[str, str] | None = None,
        delay_ms: float | None = None,
        label: str | None = None,
        endpoint: str | None = None,
        status: int | None = None,
    ) -> Script:
        """A copy with some fields changed; ``headers`` are merged over the current ones."""
        changes: dict[str, Any] = {}
        if not isinstance(times, EllipsisType):
            changes["times"] = times
        if headers:
            changes["headers"] = {**self.headers, **headers}
        for name, value in (
            ("delay_ms", delay_ms), ("label", label), ("endpoint", endpoint), ("status", status)
        ):
            if value is not None:
                changes[name] = value
        return dataclasses.replace(self, **changes)


# -- fixtures ---------------------------------------------------------------------------------

_REPO = Path(__file__).resolve().parents[2]


def default_fixture_dirs() -> list[Path]:
    """The recorded streams of the repository's test corpus (``tests/corpus/responses/sse``)."""
    folder = _REPO / "tests" / "corpus" / "responses" / "sse"
    return [folder] if folder.is_dir() else []


def find_fixture(path: str | os.PathLike[str], dirs: Sequence[Path], *, confine: bool) -> Path:
    """Resolve a fixture path.

    Without ``confine`` a path that exists as given wins, then each of ``dirs``.
    With ``confine`` (paths from the HTTP control API, which any local page can
    reach) only files inside ``dirs`` are allowed.
    """
    given = Path(path)
    candidates = [] if confine else [given]
    candidates += [d / given for d in dirs]
    for candidate in candidates:
        real = candidate.resolve()
        if confine and not any(real.is_relative_to(d.resolve()) for d in dirs):
            continue
        if real.is_file():
            return real
    where = ", ".join(str(d) for d in dirs) or "no fixture folder"
    raise FileNotFoundError(f"fixture {str(path)!r} not found ({where})")


# -- builders ---------------------------------------------------------------------------------


def _chunked(steps: list[Step], size: int | None, delay_ms: float) -> tuple[Step, ...]:
    return tuple([Chunking(size, delay_ms), *steps] if size else steps)


def text_reply(
    text: str | None = None,
    *,
    deltas: Sequence[str] | None = None,
    delta_delay_ms: float = 0,
    chunk_size: int | None = None,
    chunk_delay_ms: float = 0,
) -> Script:
    """A normal streamed text reply; ``text=None`` echoes the last user message."""
    turn = Turn(text, deltas=deltas, delta_delay_ms=delta_delay_ms)
    return Script(_chunked([turn], chunk_size, chunk_delay_ms), label="text")


def failed_reply(
    code: str = "server_error",
    *,
    message: str | None = None,
    retry_in: str = "1.5s",
    partial_text: str | None = None,
) -> Script:
    """``response.failed`` with ``code`` (rate_limit_exceeded, context_length_exceeded,
    insufficient_quota, server_error…), after ``partial_text`` deltas if given."""
    first: Step = Turn(partial_text, end="open") if partial_text else Start()
    return Script((first, Failed(code, message, retry_in)), label=f"failed:{code}")


def incomplete_reply(
    reason: str = "max_output_tokens", *, text: str | None = None, in_completed: bool = False
) -> Script:
    """A text reply that ends with ``response.incomplete`` (``incomplete_details.reason``),
    or with ``in_completed`` a ``response.completed`` whose ``status`` is ``incomplete``."""
    end = "completed_incomplete" if in_completed else "incomplete"
    return Script((Turn(text, end=end, reason=reason),), label=f"incomplete:{reason}")


def error_event_reply(
    code: str = "server_error",
    *,
    message: str = _ERROR_EVENT_MESSAGE,
    shape: str = "flat",
    partial_text: str | None = None,
) -> Script:
    """An ``error`` event and then the end of the body, with no terminal ``response.*``."""
    first: Step = Turn(partial_text, end="open") if partial_text else Start()
    return Script((first, ErrorEvent(code, message, shape)), label=f"error_event:{code}")


def http_error(
    kind: str = "server_error",
    *,
    message: str | None = None,
    retry_after: float | str | None = None,
    retry_after_ms: float | None = None,
    plan_type: str = "plus",
    resets_in_seconds: int = 3600,
    retry_in: str = "20s",
    rate_limit_headers: bool = True,
    model: str | None = None,
) -> Script:
    """A plain (non-stream) error reply with an OpenAI-shaped JSON body.

    ``kind`` is one of :data:`~mockapi._payloads.HTTP_ERROR_KINDS`: ``rate_limit``,
    ``usage_limit_reached`` (with ``x-codex-*`` headers at 100 % unless
    ``rate_limit_headers`` is false), ``insufficient_quota``, ``invalid_api_key``,
    ``invalid_request``, ``server_error`` (500), ``bad_gateway`` (502),
    ``service_unavailable`` / ``server_overloaded`` (503), …
    ``retry_after`` / ``retry_after_ms`` add ``Retry-After`` / ``retry-after-ms``;
    ``model`` names the model in the texts that mention one (``model_not_found``).
    """
    extra: dict[str, Any] = {} if model is None else {"model": model}
    status, body = http_error_parts(
        kind, message=message, plan_type=plan_type,
        resets_in_seconds=resets_in_seconds, retry_in=retry_in, **extra,
    )
    headers: dict[str, str] = {}
    if kind == "usage_limit_reached" and rate_limit_headers:
        headers.update(codex_rate_limit_headers(
            primary_used_percent=100.0, primary_reset_after_seconds=resets_in_seconds,
            plan_type=plan_type, active_limit="codex",
        ))
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    data = json.dumps(body, indent=2).encode()
    return Script(status=status, headers=headers, body=data, label=f"http_error:{kind}")


def replay(
    path: str | os.PathLike[str],
    *,
    event_delay_ms: float = 0,
    chunk_size: int | None = None,
    chunk_delay_ms: float = 0,
    fixture_dirs: Sequence[Path] | None = None,
) -> Script:
    """Replay a recorded ``.sse`` file (a path, or a name in the corpus stream folder)."""
    dirs = default_fixture_dirs() if fixture_dirs is None else fixture_dirs
    found = find_fixture(path, dirs, confine=False)
    steps: list[Step] = [Replay(str(found), event_delay_ms)]
    return Script(_chunked(steps, chunk_size, chunk_delay_ms), label=f"replay:{found.name}")


def slow_drip(
    *,
    interval_ms: float = 1000,
    duration_ms: float = 45000,
    payload: bytes | str = KEEPALIVE,
    text: str | None = None,
) -> Script:
    """Send ``payload`` (an SSE comment) every ``interval_ms`` for ``duration_ms``, then reply."""
    data = payload.encode() if isinstance(payload, str) else payload
    steps: tuple[Step, ...] = (Start(), Drip(interval_ms, duration_ms, data), Turn(text))
    return Script(steps, label="slow_drip")


def cut_reply(after_deltas: int = 2, *, text: str | None = None) -> Script:
    """Start a reply, then drop the connection after ``after_deltas`` deltas."""
    return Script((Turn(text, interleave={after_deltas: (Cut(),)}),), label="cut")


def stall_reply(after_deltas: int = 1, *, text: str | None = None) -> Script:
    """Start a reply, then go silent (connection open) after ``after_deltas`` deltas."""
    return Script((Turn(text, interleave={after_deltas: (Stall(),)}),), label="stall")


def malformed_reply(after_deltas: int = 1, *, text: str | None = None) -> Script:
    """A full reply with one event of invalid JSON after ``after_deltas`` deltas."""
    turn = Turn(text, interleave={after_deltas: (Raw(MALFORMED_EVENT),)})
    return Script((turn,), label="malformed")
