"""The conversations list: what is stored, search, and which conversation is shown.

A part of :class:`panel.state.PanelState`. It owns the worker's list
(``conversations``, pushed as ``conv.list``), the search box (``query`` and the
worker's ``search_results``) and the storage line, and the intents that change
which conversation is shown or what it is called: new, open, rename, delete, pin.
Showing one is the turn's business: this part hands it the conversation to show
(``turn.show``).

The list as shown (:meth:`groups`) is pinned first, then Today, Yesterday and
Earlier by the last update, each with a plain-text preview.
"""

from panel import fmt
from panel.conversation import Conversation

DAY_MS = 86400000


class ConversationList:
    def __init__(self, conn, rev, turn):
        self.conn = conn
        self.rev = rev
        self.turn = turn
        self.storage = None
        self.conversations = []
        self.query = ""
        self.search_results = None
        self._search_id = None

    # ------------------------------------------------------------- replies

    def listed(self, msg, entry):
        """``conv.list``: the list (pushed or a reply), or our search's results."""
        if entry is not None and entry["kind"] == "search":
            if msg.get("id") == self._search_id:
                self.search_results = msg.get("conversations") or []
                self.rev.touch("list")
            return
        if msg.get("conversations") is not None:
            self.conversations = msg["conversations"]
        if msg.get("storage"):
            self.storage = msg["storage"]
        conv = self.turn.conv
        for c in self.conversations:
            if c.get("id") == conv.id and c.get("title") and c.get("title") != conv.title:
                conv.title = c.get("title")
                self.rev.touch("header")
        self.rev.touch("list")

    def hello(self, msg):
        if msg.get("conversations") is not None:
            self.conversations = msg["conversations"]
        if msg.get("storage"):
            self.storage = msg["storage"]
        self.rev.touch("list")

    def search_failed(self):
        self._search_id = None

    # ----------------------------------------------------------------- intents

    def new_chat(self):
        conv = self.turn.conv
        if conv.id is None and not conv.messages and not conv.loading:
            conv.fresh = True
            return
        fresh = Conversation()
        fresh.fresh = True
        self.turn.show(fresh)

    def open(self, cid):
        if cid == self.turn.conv.id:
            return
        title = ""
        for c in self.conversations:
            if c.get("id") == cid:
                title = c.get("title") or ""
        conv = Conversation(cid, title)
        conv.loading = True
        self.turn.show(conv)
        self.conn.request("open", {"type": "conv.open", "conversation_id": cid}, {"conv": conv})

    def rename(self, cid, title):
        title = title.strip()
        if not title:
            return
        for c in self.conversations:
            if c.get("id") == cid:
                c["title"] = title
        if cid == self.turn.conv.id:
            self.turn.conv.title = title
        self.conn.request("rename", {"type": "conv.rename", "conversation_id": cid, "title": title}, {})
        self.rev.touch("list", "header")

    def delete(self, cid):
        self.conversations = [c for c in self.conversations if c.get("id") != cid]
        if self.search_results is not None:
            self.search_results = [c for c in self.search_results if c.get("id") != cid]
        self.conn.request("delete", {"type": "conv.delete", "conversation_id": cid}, {})
        if cid == self.turn.conv.id:
            self.turn.show(Conversation())
        self.rev.touch("list")

    def pin(self, cid, pinned):
        for c in self.conversations:
            if c.get("id") == cid:
                c["pinned"] = pinned
        self.conn.request("pin", {"type": "conv.pin", "conversation_id": cid, "pinned": pinned}, {})
        self.rev.touch("list")

    def search(self, query):
        self.query = query
        self.search_results = None
        if query.strip():
            self._search_id = self.conn.request("search", {"type": "conv.list", "query": query.strip()}, {})
        else:
            self._search_id = None
        self.rev.touch("list")

    # ------------------------------------------------------------------ outputs

    def title_of(self, cid):
        for c in self.conversations:
            if c.get("id") == cid:
                return c.get("title") or "Untitled"
        return None

    def visible(self):
        """The list as shown: the worker's search results, else a local title filter."""
        q = self.query.strip().lower()
        if not q:
            items = self.conversations
        elif self.search_results is not None:
            items = self.search_results
        else:
            items = [c for c in self.conversations
                     if q in (c.get("title") or "").lower() or q in (c.get("preview") or "").lower()]
        return sorted(items, key=lambda c: (0 if c.get("pinned") else 1, -(c.get("updated_at") or 0)))

    def groups(self, today):
        """``[(label, [item])]``: Pinned, Today, Yesterday, Earlier (``today``: local midnight, epoch ms).

        Each item is the summary plus ``"text"``, its preview as plain text.
        """
        named = (("Pinned", []), ("Today", []), ("Yesterday", []), ("Earlier", []))
        for c in self.visible():
            item = dict(c)
            item["text"] = fmt.plain_preview(c.get("preview"))
            updated = c.get("updated_at") or 0
            if c.get("pinned"):
                named[0][1].append(item)
            elif updated >= today:
                named[1][1].append(item)
            elif updated >= today - DAY_MS:
                named[2][1].append(item)
            else:
                named[3][1].append(item)
        return [(label, items) for label, items in named if items]

    def storage_text(self):
        """"4 of 200 conversations · 12 KB of 8 MB …", counted from the list itself (always current)."""
        s = self.storage or {}
        count = len(self.conversations)
        most = s.get("max_conversations")
        parts = ["%d of %d conversations" % (count, most) if most else
                 "%d conversation%s" % (count, "" if count == 1 else "s")]
        if s.get("quota_bytes"):
            parts.append("%s of %s" % (fmt.size(s.get("used_bytes") or 0), fmt.size(s["quota_bytes"])))
        problems = s.get("problems") or []
        if problems:
            parts.append("%d damaged record%s skipped" % (len(problems), "" if len(problems) == 1 else "s"))
        return " · ".join(parts)

    @property
    def storage_policy(self):
        return (self.storage or {}).get("policy") or ""
