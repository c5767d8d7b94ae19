"""The conversation the panel shows: its messages and the turn streaming into it.

``Message`` and ``Conversation`` hold the JSON shapes of docs/protocol.md
(``MessageView``, ``Conversation``) in a form a renderer can diff cheaply: every
message has a stable ``key`` and a ``rev`` bumped on each change, the list has its
own ``rev``, and text is a :class:`panel.blocks.BlockText`.

Streaming (``turn.delta`` / ``turn.reasoning``) is ordered by ``seq``, which grows
by one per push within a turn. A push at the expected ``seq`` is applied; an old
one is a duplicate and dropped; a later one is kept aside and means a batch was
missed, so the caller asks ``conv.open`` for the persisted state (which says up to
which ``seq`` it holds) and the kept pushes after it are applied on top.
"""

from panel import attachments
from panel.blocks import BlockText

# Pushes kept aside while waiting for a resync, at most (a reply is rarely that long).
MAX_BUFFERED = 4096


class Message:
    """One message; ``body`` and ``reasoning`` are BlockText (reasoning may be None)."""

    __slots__ = (
        "attachments",
        "client_id",
        "context",
        "created_at",
        "error",
        "id",
        "key",
        "model",
        "pending",
        "reasoning",
        "rev",
        "role",
        "searches",
        "stopped",
        "streaming",
        "usage",
        "versions",
        "body",
    )

    def __init__(self, key, role, text=""):
        self.key = key
        self.id = None
        self.client_id = None
        self.role = role
        self.body = BlockText(text)
        self.reasoning = None
        self.context = None
        self.attachments = []  # AttachmentView dicts (a user message's screenshots and files)
        self.created_at = None
        self.streaming = False
        self.stopped = False
        self.error = None
        self.usage = None
        self.model = None  # the model that wrote an assistant message
        self.searches = []  # [[call_id, query], ...]
        self.pending = None  # None, or "queued" / "sending" for a user message not yet accepted
        self.versions = None  # {"index", "count"}: the versions of the answer or branch it heads
        self.rev = 0

    @property
    def text(self):
        return self.body.text()

    def update(self, view):
        """Take the content of a ``MessageView`` (keeps already split text when unchanged)."""
        self.id = view.get("id") or self.id
        self.client_id = view.get("client_id") or self.client_id
        self.role = view.get("role") or self.role
        text = view.get("text") or ""
        if self.body.length != len(text) or self.body.text() != text:
            self.body = BlockText(text)
        reasoning = view.get("reasoning") or ""
        if not reasoning:
            self.reasoning = None
        elif self.reasoning is None or self.reasoning.text() != reasoning:
            self.reasoning = BlockText(reasoning)
        self.context = view.get("context")
        self.attachments = attachments.with_thumbs(view.get("attachments"))
        self.created_at = view.get("created_at")
        self.streaming = bool(view.get("streaming"))
        self.stopped = bool(view.get("stopped"))
        self.error = view.get("error")
        self.usage = view.get("usage") or self.usage
        self.model = view.get("model") or self.model
        searches = view.get("searches")
        if searches is not None:
            self.searches = [[None, q] for q in searches]
        self.versions = view.get("versions")
        self.pending = None
        self.rev += 1

    def append(self, kind, text):
        if kind == "turn.reasoning":
            if self.reasoning is None:
                self.reasoning = BlockText()
            self.reasoning.append(text)
        else:
            self.body.append(text)
        self.rev += 1

    def add_search(self, call_id, query):
        for entry in self.searches:
            if call_id is not None and entry[0] == call_id:
                entry[1] = query or entry[1]
                self.rev += 1
                return
        self.searches.append([call_id, query or ""])
        self.rev += 1


def message_from_view(view):
    msg = Message(view.get("client_id") or view.get("id") or "", view.get("role") or "assistant")
    msg.update(view)
    return msg


def user_from_view(view):
    """A user message from a ``MessageView`` (or the panel's own draft of one)."""
    m = message_from_view(view)
    m.role = "user"
    return m


# What the relay keeps (``ui.shown``) for a new chat the user opened; the worker's
# conversation ids are "c" and 20 hex digits.
SHOWN_NEW_CHAT = "new"


class Conversation:
    """The conversation on screen. ``id`` is None for a new chat not stored yet."""

    def __init__(self, cid=None, title=""):
        self.id = cid
        self.title = title
        self.model = None
        self.reasoning_effort = None
        self.created_at = None
        self.updated_at = None
        self.usage = None
        self.context_left = None
        self.messages = []
        self.loading = False
        self.fresh = False  # a new chat the user asked for: a reload keeps it (not the latest)
        self.rev = 0
        # The turn streaming into this conversation, if any.
        self.turn_id = None
        self.seq = 0
        self.any_seq = False  # the next seq is taken as is (after turn.reconnecting)
        self.streaming = None  # the assistant Message receiving the turn
        self.stopping = False
        self.buffer = {}  # seq -> (kind, text): pushes after a gap, for self.buffer_turn
        self.buffer_turn = None
        self.resync = None  # id of the conv.open asked after a gap
        self.resync_at = None  # when it was asked (ms, caller's clock)
        self.finished = []  # turn ids that ended here (late pushes of them are ignored)

    # ------------------------------------------------------------------ queries

    def shown(self):
        """What the relay keeps to show again after a reload: the id, or SHOWN_NEW_CHAT for
        a new chat the user opened, or None (the worker's latest conversation will do)."""
        return self.id or (SHOWN_NEW_CHAT if self.fresh else None)

    @property
    def busy(self):
        """A turn is under way (or a message is waiting to be accepted)."""
        if self.turn_id is not None or self.streaming is not None:
            return True
        return any(m.pending for m in self.messages)

    def find(self, key):
        for m in self.messages:
            if m.key == key or (m.id is not None and m.id == key):
                return m
        return None

    def last(self, role=None):
        for i in range(len(self.messages) - 1, -1, -1):
            if role is None or self.messages[i].role == role:
                return self.messages[i]
        return None

    # ------------------------------------------------------------------ changes

    def load(self, view):
        """Replace everything with a ``Conversation`` view (keeps unsent local messages)."""
        same = view.get("id") == self.id or self.id is None
        self.id = view.get("id")
        self.title = view.get("title") or ""
        self.model = view.get("model")
        self.reasoning_effort = view.get("reasoning_effort")
        self.created_at = view.get("created_at")
        self.updated_at = view.get("updated_at")
        self.usage = view.get("usage")
        self.loading = False
        old = {}
        for m in self.messages:
            old[m.key] = m
        messages = []
        seen = {}
        for v in view.get("messages") or []:
            key = v.get("client_id") or v.get("id") or ""
            if v.get("queued"):
                # Waiting in the worker's queue: the queue list shows it, not the log (and a
                # local copy still marked pending is the same message: not kept either).
                seen[key] = True
                continue
            m = old.get(key)
            if m is None:
                m = message_from_view(v)
            else:
                m.update(v)
            messages.append(m)
            seen[key] = True
            if v.get("client_id"):
                seen[v.get("client_id")] = True
        if same:
            for m in self.messages:
                if m.pending and not seen.get(m.key) and not self._holds_text(messages, m):
                    messages.append(m)
        self.messages = messages
        self.rev += 1
        streaming = view.get("streaming")
        self.streaming = None
        self.stopping = False
        if streaming and streaming.get("turn_id") not in self.finished:
            self.turn_id = streaming.get("turn_id")
            self.seq = streaming.get("seq") or 0
            self.any_seq = False
            last = self.last()
            if last is not None and last.role == "assistant":
                last.streaming = True
                self.streaming = last
            self.drain()
        else:
            self.turn_id = None
            for m in messages:
                m.streaming = False  # a stored "streaming" flag with no live turn is stale
            self.buffer = {}

    def _holds_text(self, messages, pending):
        """The loaded messages already hold this unaccepted one (a worker without client ids)."""
        return any(m.role == "user" and m.client_id is None and m.text == pending.text for m in messages)

    def start_turn(self, turn_id):
        """A turn was accepted: pushes for it may now arrive."""
        self.turn_id = turn_id
        self.seq = 0
        self.any_seq = False
        self.stopping = False

    def started(self, turn_id, view):
        """``turn.started``: the assistant message appears (replacing one with its key)."""
        self.start_turn(turn_id)
        msg = self.find(view.get("id") or "") if view.get("id") else None
        if msg is None:
            msg = message_from_view(view)
            if not msg.key:
                msg.key = "turn-" + str(turn_id)
            self.messages.append(msg)
            self.rev += 1
        else:
            msg.update(view)
        msg.streaming = True
        self.streaming = msg
        self.drain()

    def chunk(self, msg):
        """Apply a ``turn.delta``/``turn.reasoning``; return True when a batch was missed."""
        turn_id = msg.get("turn_id")
        seq = msg.get("seq")
        if turn_id in self.finished:
            return False
        if turn_id != self.turn_id or seq is None:
            if seq is None:
                return False
            self._keep(turn_id, seq, msg)
            return True
        if self.any_seq:
            self.any_seq = False
            self.seq = seq - 1
        if seq <= self.seq:
            return False  # already applied (a duplicate, or held by a resync)
        if seq > self.seq + 1:
            self._keep(turn_id, seq, msg)
            return True
        self._apply(msg)
        self.seq = seq
        self.drain()
        return False

    def _keep(self, turn_id, seq, msg):
        if self.buffer_turn != turn_id:
            self.buffer = {}
            self.buffer_turn = turn_id
        if len(self.buffer) < MAX_BUFFERED:
            self.buffer[seq] = (msg.get("type"), msg.get("text") or "")

    def _apply(self, msg):
        target = self.streaming
        if target is None:
            target = Message("turn-" + str(self.turn_id), "assistant")
            target.streaming = True
            self.messages.append(target)
            self.streaming = target
            self.rev += 1
        target.append(msg.get("type"), msg.get("text") or "")

    def drain(self):
        """Apply kept pushes that now follow on."""
        if self.buffer_turn != self.turn_id or not self.buffer:
            return
        while True:
            item = self.buffer.pop(self.seq + 1, None)
            if item is None:
                break
            self._apply({"type": item[0], "text": item[1]})
            self.seq += 1
        for seq in list(self.buffer):
            if seq <= self.seq:
                del self.buffer[seq]

    @property
    def gapped(self):
        return bool(self.buffer) and self.buffer_turn == self.turn_id

    def restart_stream(self):
        """``turn.reconnecting``: the reply is re-sent from the start; drop what came."""
        if self.streaming is not None:
            self.streaming.body = BlockText()
            self.streaming.reasoning = None
            self.streaming.searches = []
            self.streaming.rev += 1
        self.any_seq = True
        self.buffer = {}

    def finish(self, turn_id, view):
        """``turn.done`` / ``turn.stopped`` / ``turn.error``: the final message replaces the streamed one."""
        msg = self.streaming
        if view:
            if msg is None:
                msg = self.find(view.get("id") or "")
            if msg is None:
                msg = message_from_view(view)
                self.messages.append(msg)
                self.rev += 1
            else:
                msg.update(view)
            msg.streaming = False
        elif msg is not None:
            msg.streaming = False
            msg.rev += 1
            if not msg.text and msg.reasoning is None:
                self.messages.remove(msg)
                self.rev += 1
                msg = None
        if turn_id is not None:
            self.finished.append(turn_id)
            if len(self.finished) > 20:
                self.finished = self.finished[-20:]
        self.turn_id = None
        self.streaming = None
        self.stopping = False
        self.buffer = {}
        self.buffer_turn = None
        self.resync = None
        return msg

    def drop_from(self, key):
        """Remove the message ``key`` and everything after it (an edit branches from there)."""
        for i in range(len(self.messages)):
            if self.messages[i].key == key:
                self.messages = self.messages[:i]
                self.rev += 1
                return

    def drop_after_last_user(self, include_user):
        """Remove the replies after the last user message (and that message, if asked)."""
        for i in range(len(self.messages) - 1, -1, -1):
            if self.messages[i].role == "user":
                self.messages = self.messages[: i if include_user else i + 1]
                self.rev += 1
                return
        return


def export_markdown(conv):
    """A Markdown transcript, for when the worker cannot export (same shape as its export)."""
    lines = ["# " + (conv.title or "Conversation"), ""]
    for m in conv.messages:
        lines.append("## " + ("You" if m.role == "user" else "Assistant"))
        lines.append("")
        ctx = m.context
        if ctx and (ctx.get("url") or ctx.get("title")):
            lines.append("> Page: [%s](%s)" % (ctx.get("title") or ctx.get("url"), ctx.get("url") or ""))
            lines.append("")
        lines.append(m.text.rstrip("\n"))
        lines.append("")
    return "\n".join(lines)
