"""The background app: routes messages from panels and pages to handlers.

Every message is one JSON object with a ``type`` (and usually an ``id`` that the
reply echoes). Panels talk over a long-lived port; pages such as the options page
use one-shot runtime messages. Malformed or unknown messages get an ``error``
reply, never a crash. Work that outlives the call (streams) runs as a task and
holds the keep-alive while it runs.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from modelclient import Transport

from .diag import Diagnostics, OpenStream, ProtocolError
from .host import Host
from .keepalive import KeepAlive

__all__ = ["PROTOCOL_VERSION", "App", "Message"]

PROTOCOL_VERSION = 1

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[Message | None]]
Spawn = Callable[[Coroutine[Any, Any, None]], object]


class App:
    def __init__(
        self,
        host: Host,
        *,
        version: str,
        keepalive: KeepAlive | None = None,
        open_stream: OpenStream | None = None,
        transport: Callable[[], Transport] | None = None,
        client_options: dict[str, Any] | None = None,
        spawn: Spawn = asyncio.ensure_future,
    ) -> None:
        self.host = host
        self.version = version
        self.keepalive = keepalive or KeepAlive(host.touch)
        self._spawn = spawn
        self.ports: dict[int, str] = {}
        self.diagnostics = Diagnostics(
            self.keepalive, spawn, open_stream=open_stream, transport=transport, client_options=client_options
        )
        self._handlers: dict[str, Handler] = {"ping": self._ping, **self.diagnostics.handlers()}

    # ------------------------------------------------------------- host entry points

    def on_installed(self, reason: str) -> None:
        print(f"SidePy {self.version} installed ({reason})")

    def on_port_connect(self, port_id: int, name: str) -> None:
        self.ports[port_id] = name
        self._post(
            port_id,
            {"type": "hello", "v": PROTOCOL_VERSION, "version": self.version, "boot": self.host.boot_info()},
        )

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


def parse_message(text: str) -> Message:
    try:
        msg = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ProtocolError("malformed", f"message is not JSON: {exc}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("malformed", "message must be a JSON object with a string 'type'")
    return msg
