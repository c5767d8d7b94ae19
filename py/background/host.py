"""What the background app needs from its host (the service worker, or a test).

The service worker's JavaScript glue implements these with ``chrome.*`` calls
(see :mod:`background.main`); tests implement them with plain Python objects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["Host", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]


class Host(Protocol):
    """The browser side of the app."""

    def post(self, port_id: int, text: str) -> bool:
        """Send one JSON message to a connected panel; False if it has gone away."""
        ...

    async def touch(self) -> None:
        """Call a cheap extension API so Chrome counts the worker as active."""
        ...

    def boot_info(self) -> dict[str, object]:
        """How the worker booted: state, phases (name, ms since start), Python version."""
        ...
