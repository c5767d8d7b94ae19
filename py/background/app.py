"""The worker's front door: every browser event comes in here and goes to the router.

Every message is one JSON object with a ``type`` (and usually an ``id`` that the
reply echoes); docs/protocol.md is the contract. Panels and the options page
talk over long-lived ports; one-shot runtime messages get one reply. Each comes
with its sender's kind, decided by ``extension/background.js`` from what Chrome
says about the sender, and the :class:`~background.router.Router` refuses what
that kind may not send. Malformed or unknown messages get an ``error`` reply,
never a crash. Work that outlives the call (a reply being written) runs as a
task and holds the keep-alive.

The worker can be stopped at any moment, so nothing here is the truth: storage
is. :mod:`background.compose` builds the parts this class is given.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from .context import RequestContext, Tasks
from .errors import ProtocolError
from .page.selection import Selections
from .ports import Ports
from .protocol import PROTOCOL_VERSION, error_reply
from .router import Router, parse_message, unwrap
from .store.storage import StorageProblem

__all__ = ["PROTOCOL_VERSION", "App", "Message"]

Message = dict[str, Any]
Handler = Callable[[Message], Awaitable[Message | None]]
# Called with every handled request: (type, reply, port id); e.g. a settings change is pushed.
AfterRequest = Callable[[str, Message | None, int | None], None]


class App:
    """The service worker's entry points (called by ``extension/background.js`` via main).

    Args:
        greeters: sender kind -> what a newly connected port of that kind is sent.
        alarms: called with every ``chrome.alarms`` alarm's name.
        after_request: told of every handled request and its reply.
        scrub: the last line of defence on everything posted or logged.
    """

    def __init__(self, router: Router, ports: Ports, context: RequestContext, selections: Selections, *,
                 version: str, tasks: Tasks, scrub: Callable[[str], str],
                 greeters: Mapping[str, Callable[[int], Awaitable[None]]],
                 alarms: Sequence[Callable[[str], Awaitable[None]]] = (),
                 after_request: Sequence[AfterRequest] = ()) -> None:
        self.router = router
        self.ports = ports
        self.context = context
        self.selections = selections
        self.version = version
        self.tasks = tasks
        self._scrub = scrub
        self._greeters = dict(greeters)
        self._alarms = tuple(alarms)
        self._after_request = tuple(after_request)

    # ------------------------------------------------------------- host entry points

    def on_installed(self, reason: str) -> None:
        print(f"SidePy {self.version} installed ({reason})")
        self.selections.install_menu()

    async def on_alarm(self, name: str) -> None:
        """A ``chrome.alarms`` alarm fired (the vault's auto-lock, the request queue's hold)."""
        for handler in self._alarms:
            await handler(name)

    def on_port_connect(self, port_id: int, sender: str) -> None:
        """A port connected; ``sender`` is its kind as the JS glue classified it."""
        self.ports[port_id] = sender
        greet = self._greeters.get(sender)
        if greet is not None:
            self.tasks.guarded(greet(port_id))

    def on_port_disconnect(self, port_id: int) -> None:
        self.ports.forget(port_id)

    def on_port_message(self, port_id: int, text: str) -> None:
        """Handle one port message; the reply (if any) is posted back on the port."""
        sender = self.ports.get(port_id, "unknown")  # a port we never saw connect holds nothing

        async def run() -> None:
            with self.context.handling(port_id) as later:
                message = await self.dispatch(text, sender, port_id)
            if message is not None:
                self.ports.post(port_id, message)
            for start in later:
                start()

        self.tasks.spawn(run())

    async def on_runtime_message(self, text: str, sender: str) -> str:
        """Handle one one-shot message from a ``sender`` kind; return the JSON reply."""
        with self.context.handling(None) as later:
            message = await self.dispatch(text, sender, None)
        for start in later:
            start()
        return self._scrub(json.dumps(message if message is not None else {"type": "ok"}))

    def on_menu_click(self, info: str) -> None:
        """"Ask SidePy about selection" was chosen (the JS glue already opened the panel)."""
        self.selections.on_menu_click(info)

    def on_command(self, name: str, info: str) -> None:
        """A keyboard shortcut opened the panel; bring the tab's selection along if there is one."""
        self.selections.on_command(name, info)

    # ---------------------------------------------------------------------- routing

    async def dispatch(self, text: str, sender: str, port_id: int | None = None) -> Message | None:
        msg_id: object = None
        gesture = False
        if port_id is not None:  # only a port carries the relay's gesture form (router.unwrap)
            text, gesture = unwrap(text)
        try:
            msg = parse_message(text)
            msg_id = msg.get("id")
            kind = msg["type"]
            if kind == "heartbeat" and port_id is not None:
                return None  # its arrival alone kept the worker awake
            result = await self.router.handle(sender, msg, gesture=gesture)
            for hook in self._after_request:
                hook(kind, result, port_id)
            return result
        except ProtocolError as exc:
            return error_reply(msg_id, exc.code, str(exc))
        except StorageProblem as exc:
            return error_reply(msg_id, "storage_corrupt", str(exc))
        except Exception as exc:  # a handler bug must answer, not kill the worker
            print(f"background: handler failed: {self._scrub(repr(exc))}", file=sys.stderr)
            return error_reply(msg_id, "internal", self._scrub(str(exc)))


def ping_handler(boot_info: Callable[[], dict[str, object]]) -> Handler:
    """``ping``: the Python version and the worker's boot record (anyone trusted may ask)."""

    async def ping(msg: Message) -> Message:
        return {"type": "pong", "id": msg.get("id"), "python": sys.version.split()[0],
                "platform": sys.platform, "boot": boot_info()}

    return ping
