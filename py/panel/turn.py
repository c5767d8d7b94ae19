"""The conversation on screen and the reply being written into it.

A part of :class:`panel.state.PanelState`. It owns ``conv`` (a
:class:`panel.conversation.Conversation`) and everything that happens to it:

* ``chat.accepted`` starts a turn; its pushes (``turn.*``, all carrying
  ``conversation_id`` and ``turn_id``) stream into ``conv``, which orders them by
  ``seq``. A missed batch asks ``conv.open`` for the persisted state (``_resync``),
  at most every ``RESYNC_EVERY_MS``. Pushes for other conversations are ignored:
  they are persisted, and seen when that conversation is opened;
* what the turn is doing, for the status line (:meth:`status_text`): Sending,
  Connecting, Thinking, Writing, Waiting n s for the rate limit, Reconnecting, or
  No data for n s — silence longer than ``stall_ms`` (well under the worker's idle
  timeout) offers Stop and Retry;
* the user's intents on it: stop (Escape), regenerate, retry (also after a
  stall: stop, then regenerate), edit a user message, the model and reasoning
  effort of this conversation;
* a failed reply's banner (``panel.errors``): shown once, in the banner, cleared by
  the next attempt or when its cause is fixed.
"""

from panel import errors, fmt
from panel.conversation import Conversation, user_from_view
from panel.setup import EFFORTS  # noqa: F401  (re-exported: panel.state has always offered it)

RESYNC_EVERY_MS = 2000
STALL_MS = 15000  # silence that offers Stop and Retry (the idle timeout is 300 s by default)
# The picker's words for the efforts whose names say little on their own.
EFFORT_LABELS = {"none": "No reasoning", "xhigh": "Extra high"}

SENDING = "sending"
CONNECTING = "connecting"
THINKING = "thinking"
WRITING = "writing"


class Turn:
    def __init__(self, conn, rev, banners, setup, usage):
        self.conn = conn
        self.rev = rev
        self.banners = banners
        self.setup = setup
        self.usage = usage
        self.conv = Conversation()
        self.editing = None  # key of the user message being edited (its text is in the composer)
        self.stage = None  # SENDING | CONNECTING | THINKING | WRITING while a reply is under way
        self.heard = 0  # local time of the last sign of life of the turn
        self.clock = 0  # local time of the latest message from the worker (the router sets it)
        self.wait = None  # {"until", "what": "rate" | "reconnect", "attempt", "of"} (wall clock)
        self._retry_when_stopped = False

    # ------------------------------------------------------------ the shown one

    def show(self, conv):
        """Show ``conv`` (a new chat, or one being opened)."""
        self.conv = conv
        self.editing = None
        self.stage = None
        self.wait = None
        self._retry_when_stopped = False
        self.banners.dismiss("turn")
        self.usage.set_last(None)
        self.rev.touch("messages", "header", "footer", "composer", "list")

    def load(self, view):
        """Replace the shown conversation's content with the worker's view of it."""
        conv = self.conv
        conv.load(view)
        if conv.turn_id is None:
            self.stage = None
            self.wait = None
        elif self.stage is None:
            # A reply already under way (a reconnect, or opened while it streams): silence
            # is counted from now, not from before we could hear it.
            self.stage = WRITING if conv.streaming is not None and conv.streaming.text else CONNECTING
            self.heard = self.clock
        last = None
        for m in conv.messages:
            if m.role == "assistant" and m.usage:
                last = m.usage
        self.usage.set_last(last)
        final = conv.last()
        failed = final is not None and final.role == "assistant" and final.error and conv.turn_id is None
        if failed and final.error.get("kind") != "incomplete":  # an incomplete one says why under it
            self._failed(final.error, final.model)  # the last reply failed: say why, once
        self.rev.touch("messages", "header", "footer", "composer")

    def adopt(self, active):
        """After a (re)connect: show the worker's view of the conversation."""
        conv = self.conv
        if active and active.get("id") == conv.id and conv.id is not None:
            self._settle_resends(active)
            self.load(active)
        elif conv.id is None and active and not conv.messages and not conv.fresh:
            self.load(active)  # a fresh panel shows the conversation it was showing (or the latest)
        else:
            # Keep the view: no ``active`` for our id means an unsaved draft, which a
            # chat.send with its id still creates.
            conv.loading = False
            self.rev.touch("messages")

    def _settle_resends(self, active):
        """Sends the worker took before it went away are not sent twice."""
        stored = {}
        last_user = None
        for v in active.get("messages") or []:
            if v.get("client_id"):
                stored[v["client_id"]] = True
            if v.get("role") == "user":
                last_user = v
        for entry in self.conn.pending("send", lambda e: not e["sent"] and e["data"]["conv"] is self.conv):
            same_text = (last_user is not None and not last_user.get("client_id")
                         and last_user.get("text") == entry["msg"]["text"])
            if stored.get(entry["data"]["client_id"]) or same_text:
                self.conn.forget(entry)

    def conv_state(self, msg, entry):
        """``conv.state``: a reply to our open / resync / settings, or a push."""
        view = msg.get("conversation") or {}
        if entry is None:
            if view.get("id") == self.conv.id and self.conv.id is not None:
                self.load(view)
            return
        data = entry["data"] or {}
        conv = data.get("conv")
        if conv is not self.conv or view.get("id") != conv.id:
            return  # the user moved on
        if entry["kind"] == "settings":
            conv.model = view.get("model") or conv.model
            conv.reasoning_effort = view.get("reasoning_effort")
            self.rev.touch("header")
            return
        if data.get("resync") is not None:
            conv.resync = None
            if conv.turn_id != data["resync"]:
                return  # that turn ended meanwhile and its final push said everything
        self.load(view)

    # ------------------------------------------------------------- sending

    def add_local(self, text, context, client_id, ready, attachments=None):
        """The composer's message, shown at once and marked pending until accepted."""
        local = user_from_view({"role": "user", "text": text, "context": context, "client_id": client_id,
                                "attachments": attachments or []})
        local.pending = "sending" if ready else "queued"
        self.conv.messages.append(local)
        self.conv.rev += 1
        self.banners.dismiss("turn")
        self.rev.touch("messages", "composer", "status")
        return local

    def posted(self, entry):
        """A send that waited for the worker went out now."""
        data = entry["data"] or {}
        if entry["kind"] == "send" and data.get("conv") is self.conv:
            m = self.conv.find(data["client_id"])
            if m is not None and m.pending:
                m.pending = "sending"
                m.rev += 1
                self.rev.touch("messages")

    def accepted(self, msg, entry, now):
        """``chat.accepted``: the turn starts (or waits in the worker's queue: False)."""
        data = entry["data"]
        conv = data["conv"]
        if conv is not self.conv:
            return True
        kind = entry["kind"]
        view = msg.get("user") or {}
        if conv.id is None:
            conv.id = msg.get("conversation_id")
            self.rev.touch("header")
        if msg.get("queued"):
            self._accepted_queued(entry)
            return False
        if kind == "send":
            m = conv.find(data["client_id"])
            if m is not None:
                m.update(view)
            if msg.get("duplicate"):
                # A resend the worker already had: its turn may be over or still running.
                conv.loading = True
                self.conn.request("open", {"type": "conv.open", "conversation_id": conv.id}, {"conv": conv})
                self.rev.touch("messages", "composer")
                return True
        else:
            if kind == "edit" and data.get("key") is not None:
                conv.drop_from(data["key"])
            else:
                conv.drop_after_last_user(kind == "edit")
            if kind == "regenerate" and conv.last("user") is not None:
                conv.last("user").update(view)
            else:
                conv.messages.append(user_from_view(view))
                conv.rev += 1
        conv.start_turn(msg.get("turn_id"))
        self.stage = CONNECTING
        self.heard = now
        self.wait = None
        self.rev.touch("messages", "composer", "footer", "status")
        return True

    def _accepted_queued(self, entry):
        """It waits in the worker's queue: it leaves the conversation for the queue list."""
        conv = entry["data"]["conv"]
        if entry["kind"] == "send":
            m = conv.find(entry["data"]["client_id"])
            if m is not None:
                conv.messages.remove(m)
        else:
            # regenerate: its question waits again; edit: the new text waits, the old one is gone
            conv.drop_after_last_user(True)
        conv.rev += 1
        self.stage = None
        self.rev.touch("messages", "composer", "status")

    def refused(self, entry):
        """The worker refused our send / regenerate / edit: the turn does not start."""
        data = entry["data"] or {}
        conv = data.get("conv")
        if entry["kind"] == "send" and conv is not None:
            m = conv.find(data["client_id"])
            if m is not None and m.pending:
                conv.messages.remove(m)
                conv.rev += 1
        if conv is self.conv and not conv.busy:
            self.stage = None
        self.rev.touch("messages", "composer", "status")

    # ------------------------------------------------------------- turn pushes

    def push(self, msg, now, wall):
        kind = msg.get("type")
        if kind == "turn.limits":
            self.usage.set_limits(msg.get("limits"), wall)
            return None
        conv = self.conv
        if msg.get("conversation_id") != conv.id or conv.id is None:
            return None  # a turn of another conversation: it is persisted, we see it when opened
        turn_id = msg.get("turn_id")
        if turn_id in conv.finished:
            return None
        self.heard = now
        left = None
        if kind == "turn.started":
            user = msg.get("user")
            if user:  # a message that waited in the queue: it comes into the conversation now
                left = user.get("id")
                m = conv.find(user.get("client_id") or user.get("id") or "")
                if m is None:
                    conv.messages.append(user_from_view(user))
                    conv.rev += 1
                else:
                    m.update(user)
            conv.started(turn_id, msg.get("assistant") or {})
            self.stage = CONNECTING
            self.wait = None
            self.banners.dismiss("turn")
        elif kind == "turn.delta" or kind == "turn.reasoning":
            if conv.chunk(msg):
                self._resync(now)
            if kind == "turn.delta":
                self.stage = WRITING
            elif self.stage != WRITING:
                self.stage = THINKING
            self.wait = None
        elif kind == "turn.search":
            if conv.streaming is not None:
                conv.streaming.add_search(msg.get("call_id"), msg.get("query"))
            if self.stage != WRITING:
                self.stage = THINKING
        elif kind == "turn.progress":
            stage = msg.get("stage")
            if stage in (CONNECTING, THINKING, WRITING):
                self.stage = stage
        elif kind == "turn.reconnecting":
            conv.restart_stream()
            self.stage = CONNECTING
            self.wait = {"until": wall + (msg.get("delay_ms") or 0), "what": "reconnect",
                         "attempt": msg.get("attempt"), "of": msg.get("max_attempts")}
        elif kind == "turn.waiting":
            self.wait = {"until": msg.get("until") or wall, "what": "rate"}
        elif kind in ("turn.done", "turn.stopped", "turn.error"):
            self._ended(kind, msg, turn_id)
        self.rev.touch("messages", "status")
        return left

    def _ended(self, kind, msg, turn_id):
        conv = self.conv
        final = conv.finish(turn_id, msg.get("assistant"))
        self.stage = None
        self.wait = None
        if kind == "turn.done":
            usage = msg.get("usage")
            if usage:
                if final is not None:
                    final.usage = usage
                self.usage.set_last(usage)
            if msg.get("session_usage"):
                conv.usage = msg["session_usage"]
            elif usage:
                conv.usage = fmt.add_usage(conv.usage, usage)
            if msg.get("context_left_percent") is not None:
                conv.context_left = msg["context_left_percent"]
            # A reply went through: what stood in its way is gone.
            self.banners.dismiss("turn")
            self.banners.clear("key", "server", "model", "busy", "reply", "context")
        elif kind == "turn.error":
            model = errors.model_of(msg.get("assistant"), conv.model or self.setup.model)
            self._failed(msg.get("error") or {}, model)
        else:
            self.banners.dismiss("turn")
        retry = self._retry_when_stopped
        self._retry_when_stopped = False
        self.rev.touch("footer", "composer")
        if retry:
            self.regenerate()

    def _failed(self, error, model):
        n = errors.explain(error, model)
        if n["action"] == errors.RETRY and not self.conv.id:
            n["action"] = None
        self.banners.show("turn", n)

    def _resync(self, now):
        conv = self.conv
        if conv.resync is not None:
            return
        if conv.resync_at is not None and now - conv.resync_at < RESYNC_EVERY_MS:
            return
        conv.resync_at = now
        data = {"conv": conv, "resync": conv.turn_id}
        conv.resync = self.conn.request("open", {"type": "conv.open", "conversation_id": conv.id}, data)

    # ------------------------------------------------------------- status

    @property
    def busy(self):
        return self.conv.busy

    def silent_ms(self, now):
        """How long the turn has said nothing (0 when there is no turn, or it waits on purpose)."""
        if self.conv.turn_id is None or self.wait is not None:
            return 0
        return max(0, now - self.heard)

    @property
    def stall_ms(self):
        return min(STALL_MS, self.setup.idle_timeout_ms // 4)

    def stalled(self, now):
        return self.silent_ms(now) >= self.stall_ms

    def status_text(self, now, wall):
        """What the reply is doing, in words; None when nothing is under way."""
        conv = self.conv
        if any(m.pending == "sending" for m in conv.messages):
            return "Sending…"
        if conv.turn_id is None:
            return None
        if self.wait is not None:
            left = fmt.countdown(self.wait["until"], wall)
            if self.wait["what"] == "rate":
                return "Waiting %s for the rate limit" % fmt.duration(left) if left > 0 else "Retrying…"
            if left > 0:
                return "Connection lost: retrying in %s (%s of %s)" % (
                    fmt.duration(left), self.wait.get("attempt"), self.wait.get("of"))
            return "Reconnecting…"
        if self.stalled(now):
            return "No data for %s" % fmt.duration(int(self.silent_ms(now) / 1000))
        if conv.stopping:
            return "Stopping…"
        if self.stage == WRITING:
            return "Writing…"
        if self.stage == THINKING:
            return "Thinking…"
        return "Connecting…"

    # ----------------------------------------------------------------- intents

    def stop(self):
        """Stop the reply (the composer's Stop, Escape). True when there was one to stop."""
        conv = self.conv
        if conv.id is None or not conv.busy or conv.stopping:
            return False
        conv.stopping = True
        self.conn.request("stop", {"type": "chat.stop", "conversation_id": conv.id}, {"conv": conv})
        self.rev.touch("composer", "messages", "status")
        return True

    def can_regenerate(self, queued=False):
        conv = self.conv
        if conv.id is None or conv.busy or self.conn.phase == "closed" or queued:
            return False
        return conv.last("user") is not None

    def regenerate(self, queued=False):
        if not self.can_regenerate(queued):
            return
        self.banners.dismiss("turn")
        self.conn.request("regenerate", {"type": "chat.regenerate", "conversation_id": self.conv.id},
                          {"conv": self.conv})
        self.stage = SENDING
        self.rev.touch("composer", "status")

    def retry(self, queued=False):
        """The banner's or the stall's "Try again": a stalled reply is stopped first."""
        if self.conv.turn_id is not None:
            self._retry_when_stopped = self.stop() or self._retry_when_stopped
            return
        self.regenerate(queued)

    def can_edit(self, message):
        """Any question on screen (the conversation branches from it) while nothing is under way."""
        if message.role != "user" or message.id is None or message.pending:
            return False
        return self.can_regenerate()

    def show_version(self, key, index):
        """Put version ``index`` (from 1) of the answer or branch that message ``key`` heads on screen."""
        m = self.conv.find(key)
        if m is None or not m.versions or m.id is None or not self.can_regenerate():
            return
        if not 1 <= index <= m.versions.get("count", 1) or index == m.versions.get("index"):
            return
        msg = {"type": "chat.version", "conversation_id": self.conv.id, "message_id": m.id, "index": index}
        self.conn.request("version", msg, {"conv": self.conv})
        self.banners.dismiss("turn")
        self.rev.touch("messages")

    def start_edit(self, key):
        """Put a user message in the composer; the next send replaces it (and what follows)."""
        m = self.conv.find(key)
        if m is None or m.role != "user" or not self.can_edit(m):
            return None
        self.editing = m.key
        self.rev.touch("composer", "messages")
        return m.text

    def cancel_edit(self):
        if self.editing is not None:
            self.editing = None
            self.rev.touch("composer", "messages")

    def edit(self, text):
        """Send the edited text: the conversation continues from it."""
        m = self.conv.find(self.editing) if self.editing is not None else None
        self.editing = None
        if m is None:
            return False
        msg = {"type": "chat.edit", "conversation_id": self.conv.id, "text": text}
        data = {"conv": self.conv, "key": None}
        if m is not self.conv.last("user"):
            msg["message_id"] = m.id
            data["key"] = m.key
        self.conn.request("edit", msg, data)
        self.banners.dismiss("turn")
        self.stage = SENDING
        self.rev.touch("composer", "messages", "status")
        return True

    # ------------------------------------------------------------- model pickers

    def set_model(self, model):
        self._set_conv_setting("model", model)
        self.banners.clear("model")

    def set_effort(self, effort):
        self._set_conv_setting("reasoning_effort", effort or None)

    def _set_conv_setting(self, field, value):
        conv = self.conv
        if field == "model":
            conv.model = value
        else:
            conv.reasoning_effort = value
        if conv.id is not None:
            msg = {"type": "conv.settings", "conversation_id": conv.id}
            msg[field] = value if value is not None else ""
            self.conn.request("settings", msg, {"conv": conv})
        self.rev.touch("header")

    def header(self):
        """The pickers: ``{"models", "model", "efforts", "effort", "reasons"}``: the active
        provider's models with this conversation's, and only the efforts its model takes
        (none: ``reasons`` is False and the effort picker is hidden)."""
        s = self.setup.settings
        model = self.conv.model or s.get("model") or ""
        if not self.setup.offers(model):
            model = self.setup.model or model  # what the next turn uses (another provider's model)
        effort = self.conv.reasoning_effort or s.get("reasoning_effort") or ""
        efforts = self.setup.efforts(model)
        if effort not in efforts:
            effort = ""  # chosen for another model: the worker leaves it out, so the default applies
        return {"models": self.setup.models(model), "model": model, "efforts": efforts, "effort": effort,
                "reasons": bool(efforts)}
