"""The composer: sending a message, templates, the page context it carries, exports.

A part of :class:`panel.state.PanelState`. ``send`` expands a ``/name`` template,
refuses what the worker would refuse (over-long text), and posts ``chat.send`` with a
``client_id``; the message shows at once, marked pending until ``chat.accepted``
(the turn's ``add_local``). While a message is being edited, ``send`` hands the text
to the turn (``chat.edit``). A refused send puts its text back in the composer
(``unsend``): what the user typed is never lost.

Page context (the chip above the composer, ``context``): "Summarize this page" reads
the page and sends a prompt naming it; "Ask about selection" attaches the selection
and waits for an instruction ("translate this"; Enter alone explains it); "Attach
page" attaches the page's text to the next message. What is attached can be opened
and read before sending (``context_open``).
"""

from panel import attachments, errors, fmt, templates
from panel.connection import CLOSED, READY
from panel.conversation import export_markdown

MAX_MESSAGE_CHARS = 100000  # the worker refuses longer messages (background/protocol.py)
SUMMARIZE_PROMPT = "Summarize this page."
EXPLAIN_PROMPT = "Explain the selected text."
WAIT = "Wait a moment: your last message is still being sent."


def summarize_prompt(context, templates_=None):
    """The summary's prompt names the page (it becomes the conversation's title).

    The user's ``/summarize`` template, when there is one, is the prompt: ``{input}`` in it
    is the page's title.
    """
    title = " ".join((context.get("title") or "").split())
    if len(title) > 80:
        title = title[:79] + "…"
    own = templates.prompt_of("summarize", templates_)
    if own:
        return own.replace("{input}", title or "this page")
    return "Summarize “%s”." % title if title else SUMMARIZE_PROMPT


class Composer:
    def __init__(self, conn, rev, turn, banners, setup, attachments):
        self.conn = conn
        self.rev = rev
        self.attachments = attachments  # panel.attachments.Attachments: the chips above the composer
        self.turn = turn
        self.banners = banners
        self.setup = setup
        self._client_seq = 0
        self.context = None  # PageContext attached to the next message (the chip)
        self.context_open = False  # the chip is opened to read what is attached
        self.fill = None  # text for the renderer to put in the composer, once
        self.download = None  # {"filename", "mime", "text", "action"} for the renderer, once

    # ----------------------------------------------------------------- sending

    def can_send(self):
        # Also while the boot failed: the message waits, and the worker retries its boot on
        # the next event (the relay's heartbeat at the latest). Also while a reply streams:
        # the worker queues the message. Not while a send of this conversation waits for
        # chat.accepted: a new chat has no id to send the next one with before it.
        return self.conn.phase != CLOSED and not any(m.pending for m in self.turn.conv.messages)

    @property
    def placeholder(self):
        if self.turn.editing is not None:
            return "Edit your message (Enter sends, Escape cancels)"
        if self.context and self.context.get("selection"):
            return "What should SidePy do with the selection? (Enter alone: explain it)"
        return "Message SidePy… (/ for templates)"

    def send(self, text):
        """The composer's Enter: send (or queue) ``text``. False when it was not taken."""
        editing = self.turn.editing is not None
        if not text.strip():
            if self.context and self.context.get("selection") and not editing:
                # The selection's default instruction: the user's /explain template, if any.
                text = templates.prompt_of("explain", self.setup.templates) or EXPLAIN_PROMPT
            elif self.attachments.chips and not editing:
                text = ""  # a screenshot or a file alone: the model is asked about it as it is
            else:
                return False
        if not self.can_send():
            return False
        if self.attachments.busy and not editing:
            self.banners.say("composer", attachments.BUSY)
            return False
        expanded = templates.expand(text, self.setup.templates)
        prompt = text if expanded is None else expanded
        if len(prompt) > MAX_MESSAGE_CHARS:
            self.banners.say("composer", "Messages are limited to %s characters; this one has %s."
                             % (fmt.thousands(MAX_MESSAGE_CHARS), fmt.thousands(len(prompt))))
            return False
        self.banners.dismiss("composer")
        if self.turn.editing is not None:
            self.turn.edit(prompt)
            return True
        context = self.context
        self.context = None
        self.context_open = False
        self._post(prompt, context)
        return True

    def _post(self, text, context):
        if not self.can_send():
            self.banners.say("composer", WAIT)
            return
        self.banners.dismiss("request")
        conv = self.turn.conv
        self._client_seq += 1
        client_id = "%s-%d" % (self.conn.session, self._client_seq)
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
        chips = self.attachments.take()
        if chips:
            msg["attachments"] = [chip["id"] for chip in chips]
        self.turn.add_local(text, context, client_id, self.conn.phase == READY, chips)
        self.conn.request("send", msg, {"conv": conv, "client_id": client_id, "context": context,
                                        "attachments": chips})

    def unsend(self, entry):
        """A send or edit was refused: its text (and page context) goes back to the composer."""
        data = entry["data"] or {}
        if entry["kind"] == "send" and data.get("context") and self.context is None:
            self.context = data["context"]
        if entry["kind"] == "send" and data.get("attachments"):
            self.attachments.put_back(data["attachments"])
        if entry["kind"] in ("send", "edit"):
            self.fill = entry["msg"]["text"]
        self.rev.touch("composer")

    def take_back(self):
        """Stop before the worker saw it: a send still waiting is taken back. True if one was."""
        conv = self.turn.conv
        waiting = self.conn.pending("send", lambda e: not e["sent"] and e["data"]["conv"] is conv)
        if not waiting:
            return False
        entry = waiting[0]
        self.conn.forget(entry)
        self.turn.refused(entry)
        self.unsend(entry)
        return True

    def put_back(self, text):
        """Text to put in the composer (a cancelled queued message)."""
        self.fill = text
        self.rev.touch("composer")

    def start_edit(self, key):
        text = self.turn.start_edit(key)
        if text is not None:
            self.fill = text
            self.rev.touch("composer")

    def cancel_edit(self):
        if self.turn.editing is not None:
            self.turn.cancel_edit()
            self.fill = ""
            self.rev.touch("composer")

    # ------------------------------------------------------ page context

    def quick_action(self, action):
        """"summarize" (the page), "explain" (the selection), "attach" (page to the composer)."""
        if action == "summarize" and not self.can_send():
            self.banners.say("composer", WAIT)
            return
        include = "selection" if action == "explain" else "page"
        msg = {"type": "page.context", "include": include}
        model = self.turn.header()["model"]
        if model:
            msg["model"] = model  # the page's budget follows the model's context window
        self.conn.request("page", msg, {"action": action})

    def clear_context(self):
        self.context = None
        self.context_open = False
        self.rev.touch("composer")

    def toggle_context(self):
        self.context_open = not self.context_open and self.context is not None
        self.rev.touch("composer")

    def selection_pushed(self, context):
        """``page.selection`` (the context menu, the shortcut): it waits for an instruction."""
        if context:
            self.context = context
            self.context_open = False
            self.rev.touch("composer")

    def page_context(self, msg, entry):
        action = entry["data"]["action"]
        error = msg.get("error")
        context = msg.get("context")
        if error or not context:
            unreadable = {"kind": "page_unavailable", "message": "SidePy cannot read this page."}
            n = errors.explain(error or unreadable)
            self.banners.show("page", n)
            return
        selection = (context.get("selection") or "").strip()
        if action == "explain" and not selection:
            self.banners.say("page", "Select some text on the page first, then try again.")
            return
        self.banners.dismiss("page")
        if action == "attach":
            context = dict(context)
            context.pop("selection", None)  # "Attach page" sends the page, whatever is selected
            self.context = context
        elif action == "explain":
            self.context = context  # the instruction comes next (Enter alone explains it)
        elif action == "summarize":
            self._post(summarize_prompt(context, self.setup.templates), context)
            return
        self.context_open = False
        self.rev.touch("composer")

    # ------------------------------------------------------------ export

    def export(self, action, kind="markdown"):
        """Export the shown conversation: ``action`` "download" or "copy"; ``kind`` "markdown" or "json"."""
        conv = self.turn.conv
        data = {"conv": conv, "action": action, "format": kind}
        if conv.id is None:
            if conv.messages:
                self._offer(data, None)  # a draft the worker has not stored yet
            return
        self.conn.request("export", {"type": "conv.export", "conversation_id": conv.id, "format": kind}, data)

    def exported(self, msg, entry):
        self._offer(entry["data"], msg)

    def export_refused(self, entry):
        """An older worker without conv.export: export what the panel holds (Markdown)."""
        self._offer(entry["data"], None)

    def _offer(self, data, msg):
        conv = data["conv"]
        if msg is None:
            title = conv.title or "conversation"
            msg = {"filename": _slug(title) + ".md", "mime": "text/markdown", "text": export_markdown(conv)}
        self.download = {
            "filename": msg.get("filename") or "conversation.md",
            "mime": msg.get("mime") or "text/markdown",
            "text": msg.get("text") or "",
            "action": data.get("action") or "download",
        }
        self.rev.touch("composer")

    def take_download(self):
        d = self.download
        self.download = None
        return d

    def take_fill(self):
        text = self.fill
        self.fill = None
        return text

    def pending_label(self, message):
        if message.pending == "queued":
            return "Queued: sends when SidePy is ready"
        if message.pending == "sending":
            return "Sending…"
        return ""


def _slug(title):
    out = []
    for ch in title.lower():
        if ("a" <= ch <= "z") or ("0" <= ch <= "9"):
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return ("".join(out).strip("-") or "conversation")[:60]
