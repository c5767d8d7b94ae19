"""The turn: a reply accepted, streamed, finished; stop, regenerate, edit.

Part of :class:`panel.state.PanelState` (a mixin). ``chat.accepted`` starts a turn in
the conversation shown; its pushes (``turn.*``, all carrying ``conversation_id`` and
``turn_id``) stream into it through :class:`panel.conversation.Conversation`, which
orders them by ``seq``. A missed batch asks ``conv.open`` for the persisted state
(``_resync``), at most every ``RESYNC_EVERY_MS``. Pushes for other conversations are
ignored: they are persisted, and seen when that conversation is opened.
"""

from panel import fmt
from panel.connection import CLOSED
from panel.conversation import user_from_view

RESYNC_EVERY_MS = 2000


class TurnView:
    """The reply streaming into the conversation shown (see the module docstring)."""

    # ------------------------------------------------------------- replies

    def _accepted(self, msg, entry):
        if entry is None:
            return
        data = entry["data"]
        conv = data["conv"]
        if conv is not self.conv:
            return
        kind = entry["kind"]
        view = msg.get("user") or {}
        if conv.id is None:
            conv.id = msg.get("conversation_id")
            self._touch("header")
        if msg.get("queued"):
            self._accepted_queued(msg, entry)
            return
        if kind == "send":
            m = conv.find(data["client_id"])
            if m is not None:
                m.update(view)
            if msg.get("duplicate"):
                # A resend the worker already had: its turn may be over or still running.
                conv.loading = True
                self._request("open", {"type": "conv.open", "conversation_id": conv.id}, {"conv": conv})
                self._touch("messages", "composer")
                return
        else:
            conv.drop_after_last_user(kind == "edit")
            if kind == "regenerate" and conv.last("user") is not None:
                conv.last("user").update(view)
            else:
                conv.messages.append(user_from_view(view))
                conv.rev += 1
        conv.start_turn(msg.get("turn_id"))
        self._touch("messages", "composer", "footer")

    def _accepted_queued(self, msg, entry):
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
        self._queued_locally(msg, entry["msg"].get("text") or "")
        self._touch("messages", "composer")

    # ------------------------------------------------------------- turn pushes

    def _turn(self, msg, now, wall):
        kind = msg.get("type")
        if kind == "turn.limits":
            if msg.get("limits"):
                self.limits = msg["limits"]
                self.limits_at = wall
                self._touch("footer")
            return
        conv = self.conv
        if msg.get("conversation_id") != conv.id or conv.id is None:
            return  # a turn of another conversation: it is persisted, we see it when opened
        turn_id = msg.get("turn_id")
        if turn_id in conv.finished:
            return
        if kind == "turn.started":
            user = msg.get("user")
            if user:  # a message that waited in the queue: it comes into the conversation now
                self._left_queue(user.get("id"))
                m = conv.find(user.get("client_id") or user.get("id") or "")
                if m is None:
                    conv.messages.append(user_from_view(user))
                    conv.rev += 1
                else:
                    m.update(user)
            conv.started(turn_id, msg.get("assistant") or {})
            self._dismiss("turn")
        elif kind == "turn.delta" or kind == "turn.reasoning":
            if conv.chunk(msg):
                self._resync(now)
            elif self._has_banner("turn") and kind == "turn.delta":
                self._dismiss("turn")  # text flows again
        elif kind == "turn.search":
            if conv.streaming is not None:
                conv.streaming.add_search(msg.get("call_id"), msg.get("query"))
        elif kind == "turn.reconnecting":
            conv.restart_stream()
            error = msg.get("error") or {}
            text = "Reconnecting… %s/%s" % (msg.get("attempt"), msg.get("max_attempts"))
            until = wall + (msg.get("delay_ms") or 0)
            self._banner("turn", "warning", text, detail=error.get("message"), until=until)
        elif kind == "turn.waiting":
            reason = msg.get("reason") or "Waiting for the rate limit"
            self._banner("turn", "warning", reason, until=msg.get("until"), prefix="retrying in ")
        elif kind == "turn.done":
            final = conv.finish(turn_id, msg.get("assistant"))
            usage = msg.get("usage")
            if usage:
                if final is not None:
                    final.usage = usage
                self.last_usage = usage
            if msg.get("session_usage"):
                conv.usage = msg["session_usage"]
            elif usage:
                conv.usage = fmt.add_usage(conv.usage, usage)
            if msg.get("context_left_percent") is not None:
                conv.context_left = msg["context_left_percent"]
            self._dismiss("turn")
            self._touch("footer", "composer")
        elif kind == "turn.stopped":
            conv.finish(turn_id, msg.get("assistant"))
            self._dismiss("turn")
            self._touch("composer")
        elif kind == "turn.error":
            conv.finish(turn_id, msg.get("assistant"))
            error = msg.get("error") or {}
            text = error.get("message") or "The reply failed."
            self._banner("turn", "error", text, action="regenerate" if conv.id else None)
            self._touch("composer")
        self._touch("messages")

    def _resync(self, now):
        conv = self.conv
        if conv.resync is not None:
            return
        if conv.resync_at is not None and now - conv.resync_at < RESYNC_EVERY_MS:
            return
        conv.resync_at = now
        data = {"conv": conv, "resync": conv.turn_id}
        conv.resync = self._request("open", {"type": "conv.open", "conversation_id": conv.id}, data)

    # ----------------------------------------------------------------- intents

    def stop(self):
        conv = self.conv
        # A send still waiting for the worker is simply taken back.
        for rid in sorted(self._requests):
            entry = self._requests[rid]
            if entry["kind"] == "send" and not entry["sent"] and entry["data"]["conv"] is conv:
                del self._requests[rid]
                self._unsend(entry)
                return
        if conv.id is None or not conv.busy or conv.stopping:
            return
        conv.stopping = True
        self._request("stop", {"type": "chat.stop", "conversation_id": conv.id}, {"conv": conv})
        self._touch("composer", "messages")

    def can_regenerate(self):
        conv = self.conv
        if conv.id is None or conv.busy or self.phase == CLOSED or self.queued_in(conv.id):
            return False
        return conv.last("user") is not None

    def regenerate(self):
        if not self.can_regenerate():
            return
        self._dismiss("turn")
        self._request("regenerate", {"type": "chat.regenerate", "conversation_id": self.conv.id},
                      {"conv": self.conv})
        self._touch("composer")

    def start_edit(self):
        """Put the last user message in the composer; the next send replaces it."""
        last = self.conv.last("user")
        if last is None or not self.can_regenerate():
            return
        self.editing = True
        self.composer_fill = last.text
        self._touch("composer")

    def cancel_edit(self):
        if self.editing:
            self.editing = False
            self._touch("composer")
