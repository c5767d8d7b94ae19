"""The conversations list, opening and managing conversations, the model and provider pickers.

Part of :class:`panel.state.PanelState` (a mixin). What it owns: the worker's list
(``conversations``, pushed as ``conv.list``), the search box (``query`` and the
worker's ``search_results``), the storage line, and the intents that change which
conversation is shown or what it is called: new, open, rename, delete, pin, the
per-conversation model / reasoning effort, and which saved provider profile chat uses.

The model picker lists what the active provider's server lists (the settings'
``models``, refreshed from ``GET /models`` when the panel opens and by its button)
plus the conversation's own model. The effort picker offers what the settings'
``efforts`` map gives for the chosen model; a model mapped to no effort hides it.
"""

from panel import fmt
from panel.conversation import Conversation

EFFORTS = ("minimal", "low", "medium", "high")


class ConversationList:
    """The list and the intents on conversations (see the module docstring)."""

    def _init_list(self):
        self.settings = {}
        self.storage = None
        self.conversations = []
        self.conv = Conversation()
        self.query = ""
        self.search_results = None
        self._search_id = None
        self._models_asked = False

    # ------------------------------------------------------------- replies

    def _conv_list(self, msg, entry):
        if entry is not None and entry["kind"] == "search":
            if msg.get("id") == self._search_id:
                self.search_results = msg.get("conversations") or []
                self._touch("list")
            return
        if msg.get("conversations") is not None:
            self.conversations = msg["conversations"]
        if msg.get("storage"):
            self.storage = msg["storage"]
        title = None
        for c in self.conversations:
            if c.get("id") == self.conv.id:
                title = c.get("title")
        if title and title != self.conv.title:
            self.conv.title = title
            self._touch("header")
        self._touch("list")

    def _conv_state(self, msg, entry):
        view = msg.get("conversation") or {}
        if entry is None:
            if view.get("id") == self.conv.id and self.conv.id is not None:
                self.conv.load(view)
                self._after_load()
            return
        data = entry["data"]
        conv = data["conv"]
        if conv is not self.conv or view.get("id") != conv.id:
            return  # the user moved on
        if entry["kind"] == "settings":
            conv.model = view.get("model") or conv.model
            conv.reasoning_effort = view.get("reasoning_effort")
            self._touch("header")
            return
        if data.get("resync") is not None:
            conv.resync = None
            if conv.turn_id != data["resync"]:
                return  # that turn ended meanwhile and its final push said everything
        conv.load(view)
        self._after_load()

    # ----------------------------------------------------------------- intents

    def new_chat(self):
        if self.conv.id is None and not self.conv.messages:
            return
        self.conv = Conversation()
        self.editing = False
        self.last_usage = None
        self._touch("messages", "header", "footer", "composer", "list")

    def open_conversation(self, cid):
        if cid == self.conv.id:
            return
        title = ""
        for c in self.conversations:
            if c.get("id") == cid:
                title = c.get("title") or ""
        self.conv = Conversation(cid, title)
        self.conv.loading = True
        self.editing = False
        self.last_usage = None
        self._request("open", {"type": "conv.open", "conversation_id": cid}, {"conv": self.conv})
        self._touch("messages", "header", "footer", "composer", "list")

    def rename(self, cid, title):
        title = title.strip()
        if not title:
            return
        for c in self.conversations:
            if c.get("id") == cid:
                c["title"] = title
        if cid == self.conv.id:
            self.conv.title = title
        self._request("rename", {"type": "conv.rename", "conversation_id": cid, "title": title}, {})
        self._touch("list", "header")

    def delete(self, cid):
        self.conversations = [c for c in self.conversations if c.get("id") != cid]
        if self.search_results is not None:
            self.search_results = [c for c in self.search_results if c.get("id") != cid]
        self._request("delete", {"type": "conv.delete", "conversation_id": cid}, {})
        if cid == self.conv.id:
            self.conv = Conversation()
            self._touch("messages", "header", "footer", "composer")
        self._touch("list")

    def pin(self, cid, pinned):
        for c in self.conversations:
            if c.get("id") == cid:
                c["pinned"] = pinned
        self._request("pin", {"type": "conv.pin", "conversation_id": cid, "pinned": pinned}, {})
        self._touch("list")

    def search(self, query):
        self.query = query
        self.search_results = None
        if query.strip():
            self._search_id = self._request("search", {"type": "conv.list", "query": query.strip()}, {})
        else:
            self._search_id = None
        self._touch("list")

    def visible_conversations(self):
        """The list as shown: the worker's search results, else a local title filter."""
        q = self.query.strip().lower()
        if not q:
            items = self.conversations
        elif self.search_results is not None:
            items = self.search_results
        else:
            items = [
                c
                for c in self.conversations
                if q in (c.get("title") or "").lower() or q in (c.get("preview") or "").lower()
            ]
        return sorted(items, key=lambda c: (0 if c.get("pinned") else 1, -(c.get("updated_at") or 0)))

    # ------------------------------------------------------------- model pickers

    def set_model(self, model):
        self._set_conv_setting("model", model)

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
            self._request("settings", msg, {"conv": conv})
        self._touch("header")

    def set_profile(self, profile_id):
        """Switch the provider chat uses to the saved profile ``profile_id``."""
        if profile_id and profile_id != self.settings.get("active_profile"):
            self._request("profile", {"type": "profile.select", "profile_id": profile_id})

    def refresh_models(self, quiet=False):
        """Ask the worker for the active provider's model list (it pushes ``settings`` back);
        ``quiet``: a failure shows no banner (the refresh when the panel opens)."""
        self._request("models", {"type": "models.list", "refresh": True}, {"quiet": quiet})

    def header(self):
        """The pickers: ``{"models", "model", "efforts", "effort", "profiles", "profile"}``."""
        s = self.settings
        model = self.conv.model or s.get("model") or ""
        models = list(s.get("models") or [])
        if model and model not in models:
            models.insert(0, model)
        effort = self.conv.reasoning_effort or s.get("reasoning_effort") or ""
        known = s.get("efforts")
        efforts = list(known.get(model, EFFORTS) if isinstance(known, dict) else EFFORTS)
        if effort and efforts and effort not in efforts:
            efforts.append(effort)
        profiles = [(p.get("id"), p.get("name")) for p in s.get("profiles") or [] if p.get("id")]
        return {"models": models, "model": model, "efforts": efforts, "effort": effort,
                "profiles": profiles, "profile": s.get("active_profile") or ""}

    def storage_text(self):
        s = self.storage
        if not s:
            return ""
        parts = ["%d of %d conversations" % (s.get("conversations") or 0, s.get("max_conversations") or 0)]
        if s.get("quota_bytes"):
            parts.append("%s of %s" % (fmt.size(s.get("used_bytes") or 0), fmt.size(s["quota_bytes"])))
        if s.get("policy"):
            parts.append(s["policy"])
        problems = s.get("problems") or []
        if problems:
            parts.append("%d damaged record%s skipped" % (len(problems), "" if len(problems) == 1 else "s"))
        return " · ".join(parts)
