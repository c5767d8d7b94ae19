"""The background app: routes messages from panels and pages to handlers.

Every message is one JSON object with a ``type`` (and usually an ``id`` that the
reply echoes). Panels talk over a long-lived port; pages such as the options page
use one-shot runtime messages. Malformed or unknown messages get an ``error``
reply, never a crash. Work that outlives the call (streams) runs as a task and
holds the keep-alive while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from .host import Host
from .keepalive import KeepAlive

__all__ = ["PROTOCOL_VERSION", "App", "Message"]

PROTOCOL_VERSION = 1

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[Message | None]]
Spawn = Callable[[Coroutine[Any, Any, None]], object]
# open_stream(url, method, body) -> the response body, chunk by chunk.
OpenStream = Callable[[str, str, str | None], AsyncIterator[bytes]]


class ProtocolError(Exception):
    """A message we cannot act on; ``code`` goes into the error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class App:
    def __init__(
        self,
        host: Host,
        *,
        version: str,
        keepalive: KeepAlive | None = None,
        open_stream: OpenStream | None = None,
        spawn: Spawn = asyncio.ensure_future,
    ) -> None:
        self.host = host
        self.version = version
        self.keepalive = keepalive or KeepAlive(host.touch)
        self._open_stream = open_stream
        self._spawn = spawn
        self.ports: dict[int, str] = {}
        self._jobs: dict[int, Message] = {}
        self._handlers: dict[str, Handler] = {
            "ping": self._ping,
            "diag.stream": self._diag_stream,
            "diag.result": self._diag_result,
        }

    # ------------------------------------------------------------- host entry points

    def on_installed(self, reason: str) -> None:
        print(f"SidePy {self.version} installed ({reason})")

    def on_port_connect(self, port_id: int, name: str) -> None:
        self.ports[port_id] = name
        self._post(port_id, {"type": "hello", "v": PROTOCOL_VERSION, "version": self.version,
                             "boot": self.host.boot_info()})

    def on_port_disconnect(self, port_id: int) -> None:
        self.ports.pop(port_id, None)

    def on_port_message(self, port_id: int, text: str) -> None:
        """Handle one panel message; the reply (if any) is posted back on the port."""

        async def run() -> None:
            reply = await self.dispatch(text)
            if reply is not None:
                self._post(port_id, reply)

        self._spawn(run())

    async def on_runtime_message(self, text: str) -> str:
        """Handle one one-shot message and return the JSON reply."""
        reply = await self.dispatch(text)
        return json.dumps(reply if reply is not None else {"type": "ok"})

    # ---------------------------------------------------------------------- routing

    async def dispatch(self, text: str) -> Message | None:
        msg_id: object = None
        try:
            msg = parse_message(text)
            msg_id = msg.get("id")
            if msg["type"] == "heartbeat":
                return None  # its arrival alone kept the worker awake
            handler = self._handlers.get(msg["type"])
            if handler is None:
                raise ProtocolError("unknown_type", f"unknown message type {msg['type']!r}")
            return await handler(msg)
        except ProtocolError as exc:
            return {"type": "error", "id": msg_id, "code": exc.code, "message": str(exc)}
        except Exception as exc:  # a handler bug must answer, not kill the worker
            print(f"background: handler failed: {exc!r}", file=sys.stderr)
            return {"type": "error", "id": msg_id, "code": "internal", "message": str(exc)}

    def _post(self, port_id: int, message: Message) -> None:
        if not self.host.post(port_id, json.dumps(message)):
            self.ports.pop(port_id, None)

    # --------------------------------------------------------------------- handlers

    async def _ping(self, msg: Message) -> Message:
        return {
            "type": "pong",
            "id": msg.get("id"),
            "python": sys.version.split()[0],
            "platform": sys.platform,
            "boot": self.host.boot_info(),
        }

    async def _diag_stream(self, msg: Message) -> Message:
        """Read a URL to the end, holding the keep-alive unless told not to.

        Diagnostics for the worker-lifetime tests: with ``"background": true`` the
        read runs as a job and the reply comes at once; ``diag.result`` fetches the
        outcome later. A job id the app does not know means the worker restarted.
        """
        url, method, body = msg.get("url"), msg.get("method", "GET"), msg.get("body")
        if not isinstance(url, str) or not isinstance(method, str) or self._open_stream is None:
            raise ProtocolError("bad_request", "diag.stream needs a 'url' string")
        if body is not None and not isinstance(body, str):
            raise ProtocolError("bad_request", "diag.stream 'body' must be a string")
        job = len(self._jobs) + 1
        self._jobs[job] = {"type": "diag.stream.running", "id": msg.get("id"), "job": job}
        hold = bool(msg.get("keepalive", True))

        async def run() -> None:
            try:
                self._jobs[job] = await self._read_all(msg.get("id"), job, url, method, body, hold)
            except Exception as exc:
                self._jobs[job] = {"type": "error", "id": msg.get("id"), "job": job,
                                   "code": "internal", "message": str(exc)}
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

    async def _diag_result(self, msg: Message) -> Message:
        job = self._jobs.get(msg.get("job"))  # type: ignore[arg-type]
        if job is None:
            raise ProtocolError("unknown_job", "no such job: the worker was restarted since")
        return {**job, "id": msg.get("id")}


def parse_message(text: str) -> Message:
    try:
        msg = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ProtocolError("malformed", f"message is not JSON: {exc}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("malformed", "message must be a JSON object with a string 'type'")
    return msg
