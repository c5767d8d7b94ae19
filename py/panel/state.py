"""Panel state: worker messages and user intents in, view state out.

Pure and clock-free: every call that needs time takes ``now`` (milliseconds, any
monotonic origin; the boot timer) and, where a countdown needs the wall clock,
``wall`` (epoch milliseconds). The same code runs in MicroPython (driven by the DOM
layer, panel.main) and in CPython tests. Messages are the JSON objects of
docs/protocol.md, already decoded.

:class:`PanelState` is composed of parts that own their state, each given the parts
it needs in its constructor and unit-tested alone:

=====================  =================================================================
``rev``                :class:`panel.connection.Revisions`, the sections' repaint counters
``conn``               :class:`panel.connection.Connection`: phase, requests, ``hello``
``banners``            :class:`panel.banners.Banners`: what went wrong and what to do
``setup``              :class:`panel.setup.Setup`: the settings as the panel needs them,
                       and whether SidePy can answer yet (the setup card)
``usage``              :class:`panel.usage.Usage`: tokens and rate limits
``turn``               :class:`panel.turn.Turn`: the conversation shown, the reply being
                       written, stop / regenerate / edit, the status line's words
``convs``              :class:`panel.conv_list.ConversationList`: the list, search,
                       open / new / rename / delete / pin
``attachments``        :class:`panel.attachments.Attachments`: the screenshots and files
                       attached to the next message (chips), and the viewer
``composer``           :class:`panel.composer.Composer`: send, templates, page context,
                       exports
``queue``              :class:`panel.queue_view.QueueView`: the worker's request queue
``providers``          :class:`panel.providers.Providers`: the saved providers' switcher
                       and the active one's model list, refreshed from its server
=====================  =================================================================

This class routes what arrives (``receive``) to the part it is for — a reply to the
part that asked (its request's ``kind``), a push to the part that owns it — and holds
the few intents that involve several parts (``stop``, ``retry``). The DOM layer calls
the parts' own intents directly (``state.composer.send``, ``state.convs.open`` ...),
drains ``take_outbox()`` after every call and repaints the sections whose ``rev``
moved.
"""

from panel import errors
from panel.attachments import KINDS as ATTACH_REQUESTS
from panel.attachments import Attachments
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
    Revisions,
)
from panel.conv_list import ConversationList
from panel.conversation import SHOWN_NEW_CHAT, Conversation
from panel.providers import Providers
from panel.queue_view import QueueView
from panel.setup import Setup
from panel.turn import EFFORTS, RESYNC_EVERY_MS, Turn
from panel.usage import Usage

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

_TURN_REQUESTS = ("send", "regenerate", "edit")


class PanelState:
    """The panel's whole state (see the module docstring)."""

    def __init__(self, now, session=None):
        self.rev = Revisions()
        self.conn = Connection(self.rev, now, session)
        self.banners = Banners(self.rev)
        self.setup = Setup(self.rev)
        self.usage = Usage(self.rev)
        self.turn = Turn(self.conn, self.rev, self.banners, self.setup, self.usage)
        self.convs = ConversationList(self.conn, self.rev, self.turn)
        self.attachments = Attachments(self.conn, self.rev, self.banners)
        self.composer = Composer(self.conn, self.rev, self.turn, self.banners, self.setup, self.attachments)
        self.queue = QueueView(self.conn, self.rev, self.convs)
        self.providers = Providers(self.conn, self.rev, self.banners, self.setup)
        # Nothing is known until the worker's hello: show no empty chat meanwhile.
        self.turn.conv.loading = True
        self._restoring = None  # the conversation a reload restores, until the worker has answered

    # ------------------------------------------------------------- plumbing

    @property
    def conv(self):
        return self.turn.conv

    @property
    def phase(self):
        return self.conn.phase

    @property
    def ready(self):
        return self.conn.ready

    def take_outbox(self):
        return self.conn.take_outbox()

    # --------------------------------------------------------------- routing

    def receive(self, msg, now, wall=None):
        """Apply one message from the worker (or the relay)."""
        if wall is None:
            wall = now
        kind = msg.get("type") or ""
        entry = self.conn.answer(msg)
        self.turn.clock = now
        if kind.startswith("turn."):
            left = self.turn.push(msg, now, wall)
            if left is not None:
                self.queue.left(left)
            if kind == "turn.error":
                self._server_wait(wall)
        elif kind == "relay.hello":
            self.restore(msg.get("shown"))
        elif kind == "boot.status":
            self.conn.boot_status(msg, now)
        elif kind == "hello":
            self._hello(msg, entry, wall)
        elif kind == "port.connected":
            self.conn.connected(self.conv.id)
        elif kind == "port.disconnected":
            self.conn.disconnected(now)
        elif kind == "port.closed":
            self.conn.closed("SidePy was updated or removed: close and reopen the panel.")
        elif kind == "error":
            self._error(msg, entry)
        elif kind == "conv.list":
            self.convs.listed(msg, entry)
        elif kind == "conv.state":
            self.turn.conv_state(msg, entry)
        elif kind == "conv.export":
            if entry is not None:
                self.composer.exported(msg, entry)
        elif kind == "chat.accepted":
            if entry is not None and not self.turn.accepted(msg, entry, now):
                self.queue.queued_locally(msg, entry["msg"].get("text") or "")
        elif kind == "chat.cancelled":
            text = self.queue.cancelled(msg, entry)
            if text:
                self.composer.put_back(text)
        elif kind == "queue.state":
            self.queue.state(msg)
            self._server_wait(wall)
        elif kind == "page.context":
            if entry is not None:
                self.composer.page_context(msg, entry)
        elif kind == "page.selection":
            self.composer.selection_pushed(msg.get("context"))
        elif kind == "settings":
            self._settings(msg.get("settings"))
        elif kind == "attach.added":
            if entry is not None:
                self.attachments.added(msg, entry)
        elif kind == "attach.data":
            self.attachments.got(msg)
        # chat.stopped: turn.stopped (a push) carries the partial reply.

    def restore(self, cid):
        """Show conversation ``cid`` (the one on screen before a reload) once the worker answers;
        ``"new"``: the new chat the user had opened stays (not the latest conversation)."""
        if not cid or self.conv.id is not None or self.conv.messages:
            return
        if cid == SHOWN_NEW_CHAT:
            self.conv.fresh = True
            return
        conv = Conversation(cid)
        conv.loading = True
        self.turn.show(conv)
        self._restoring = conv

    def _hello(self, msg, entry, wall):
        adopt = self.conn.hello(msg, entry)
        if self.conn.phase == CLOSED:
            return
        self._settings(msg.get("settings"))
        self.convs.hello(msg)
        self.usage.set_limits(msg.get("limits"), wall)
        self.queue.state(msg.get("queue"))
        if adopt:
            active = msg.get("active")
            if active is None and self._restoring and self.conv is self._restoring:
                self.turn.show(Conversation())  # restored after a reload, but deleted meanwhile
            self._restoring = None
            self.turn.adopt(active)
        for posted in self.conn.flush():
            self.turn.posted(posted)
        self.providers.opened(entry)
        self.rev.all()

    def _server_wait(self, wall):
        """A reply that failed on a limit: its "Try again" counts down the wait the server asked
        for (the request queue holds until then)."""
        failed = self.banners.get("turn")
        hold = self.queue.queue_hold
        if failed is None or failed.get("cause") != "busy" or hold is None or hold.get("source") == "spacing":
            return
        if (hold.get("until") or 0) > wall and failed.get("until") != hold["until"]:
            failed["until"] = hold["until"]
            self.rev.touch("banners")

    def _settings(self, view):
        if not view:
            return
        fixed = self.setup.update(view)
        failed = self.banners.get("turn")
        if "model" in fixed and failed is not None and failed.get("cause") == "model" and self.conv.id:
            # The model was fixed in the settings: "Try again" asks the new one, not the
            # model this conversation failed with.
            self.turn.set_model(view.get("model") or "")
        self.banners.clear(*fixed)
        self.providers.followed(view)

    def _error(self, msg, entry):
        if entry is None:
            if self.conn.settled(msg.get("id")):
                return  # a request already settled (e.g. also delivered by the relay after a restart)
            self.banners.show("worker", errors.explain_request(msg))
            return
        kind = entry["kind"]
        if kind in _TURN_REQUESTS:
            self.turn.refused(entry)
            self.composer.unsend(entry)
        elif kind == "open":
            conv = entry["data"]["conv"]
            conv.loading = False
            conv.resync = None
            self.rev.touch("messages")
        elif kind == "export" and msg.get("code") == "unknown_type":
            self.composer.export_refused(entry)
            return
        elif kind == "search":
            self.convs.search_failed()
            return
        elif kind == "cancel":
            self.queue.cancel_refused(entry)
        elif kind in ("profile", "models"):
            self.providers.refused(msg, entry)
            return
        elif kind in ATTACH_REQUESTS:
            self.attachments.refused(entry, msg)  # it says why, under its own key
            return
        self.banners.show("request", errors.explain_request(msg))

    # ------------------------------------------------- intents across parts

    def stop(self):
        """Stop: a send still waiting for the worker is taken back, else the reply is stopped."""
        if not self.composer.take_back():
            self.turn.stop()

    def escape(self):
        """Escape in the panel: cancel an edit, else stop a reply. True when it did something."""
        if self.turn.editing is not None:
            self.composer.cancel_edit()
            return True
        if self.conv.busy and not self.conv.stopping:
            self.stop()
            return True
        return False

    @property
    def queued_here(self):
        return self.queue.queued_in(self.conv.id)

    def can_regenerate(self):
        return self.turn.can_regenerate(self.queued_here)

    def regenerate(self):
        self.turn.regenerate(self.queued_here)

    def retry(self):
        self.turn.retry(self.queued_here)

    def act(self, action):
        """A banner's button (``settings`` and ``model`` are the DOM layer's: they open or focus)."""
        if action == errors.RETRY:
            self.retry()
        elif action == errors.NEW_CHAT:
            self.convs.new_chat()

    # ------------------------------------------------------------------ outputs

    def status_text(self, now, wall=None):
        if wall is None:
            wall = now
        # "Ready" means the worker is up (a contract of the status hook); the setup card,
        # not the status line, says when there is no model to talk to yet.
        return self.conn.status_text(now) or self.turn.status_text(now, wall) or "Ready"

    @property
    def ticking(self):
        """The status line counts (a restart, a reply under way): repaint it each second."""
        return self.conn.phase in (STARTING, RECONNECTING) or self.conv.turn_id is not None

    @property
    def counting_down(self):
        return self.banners.counting_down or self.usage.limits is not None or self.queue.queue_counting

    @property
    def needs_setup(self):
        """Show the setup card: nothing to talk to yet, and nothing on screen."""
        return self.setup.needs_setup and not self.conv.messages and not self.conv.loading
