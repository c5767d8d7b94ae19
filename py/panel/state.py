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
"""

from panel import fmt, templates
from panel.conversation import Conversation, export_markdown, message_from_view

PROTOCOL_VERSION = 1

STARTING = "starting"
READY = "ready"
FAILED = "failed"
RECONNECTING = "reconnecting"
CLOSED = "closed"

EFFORTS = ("minimal", "low", "medium", "high")
SECTIONS = ("status", "header", "list", "messages", "banners", "footer", "composer")

MAX_MESSAGE_CHARS = 100000  # the worker refuses longer messages (background/protocol.py)
SUMMARIZE_PROMPT = "Summarize this page."
EXPLAIN_PROMPT = "Explain the selected text."
RESYNC_EVERY_MS = 2000

# Requests that are posted again after the worker restarted without answering them.
RESEND = ("send", "regenerate", "edit", "page", "rename", "delete", "pin", "settings", "export", "search")


class PanelState:
    def __init__(self, now, session=None):
        self.phase = STARTING
        self.boot_origin = now  # local time when the worker started (estimated)
        self.error = None
        self.python = None
        self.boot = None
        self.ping_result = None
        self._pending_pings = {}
        self._next_id = 1
        self.session = session or ("p%d" % int(now))
        self._client_seq = 0
        self.outbox = []
        self._requests = {}  # id -> {"kind", "msg", "sent", "data"}
        self._answered = False  # the worker replied to our hello since the port (re)connected
        self.rev = {}
        for name in SECTIONS:
            self.rev[name] = 0
        # What the worker told us.
        self.version = None
        self.settings = {}
        self.storage = None
        self.conversations = []
        self.limits = None
        self.limits_at = 0
        # What the panel shows.
        self.conv = Conversation()
        self.query = ""
        self.search_results = None
        self._search_id = None
        self.banners = []
        self.context = None  # PageContext attached to the next message (the composer's chip)
        self.last_usage = None  # usage of the last completed turn shown
        self.editing = False
        self.composer_fill = None  # text for the renderer to put in the composer, once
        self.download = None  # {"filename", "mime", "text", "action"} for the renderer, once

    # ================================================================= plumbing

    def _touch(self, *names):
        for name in names:
            self.rev[name] += 1

    def _new_id(self):
        rid = self._next_id
        self._next_id += 1
        return rid

    def _request(self, kind, msg, data=None):
        """Post ``msg`` (with a fresh id) now if the worker is ready, else when it is."""
        rid = self._new_id()
        msg["id"] = rid
        entry = {"kind": kind, "msg": msg, "sent": False, "data": data}
        self._requests[rid] = entry
        if self.phase == READY:
            self.outbox.append(msg)
            entry["sent"] = True
        return rid

    def _flush(self):
        for rid in sorted(self._requests):
            entry = self._requests[rid]
            if not entry["sent"]:
                entry["sent"] = True
                self.outbox.append(entry["msg"])
                self._mark_sending(entry)

    def _mark_sending(self, entry):
        data = entry["data"]
        if entry["kind"] == "send" and data["conv"] is self.conv:
            msg = self.conv.find(data["client_id"])
            if msg is not None and msg.pending:
                msg.pending = "sending"
                msg.rev += 1
                self._touch("messages")

    def take_outbox(self):
        out = self.outbox
        self.outbox = []
        return out

    # =================================================================== inputs

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
        elif kind == "page.context":
            self._page_context(msg, entry)
        elif kind == "page.selection":
            if msg.get("context"):
                self.context = msg.get("context")
                self._touch("composer")
        elif kind == "settings":
            if msg.get("settings"):
                self.settings = msg["settings"]
                self._touch("header", "composer")
        elif kind is not None and kind.startswith("turn."):
            self._turn(msg, now, wall)

    def _boot_status(self, msg, now):
        state = msg.get("state")
        if state == "failed":
            self.phase = FAILED
            self.error = msg.get("error") or "Python failed to start"
        elif state == "ready":
            pass  # "hello" from Python follows and carries the details
        elif self.phase != READY:
            self.phase = STARTING
            self.boot_origin = now - (msg.get("elapsed_ms") or 0)
        self._touch("status")

    def _send_hello(self):
        msg = {"type": "hello", "v": PROTOCOL_VERSION}
        if self.conv.id is not None:
            msg["conversation_id"] = self.conv.id
        msg["id"] = self._new_id()
        self._requests[msg["id"]] = {"kind": "hello", "msg": msg, "sent": True, "data": None}
        self.outbox.append(msg)  # hello goes out even while not ready: it is what makes us ready

    def _hello_pending(self):
        return any(entry["kind"] == "hello" for entry in self._requests.values())

    def _disconnected(self, now):
        if self.phase == CLOSED:
            return
        self.phase = RECONNECTING
        self._answered = False
        self.boot_origin = now
        self._pending_pings = {}
        for rid in list(self._requests):
            entry = self._requests[rid]
            if entry["kind"] in RESEND:
                entry["sent"] = False
            else:
                del self._requests[rid]
        self._touch("status", "composer", "footer")

    def _hello(self, msg, entry, wall):
        v = msg.get("v")
        if v is not None and v != PROTOCOL_VERSION:
            self.phase = CLOSED
            self.error = "SidePy was updated: reopen the panel."
            self._touch("status", "composer")
            return
        self.phase = READY
        self.error = None
        self.boot = msg.get("boot") or self.boot
        if self.boot:
            self.python = self.boot.get("python") or self.python
        self.version = msg.get("version") or self.version
        if msg.get("settings"):
            self.settings = msg["settings"]
        if msg.get("conversations") is not None:
            self.conversations = msg["conversations"]
        if msg.get("storage"):
            self.storage = msg["storage"]
        if msg.get("limits"):
            self.limits = msg["limits"]
            self.limits_at = wall
        # Our hello's reply says what to show; a pushed hello (sent on every connect) only
        # does when we never asked, so a late push cannot undo a reply or a turn in progress.
        if entry is not None:
            self._answered = True
            self._adopt(msg.get("active"))
        elif not self._answered and not self._hello_pending():
            self._adopt(msg.get("active"))
        self._flush()
        self._touch(*SECTIONS)

    def _adopt(self, active):
        """Show the worker's view of the conversation after (re)connecting."""
        conv = self.conv
        if active and active.get("id") == conv.id and conv.id is not None:
            self._settle_resends(active)
            conv.load(active)
            self._after_load()
        elif conv.id is None and active and not conv.messages:
            conv.load(active)  # a fresh panel shows the most recent conversation
            self._after_load()
        # Otherwise keep the view: no ``active`` for our id means an unsaved draft, which a
        # chat.send with its id still creates, and a fresh panel with a queued message
        # stays the new chat it was typed into.

    def _settle_resends(self, active):
        """Sends the worker took before it went away are not sent twice."""
        stored = {}
        last_user = None
        for v in active.get("messages") or []:
            if v.get("client_id"):
                stored[v["client_id"]] = True
            if v.get("role") == "user":
                last_user = v
        for rid in sorted(self._requests):
            entry = self._requests[rid]
            if entry["kind"] != "send" or entry["sent"] or entry["data"]["conv"] is not self.conv:
                continue
            same_text = (
                last_user is not None
                and not last_user.get("client_id")
                and last_user.get("text") == entry["msg"]["text"]
            )
            if stored.get(entry["data"]["client_id"]) or same_text:
                del self._requests[rid]

    def _after_load(self):
        conv = self.conv
        last = None
        for m in conv.messages:
            if m.role == "assistant" and m.usage:
                last = m.usage
        self.last_usage = last
        self._touch("messages", "header", "footer", "composer")

    # ------------------------------------------------------------ request replies

    def _error_reply(self, msg, entry):
        text = msg.get("message") or "unknown error"
        if entry is None:
            rid = msg.get("id")
            if rid is not None and rid < self._next_id:
                return  # a request already settled (e.g. also delivered by the relay after a restart)
            self._banner("error", "error", text)
            return
        kind = entry["kind"]
        data = entry["data"]
        if kind in ("send", "regenerate", "edit"):
            self._unsend(entry)
        elif kind == "open":
            data["conv"].loading = False
            self._touch("messages")
        elif kind == "export" and msg.get("code") == "unknown_type":
            self._offer_download(data, None)  # an older worker: export what the panel holds
            return
        elif kind == "search":
            self._search_id = None
            return
        self._banner("req-%d" % msg.get("id"), "error", text)

    def _unsend(self, entry):
        """A send was refused: its text goes back to the composer, never lost."""
        data = entry["data"]
        conv = data["conv"]
        if entry["kind"] == "send":
            m = conv.find(data["client_id"])
            if m is not None and m.pending:
                conv.messages.remove(m)
                conv.rev += 1
            if data.get("context") and self.context is None:
                self.context = data["context"]
        if entry["kind"] in ("send", "edit"):
            self.composer_fill = entry["msg"]["text"]
        self._touch("messages", "composer")

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
                conv.messages.append(_user_from_view(view))
                conv.rev += 1
        conv.start_turn(msg.get("turn_id"))
        self._touch("messages", "composer", "footer")

    def _page_context(self, msg, entry):
        if entry is None:
            return
        action = entry["data"]["action"]
        error = msg.get("error")
        context = msg.get("context")
        if error or not context:
            text = (error or {}).get("message") or "This page cannot be read."
            self._banner("page", "error", text)
            return
        if action == "explain" and not (context.get("selection") or "").strip():
            self._banner("page", "error", "Select some text on the page first, then try again.")
            return
        self._dismiss("page")
        if action == "attach":
            self.context = context
            self._touch("composer")
        elif action == "summarize":
            self._post_send(SUMMARIZE_PROMPT, context)
        elif action == "explain":
            self._post_send(EXPLAIN_PROMPT, context)

    def _export_reply(self, msg, entry):
        if entry is None:
            return
        self._offer_download(entry["data"], msg)

    def _offer_download(self, data, msg):
        conv = data["conv"]
        if msg is None:
            title = conv.title or "conversation"
            msg = {"filename": _slug(title) + ".md", "mime": "text/markdown", "text": export_markdown(conv)}
        self.download = {
            "filename": msg.get("filename") or "conversation.md",
            "mime": msg.get("mime") or "text/markdown",
            "text": msg.get("text") or "",
            "action": data["action"],
        }
        self._touch("footer")

    # ----------------------------------------------------------------- turn pushes

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

    # ================================================================== intents

    def make_ping(self, now):
        """Return the ping message to send; its pong fills ``ping_result``."""
        ping_id = self._new_id()
        self._pending_pings[ping_id] = now
        return {"type": "ping", "id": ping_id}

    def can_send(self):
        # Also while the boot failed: the message waits, and the worker retries its boot on
        # the next event (the relay's heartbeat at the latest).
        return self.phase != CLOSED and not self.conv.busy

    def send(self, text):
        """The composer's Enter: send (or queue) ``text``. False when it was not taken."""
        if not text.strip() or not self.can_send():
            return False
        expanded = templates.expand(text, self.templates)
        prompt = text if expanded is None else expanded
        if len(prompt) > MAX_MESSAGE_CHARS:
            self._banner("busy", "error", "Messages are limited to %s characters; this one has %s."
                         % (_thousands(MAX_MESSAGE_CHARS), _thousands(len(prompt))))
            return False
        if self.editing:
            self.editing = False
            self._request("edit", {"type": "chat.edit", "conversation_id": self.conv.id, "text": prompt},
                          {"conv": self.conv})
            self._touch("composer")
            return True
        context = self.context
        self.context = None
        self._post_send(prompt, context)
        return True

    def _post_send(self, text, context):
        if not self.can_send():
            self._banner("busy", "error", "Wait for the current reply to finish, or stop it.")
            return
        self._dismiss_requests()
        conv = self.conv
        self._client_seq += 1
        client_id = "%s-%d" % (self.session, self._client_seq)
        msg = {"type": "chat.send", "text": text, "client_id": client_id}
        if conv.id is not None:
            msg["conversation_id"] = conv.id
        else:
            if conv.model:
                msg["model"] = conv.model
            if conv.reasoning_effort:
                msg["reasoning_effort"] = conv.reasoning_effort
        if context:
            msg["context"] = context
        local = _user_from_view({"role": "user", "text": text, "context": context, "client_id": client_id})
        conv.messages.append(local)
        conv.rev += 1
        self._request("send", msg, {"conv": conv, "client_id": client_id, "context": context})
        local.pending = "sending" if self.phase == READY else "queued"
        self._touch("messages", "composer")

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
        if conv.id is None or conv.busy or self.phase == CLOSED:
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

    def quick_action(self, action):
        """"summarize" (the page), "explain" (the selection), "attach" (page to the composer)."""
        if action != "attach" and not self.can_send():
            self._banner("busy", "error", "Wait for the current reply to finish, or stop it.")
            return
        include = "selection" if action == "explain" else "page"
        self._request("page", {"type": "page.context", "include": include}, {"action": action})

    def clear_context(self):
        self.context = None
        self._touch("composer")

    # ---------------------------------------------------------- conversations

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

    @property
    def templates(self):
        return self.settings.get("templates") or []

    def header(self):
        """The pickers: ``{"models", "model", "efforts", "effort"}``."""
        s = self.settings
        model = self.conv.model or s.get("model") or ""
        models = list(s.get("models") or [])
        if model and model not in models:
            models.insert(0, model)
        effort = self.conv.reasoning_effort or s.get("reasoning_effort") or ""
        efforts = list(EFFORTS)
        if effort and effort not in efforts:
            efforts.append(effort)
        return {"models": models, "model": model, "efforts": efforts, "effort": effort}

    # ------------------------------------------------------------------ export

    def export(self, action):
        """Export the conversation as Markdown; ``action`` is "download" or "copy"."""
        conv = self.conv
        if conv.id is None:
            if conv.messages:
                self._offer_download({"conv": conv, "action": action}, None)
            return
        msg = {"type": "conv.export", "conversation_id": conv.id, "format": "markdown"}
        self._request("export", msg, {"conv": conv, "action": action})

    def take_download(self):
        d = self.download
        self.download = None
        return d

    def take_composer_fill(self):
        text = self.composer_fill
        self.composer_fill = None
        return text

    def message_text(self, key):
        m = self.conv.find(key)
        return None if m is None else m.text

    # ================================================================== banners

    def _banner(self, key, level, text, detail=None, until=None, action=None, prefix="retry in "):
        self._dismiss(key)
        self.banners.append(
            {"key": key, "level": level, "text": text, "detail": detail, "until": until,
             "action": action, "prefix": prefix}
        )
        self._touch("banners")

    def _has_banner(self, key):
        return any(b["key"] == key for b in self.banners)

    def _dismiss(self, key):
        kept = [b for b in self.banners if b["key"] != key]
        if len(kept) != len(self.banners):
            self.banners = kept
            self._touch("banners")

    def _dismiss_requests(self):
        kept = [b for b in self.banners if not b["key"].startswith("req-") and b["key"] != "busy"]
        if len(kept) != len(self.banners):
            self.banners = kept
            self._touch("banners")

    def dismiss(self, key):
        self._dismiss(key)

    def banner_views(self, wall):
        """Banners as shown at ``wall``: ``[{"key", "level", "text", "action"}]``."""
        out = []
        for b in self.banners:
            text = b["text"]
            if b["detail"]:
                text += " · " + b["detail"]
            if b["until"] is not None:
                left = fmt.countdown(b["until"], wall)
                if left > 0:
                    text += " · " + b["prefix"] + fmt.duration(left)
            out.append({"key": b["key"], "level": b["level"], "text": text, "action": b["action"]})
        return out

    @property
    def counting_down(self):
        return any(b["until"] is not None for b in self.banners)

    # ================================================================== outputs

    @property
    def ready(self):
        return self.phase == READY

    @property
    def ticking(self):
        """True while the status line shows a running clock."""
        return self.phase in (STARTING, RECONNECTING)

    def status_text(self, now):
        seconds = max(0, now - self.boot_origin) / 1000
        if self.phase == STARTING:
            return "Starting Python… %.1f s" % seconds
        if self.phase == RECONNECTING:
            return "Reconnecting… %.1f s" % seconds
        if self.phase == READY:
            return "Ready"
        return self.error or "Stopped"

    def usage_text(self):
        return fmt.usage_line(self.last_usage, self.conv.usage, self.conv.context_left)

    def rate_limit_rows(self, wall):
        return fmt.rate_limit_rows(self.limits, self.limits_at, wall)

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

    def pending_label(self, message):
        if message.pending == "queued":
            return "Queued: sends when SidePy is ready"
        if message.pending == "sending":
            return "Sending…"
        return ""


def _user_from_view(view):
    m = message_from_view(view)
    m.role = "user"
    return m


def _thousands(n):
    text = str(n)
    out = []
    while len(text) > 3:
        out.insert(0, text[-3:])
        text = text[:-3]
    out.insert(0, text)
    return ",".join(out)


def _slug(title):
    out = []
    for ch in title.lower():
        if ("a" <= ch <= "z") or ("0" <= ch <= "9"):
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return ("".join(out).strip("-") or "conversation")[:60]
