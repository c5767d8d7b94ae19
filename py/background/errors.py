"""The one error a request handler raises: :class:`ProtocolError`.

Its ``code`` goes into the ``error`` reply (docs/protocol.md lists the codes) and
its message is a sentence the user can act on; nothing the sender sent is echoed.
"""

from __future__ import annotations

__all__ = ["ProtocolError"]


class ProtocolError(Exception):
    """A message we cannot act on; ``code`` goes into the error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
