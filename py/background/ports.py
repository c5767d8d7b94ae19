"""The open pages' ports: which are connected, what each panel shows, and posting to them.

Side panels and options pages hold a long-lived Port to the worker; the extension
page's relay.js names it (``options`` for the options page, which the sandboxed UI
cannot change). This table lives in memory only: the worker may be stopped at any
moment, and the relay then reconnects and the panel says again what it shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["OPTIONS_PORT", "Ports"]

OPTIONS_PORT = "options"

Message = dict[str, Any]


class Ports(dict[int, str]):
    """Port id → its name (a panel's, or :data:`OPTIONS_PORT`), plus posting to them.

    A dict, so callers read the connected ports as before (``port in ports``,
    ``ports.items()``). Everything posted goes through ``scrub`` first, the app's last
    line of defence against a secret leaving the worker. A port that cannot be posted
    to has gone away and is forgotten at once.
    """

    def __init__(self, post: Callable[[int, str], bool], scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._post = post
        self._scrub = scrub
        self.showing: dict[int, str] = {}  # port -> the conversation that panel shows

    def forget(self, port_id: int) -> None:
        self.pop(port_id, None)
        self.showing.pop(port_id, None)

    def is_panel(self, port_id: int | None) -> bool:
        """A request over ``port_id`` came from a panel: any port but the options page's
        (unknown ports count as panels; ``None``, a one-shot message, does not)."""
        return port_id is not None and self.get(port_id) != OPTIONS_PORT

    def post(self, port_id: int, message: Message) -> None:
        if not self._post(port_id, self._scrub(json.dumps(message))):
            self.forget(port_id)

    def broadcast(self, message: Message) -> None:
        """Post to every connected panel."""
        for port_id, name in list(self.items()):
            if name != OPTIONS_PORT:
                self.post(port_id, message)

    def show(self, port_id: int | None, conversation_id: str) -> None:
        """Remember that the panel on ``port_id`` (if still connected) shows ``conversation_id``."""
        if port_id is not None and port_id in self:
            self.showing[port_id] = conversation_id

    def sink(self, conversation_id: str) -> Callable[[Message], bool]:
        """Where a turn's events go: every panel that shows ``conversation_id``."""

        def send(message: Message) -> bool:
            for port_id in [p for p, shown in self.showing.items() if shown == conversation_id]:
                self.post(port_id, message)
            return True  # a port cannot push back; a gone panel reloads from storage

        return send
