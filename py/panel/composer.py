"""The composer: sending a message, templates, the page-context chip, exports.

Part of :class:`panel.state.PanelState` (a mixin). ``send`` expands a ``/name``
template, refuses what the worker would refuse (over-long text), and posts
``chat.send`` with a ``client_id`` (or ``chat.edit`` while editing); the message shows
at once, marked pending until ``chat.accepted``. A refused send puts its text back in
the composer (``_unsend``): what the user typed is never lost. Quick actions read the
page (``page.context``) and send a canned prompt with it, or attach it to the next
message (``context``, the composer's chip).
"""

from panel import templates
from panel.connection import CLOSED, READY
from panel.conversation import export_markdown, user_from_view

MAX_MESSAGE_CHARS = 100000  # the worker refuses longer messages (background/protocol.py)
SUMMARIZE_PROMPT = "Summarize this page."
EXPLAIN_PROMPT = "Explain the selected text."
WAIT = "Wait a moment: your last message is still being sent."


class Composer:
    """Sending, editing, page context and exports (see the module docstring)."""

    def _init_composer(self):
        self._client_seq = 0
        self.context = None  # PageContext attached to the next message (the composer's chip)
        self.editing = False
        self.composer_fill = None  # text for the renderer to put in the composer, once
        self.download = None  # {"filename", "mime", "text", "action"} for the renderer, once

    # ----------------------------------------------------------------- sending

    def can_send(self):
        # Also while the boot failed: the message waits, and the worker retries its boot on
        # the next event (the relay's heartbeat at the latest). Also while a reply streams:
        # the worker queues the message. Not while a send of this conversation waits for
        # chat.accepted: a new chat has no id to send the next one with before it.
        return self.phase != CLOSED and not any(m.pending for m in self.conv.messages)

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
            self._banner("busy", "error", WAIT)
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
        local = user_from_view({"role": "user", "text": text, "context": context, "client_id": client_id})
        conv.messages.append(local)
        conv.rev += 1
        self._request("send", msg, {"conv": conv, "client_id": client_id, "context": context})
        local.pending = "sending" if self.phase == READY else "queued"
        self._touch("messages", "composer")

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

    # ------------------------------------------------------ page context

    def quick_action(self, action):
        """"summarize" (the page), "explain" (the selection), "attach" (page to the composer)."""
        if action != "attach" and not self.can_send():
            self._banner("busy", "error", WAIT)
            return
        include = "selection" if action == "explain" else "page"
        self._request("page", {"type": "page.context", "include": include}, {"action": action})

    def clear_context(self):
        self.context = None
        self._touch("composer")

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

    # ------------------------------------------------------------ export

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

    @property
    def templates(self):
        return self.settings.get("templates") or []

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

    def pending_label(self, message):
        if message.pending == "queued":
            return "Queued: sends when SidePy is ready"
        if message.pending == "sending":
            return "Sending…"
        return ""


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
