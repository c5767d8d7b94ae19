"""Diagnostics handlers: worker-lifetime and transport checks used by tests and benches.

They are ordinary messages (only our own extension pages can send them) and
exercise the real paths: a raw streaming read while holding the keep-alive, and
a full ``modelclient`` turn through the worker's transport.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from modelclient import (
    Completed,
    MessageItem,
    ModelClient,
    ModelClientError,
    ModelProviderInfo,
    ModelSettings,
    Prompt,
    RateLimits,
    Reconnecting,
    Transport,
    is_output_text_delta,
)

from .keepalive import KeepAlive

__all__ = ["Diagnostics", "OpenStream", "ProtocolError"]

Message = dict[str, Any]
# open_stream(url, method, body) -> the response body, chunk by chunk.
OpenStream = Callable[[str, str, str | None], AsyncIterator[bytes]]
Spawn = Callable[[Any], object]


class ProtocolError(Exception):
    """A message we cannot act on; ``code`` goes into the error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _str(msg: Message, key: str, default: str | None = None) -> str:
    value = msg.get(key, default)
    if not isinstance(value, str):
        raise ProtocolError("bad_request", f"{msg.get('type')} needs a '{key}' string")
    return value


class Diagnostics:
    def __init__(
        self,
        keepalive: KeepAlive,
        spawn: Spawn,
        *,
        open_stream: OpenStream | None = None,
        transport: Callable[[], Transport] | None = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.keepalive = keepalive
        self._spawn = spawn
        self._open_stream = open_stream
        self._transport = transport
        self._client_options = client_options or {}  # e.g. injected sleep/with_timeout in tests
        self._jobs: dict[int, Message] = {}

    def handlers(self) -> dict[str, Callable[[Message], Any]]:
        return {"diag.stream": self.stream, "diag.result": self.result, "diag.chat": self.chat}

    async def stream(self, msg: Message) -> Message:
        """Read a URL to the end, holding the keep-alive unless told not to.

        With ``"background": true`` the read runs as a job and the reply comes at
        once; ``diag.result`` fetches the outcome later. A job id the app does
        not know means the worker restarted in between.
        """
        url, method = _str(msg, "url"), _str(msg, "method", "GET")
        body = msg.get("body")
        if self._open_stream is None:
            raise ProtocolError("unavailable", "no streaming fetch in this runtime")
        if body is not None and not isinstance(body, str):
            raise ProtocolError("bad_request", "diag.stream 'body' must be a string")
        job = len(self._jobs) + 1
        self._jobs[job] = {"type": "diag.stream.running", "id": msg.get("id"), "job": job}
        hold = bool(msg.get("keepalive", True))

        async def run() -> None:
            try:
                self._jobs[job] = await self._read_all(msg.get("id"), job, url, method, body, hold)
            except Exception as exc:
                self._jobs[job] = {
                    "type": "error",
                    "id": msg.get("id"),
                    "job": job,
                    "code": "internal",
                    "message": str(exc),
                }
                print(f"background: job {job} failed: {exc!r}", file=sys.stderr)

        if msg.get("background"):
            self._spawn(run())
            return dict(self._jobs[job])
        await run()
        return self._jobs[job]

    async def _read_all(
        self, msg_id: object, job: int, url: str, method: str, body: str | None, hold: bool
    ) -> Message:
        assert self._open_stream is not None
        started = time.monotonic()
        total = chunks = 0
        async with self.keepalive.hold() if hold else contextlib.nullcontext():
            async for chunk in self._open_stream(url, method, body):
                total += len(chunk)
                chunks += 1
        return {
            "type": "diag.stream.done",
            "id": msg_id,
            "job": job,
            "bytes": total,
            "chunks": chunks,
            "seconds": round(time.monotonic() - started, 3),
            "keepalive_touches": self.keepalive.touches,
        }

    async def result(self, msg: Message) -> Message:
        job = self._jobs.get(msg.get("job"))  # type: ignore[arg-type]
        if job is None:
            raise ProtocolError("unknown_job", "no such job: the worker was restarted since")
        return {**job, "id": msg.get("id")}

    async def chat(self, msg: Message) -> Message:
        """One turn through ``modelclient`` and the worker's transport; a summary back."""
        if self._transport is None:
            raise ProtocolError("unavailable", "no transport in this runtime")
        provider = ModelProviderInfo(
            base_url=_str(msg, "base_url"), stream_idle_timeout_ms=msg.get("idle_timeout_ms")
        )
        client = ModelClient(
            self._transport(),
            settings=ModelSettings(model=_str(msg, "model", "gpt-4o-mini")),
            provider=provider,
            auth=msg.get("api_key") if isinstance(msg.get("api_key"), str) else None,
            **self._client_options,
        )
        text = _str(msg, "text")
        prompt = Prompt(input=[MessageItem(role="user", content=[{"type": "input_text", "text": text}])])
        kinds: list[str] = []
        deltas: list[str] = []
        reply: Message = {"type": "diag.chat.done", "id": msg.get("id")}
        started = time.monotonic()
        try:
            async with self.keepalive.hold(), client.stream_turn(prompt) as events:
                async for event in events:
                    kinds.append(type(event).__name__)
                    if is_output_text_delta(event):
                        deltas.append(event.delta)
                    elif isinstance(event, Reconnecting):
                        deltas.clear()  # the re-sent request starts over
                    elif isinstance(event, RateLimits):
                        reply["rate_limits"] = event.snapshot.to_json()
                    elif isinstance(event, Completed) and event.token_usage is not None:
                        reply["total_tokens"] = event.token_usage.total_tokens
        except ModelClientError as error:
            reply["error"] = error.to_json()
        reply.update(text="".join(deltas), events=kinds, seconds=round(time.monotonic() - started, 3))
        return reply
