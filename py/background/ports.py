"""The open pages' ports: which are connected, their sender kind, what each panel shows.

Side panels and options pages hold a long-lived Port to the worker. Each port's
kind (``panel``, ``options``, …: :mod:`background.router`) is what
``extension/background.js`` decided from the sender when it connected, never the
port's name. Only panels get conversation traffic (turn events, ``conv.list``,
``queue.state``); only panels and options pages get settings pushes; a port of
any other kind is kept only to refuse what it sends. This table lives in memory
only: the worker may be stopped at any moment, and the relay then reconnects and
the panel says again what it shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["Ports"]

Message = dict[str, Any]


class Ports(dict[int, str]):
    """Port id → its sender kind, plus posting to them.

    Everything posted goes through ``scrub`` first, the last line of defence
    against a secret leaving the worker. A port that cannot be posted to has
    gone away and is forgotten at once.
    """

    def __init__(self, post: Callable[[int, str], bool], scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._post = post
        self._scrub = scrub
        self.showing: dict[int, str] = {}  # port -> the conversation that panel shows

    def forget(self, port_id: int) -> None:
        self.pop(port_id, None)
        self.showing.pop(port_id, None)

    def of_kind(self, *kinds: str) -> list[int]:
        """The connected ports of these sender kinds."""
        return [port_id for port_id, kind in self.items() if kind in kinds]

    def post(self, port_id: int, message: Message) -> None:
        if not self._post(port_id, self._scrub(json.dumps(message))):
            self.forget(port_id)

    def broadcast(self, message: Message) -> None:
        """Post to every connected panel."""
        for port_id in self.of_kind("panel"):
            self.post(port_id, message)

    def show(self, port_id: int | None, conversation_id: str) -> None:
        """Remember that the panel on ``port_id`` (if still connected) shows ``conversation_id``."""
        if port_id is not None and self.get(port_id) == "panel":
            self.showing[port_id] = conversation_id

    def sink(self, conversation_id: str) -> Callable[[Message], bool]:
        """Where a turn's events go: every panel that shows ``conversation_id``."""

        def send(message: Message) -> bool:
            for port_id in [p for p, shown in self.showing.items() if shown == conversation_id]:
                self.post(port_id, message)
            return True  # a port cannot push back; a gone panel reloads from storage

        return send
