"""Panel state machine: worker messages and user intents in, view state out.

Pure and clock-free: every call that needs time takes ``now`` (milliseconds, any
monotonic origin; the boot timer) and, where a countdown needs the wall clock,
``wall`` (epoch milliseconds). The same code runs in MicroPython (driven by the DOM
layer, panel.main) and in CPython tests. Messages are the JSON objects of
docs/protocol.md, already decoded.

Theory of operation:

* Inputs are ``receive(msg, now, wall)`` for everything from the worker or the relay,
  and one method per user intent (``send``, ``stop``, ``open_conversation`` ...).
* Outputs are attributes the renderer reads, per-section revision numbers in
  ``rev`` (so it repaints only what changed), and ``outbox``: the messages to post,
  which the DOM layer drains after every call.
* Requests carry an ``id`` and wait in ``_requests`` for their reply. A request made
  while the worker is not ready (booting, or restarting after it was stopped) is
  kept unsent and posted when ``hello`` arrives, in the order it was made; a request
  that was posted but not answered when the port dropped is posted again. So a
  message typed at any moment is never lost; ``chat.send`` carries a ``client_id`` so
  that a resend is recognised rather than doubled.

:class:`PanelState` is one object split by responsibility into mixins, one module
each (they share ``self``; each ``_init_*`` sets the attributes its module owns):

=======================  ====================================================
``panel.connection``     phases, requests and the outbox, ``hello``, status line
``panel.conv_list``      the conversations list, open/new/rename/delete/pin,
                         search, the model pickers, the storage line
``panel.turn``           ``chat.accepted`` and the ``turn.*`` pushes; stop,
                         regenerate, edit
``panel.composer``       send, templates, the page-context chip, exports
``panel.banners``        banners and countdowns, usage, rate limits
``panel.queue_view``     the worker's request queue: waiting messages, cancel
=======================  ====================================================

This module routes what arrives (``receive``) to them.
"""

from panel.banners import Banners
from panel.composer import EXPLAIN_PROMPT, MAX_MESSAGE_CHARS, SUMMARIZE_PROMPT, Composer
from panel.connection import (
    CLOSED,
    FAILED,
    PROTOCOL_VERSION,
    READY,
    RECONNECTING,
    RESEND,
    SECTIONS,
    STARTING,
    Connection,
)
from panel.conv_list import EFFORTS, ConversationList
from panel.queue_view import QueueView
from panel.turn import RESYNC_EVERY_MS, TurnView

# Re-exported: these names have always been importable from panel.state.
__all__ = [
    "CLOSED",
    "EFFORTS",
    "EXPLAIN_PROMPT",
    "FAILED",
    "MAX_MESSAGE_CHARS",
    "PROTOCOL_VERSION",
    "READY",
    "RECONNECTING",
    "RESEND",
    "RESYNC_EVERY_MS",
    "SECTIONS",
    "STARTING",
    "SUMMARIZE_PROMPT",
    "PanelState",
]


class PanelState(Connection, ConversationList, TurnView, Composer, Banners, QueueView):
    """The panel's whole state (see the module docstring)."""

    def __init__(self, now, session=None):
        self._init_connection(now, session)
        self._init_list()
        self._init_composer()
        self._init_banners()
        self._init_queue()

    def receive(self, msg, now, wall=None):
        """Apply one message from the worker (or the relay)."""
        if wall is None:
            wall = now
        kind = msg.get("type")
        rid = msg.get("id")
        entry = self._requests.pop(rid, None) if rid is not None and kind != "pong" else None
        if kind == "boot.status":
            self._boot_status(msg, now)
        elif kind == "hello":
            self._hello(msg, entry, wall)
        elif kind == "pong":
            sent = self._pending_pings.pop(rid, None)
            self.python = msg.get("python") or self.python
            if sent is not None:
                self.ping_result = "pong from Python %s in %d ms" % (self.python, now - sent)
                self._touch("footer")
        elif kind == "port.connected":
            self._answered = False
            if self.phase != CLOSED:
                self._send_hello()
        elif kind == "port.disconnected":
            self._disconnected(now)
        elif kind == "port.closed":
            self.phase = CLOSED
            self.error = "SidePy was updated or removed: close and reopen the panel."
            self._touch("status", "composer")
        elif kind == "error":
            self._error_reply(msg, entry)
        elif kind == "conv.list":
            self._conv_list(msg, entry)
        elif kind == "conv.state":
            self._conv_state(msg, entry)
        elif kind == "conv.export":
            self._export_reply(msg, entry)
        elif kind == "chat.accepted":
            self._accepted(msg, entry)
        elif kind == "chat.stopped":
            pass  # turn.stopped (a push) carries the partial reply
        elif kind == "chat.cancelled":
            self._cancelled(msg, entry)
        elif kind == "queue.state":
            self._queue_state(msg)
        elif kind == "page.context":
            self._page_context(msg, entry)
        elif kind == "page.selection":
            if msg.get("context"):
                self.context = msg.get("context")
                self._touch("composer")
        elif kind == "settings":
            if msg.get("settings"):
                before = self.settings.get("active_profile")
                self.settings = msg["settings"]
                self._touch("header", "composer")
                if self._models_asked and self.settings.get("active_profile") != before:
                    self.refresh_models(quiet=True)  # another provider: its server's models
        elif kind is not None and kind.startswith("turn."):
            self._turn(msg, now, wall)
