"""The worker's request queue as the panel shows it: waiting messages, holds, cancel.

A part of :class:`panel.state.PanelState`. The worker owns the queue
(docs/protocol.md, "Request queue") and pushes ``queue.state`` whenever it changes;
``hello`` carries it too. A queued message is not shown in the conversation but in
the queue list above the composer, with its position and what it waits for; when its
turn starts, ``turn.started`` carries it (``user``) into the conversation.

While a rate-limit hold keeps them waiting, "Send now" asks the worker to drop it
(``queue.config {clear_hold}``): the user knows the limit was lifted, or wants to try.

Cancelling hides the item at once and asks ``chat.cancel_queued``; the answer
(``chat.cancelled``) gives the message's text back (the router puts it in the
composer). If the
message started meanwhile, the worker says ``not_found`` and the item shows again
until the next ``queue.state``.
"""

from panel import fmt


class QueueView:
    def __init__(self, conn, rev, convs):
        self.conn = conn
        self.rev = rev
        self.convs = convs  # panel.conv_list.ConversationList: titles, and which one is shown
        self.queue_items = []  # QueueState.items, in the order they will start
        self.queue_hold = None  # QueueState.hold: {"until", "reason", "source"}
        self._cancelling = {}  # queue_id -> True: hidden while chat.cancel_queued is answered

    # ----------------------------------------------------------------- inputs

    def state(self, state):
        """A ``QueueState`` (a ``queue.state`` push or reply, or ``hello.queue``)."""
        if state is None:
            return
        self.queue_items = list(state.get("items") or [])
        self.queue_hold = state.get("hold")
        present = {}
        for item in self.queue_items:
            present[item.get("queue_id")] = True
        for qid in list(self._cancelling):
            if not present.get(qid):
                del self._cancelling[qid]
        self.rev.touch("queue", "composer")

    def queued_locally(self, msg, text):
        """``chat.accepted {queued: true}``: show it in the list until the push says more."""
        qid = msg.get("queue_id")
        if qid is None or any(i.get("queue_id") == qid for i in self.queue_items):
            return
        view = msg.get("user") or {}
        self.queue_items.append({
            "queue_id": qid, "conversation_id": msg.get("conversation_id"), "message_id": view.get("id"),
            "client_id": view.get("client_id"), "preview": " ".join((view.get("text") or text).split()),
            "position": msg.get("position") or len(self.queue_items) + 1,
        })
        self.rev.touch("queue")

    def left(self, message_id):
        """``turn.started`` for a queued message: it is in the conversation now."""
        kept = [i for i in self.queue_items if i.get("message_id") != message_id]
        if len(kept) != len(self.queue_items):
            self.queue_items = kept
            self.rev.touch("queue")

    def cancelled(self, msg, entry):
        """``chat.cancelled``: the item goes; return its text for the composer (ours only)."""
        qid = msg.get("queue_id")
        self.queue_items = [i for i in self.queue_items if i.get("queue_id") != qid]
        self._cancelling.pop(qid, None)
        self.rev.touch("queue", "composer")
        return msg.get("text") if entry is not None else None

    def cancel_refused(self, entry):
        """It started meanwhile: shown until the push says more."""
        self._cancelling.pop(entry["data"]["queue_id"], None)
        self.rev.touch("queue")

    # ---------------------------------------------------------------- intents

    def cancel_queued(self, queue_id):
        if self._cancelling.get(queue_id) or not any(i.get("queue_id") == queue_id for i in self.queue_items):
            return
        self._cancelling[queue_id] = True
        msg = {"type": "chat.cancel_queued", "queue_id": queue_id}
        self.conn.request("cancel", msg, {"queue_id": queue_id})
        self.rev.touch("queue")

    def send_now(self):
        """Drop the rate-limit hold: what waits goes now (the server may refuse it again)."""
        if self.queue_hold is None or self.queue_hold.get("source") == "spacing":
            return
        self.conn.request("queue", {"type": "queue.config", "clear_hold": True}, {})

    # ---------------------------------------------------------------- outputs

    def queued_in(self, cid):
        """Whether a message of conversation ``cid`` waits (regenerate/edit wait for it)."""
        return cid is not None and any(i.get("conversation_id") == cid for i in self.queue_items)

    def queue_hold_active(self, wall):
        hold = self.queue_hold
        return hold is not None and (hold.get("until") or 0) > wall

    def can_send_now(self, wall):
        """A rate-limit hold the user may override ("Send now"); spacing is the user's own limit."""
        return self.queue_hold_active(wall) and self.queue_hold.get("source") != "spacing"

    @property
    def queue_counting(self):
        """The list shows a countdown: repaint it each second."""
        return bool(self.queue_items) and self.queue_hold is not None

    def queue_views(self, wall):
        """The list as shown at ``wall``: ``[{"queue_id", "position", "text", "where", "status"}]``."""
        out = []
        shown = 0
        for item in self.queue_items:
            qid = item.get("queue_id")
            if self._cancelling.get(qid):
                continue
            shown += 1
            out.append({
                "queue_id": qid,
                "position": shown,
                "text": item.get("preview") or "",
                "where": self._where(item.get("conversation_id")),
                "status": self._status(shown, wall),
            })
        return out

    def _where(self, cid):
        """The conversation's title when it is not the one shown."""
        if cid is None or cid == self.convs.turn.conv.id:
            return ""
        return self.convs.title_of(cid) or "Another conversation"

    def _status(self, position, wall):
        if self.queue_hold_active(wall):
            left = fmt.duration(fmt.countdown(self.queue_hold["until"], wall))
            if self.queue_hold.get("source") == "spacing":
                return "Waiting — sends in " + left
            return "Waiting for rate limit — resets in " + left
        if position == 1:
            return "Next: sends when the current reply ends"
        ahead = position - 1
        return "Waiting: %d message%s ahead" % (ahead, "" if ahead == 1 else "s")
