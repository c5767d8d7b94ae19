# One message on screen, and the markdown of a reply as it streams (MicroPython under
# PyScript; not imported by the tests). panel.render keeps one MessageDom per message,
# keyed by ``Message.key``, and calls ``update`` when the message's ``rev`` moved or
# its markdown is not finished. A reply's text (panel.blocks) is one node per finished
# block, rendered once, and one node for the growing tail, rendered again as it grows
# but never more often than TAIL_COST_FACTOR times its last render time allows.

from panel import attachments, errors, fmt
from panel.dom import button, el, now_ms, show
from panel.mdprep import cut_open_math

EXCERPT_CHARS = 1500  # of an attached page, shown under the message that carried it

TAIL_COST_FACTOR = 3  # the tail is re-rendered at most every 3x its last render time
SLOW_TAIL_MS = 50  # a tail this slow to render is shown as plain text until its block is finished


class Budget:
    """Markdown time left in this frame."""

    def __init__(self, ms):
        self.end = now_ms() + ms

    def out(self):
        return now_ms() > self.end


class BlocksDom:
    """A BlockText rendered as markdown: one node per finished block, one for the tail."""

    def __init__(self, box):
        self.box = box
        self.body = None
        self.checked = 0  # blocks known to match self.body
        self.nodes = []
        self.srcs = []
        self.tail = el("div", "b")
        self.tail_src = ""
        self.tail_rev = -1
        self.tail_due = 0
        self.slow = False
        self.tail_block = 0
        box.append(self.tail)

    def sync(self, body, md, budget, streaming):
        """Bring the DOM up to ``body``; False when work is left for another frame."""
        if body is not self.body:
            # A new text (a reload, or the final reply): compare block by block and keep
            # the nodes of equal ones. The same text only ever grows: blocks already
            # checked against it stay right.
            self.body = body
            self.checked = 0
            self.tail_rev = -1
        n = len(body.blocks)
        i = self.checked
        while i < n:
            prefix = body.prefixes[i]
            src = prefix + body.blocks[i] if prefix else body.blocks[i]
            if i < len(self.srcs) and self.srcs[i] == src:
                i += 1
                self.checked = i
                continue
            if budget.out():
                return False
            if i < len(self.nodes):
                node = self.nodes[i]
                self.srcs[i] = src
            else:
                node = el("div", "b")
                self.box.insertBefore(node, self.tail)
                self.nodes.append(node)
                self.srcs.append(src)
            md.render(node, src)
            i += 1
            self.checked = i
        while len(self.nodes) > n:
            self.nodes.pop().remove()
            self.srcs.pop()
        if len(self.srcs) != self.tail_block:
            self.tail_block = len(self.srcs)  # a new tail block: give markdown another chance
            self.slow = False
        if body.rev == self.tail_rev:
            return True
        tail = body.tail()
        src = body.tail_prefix + tail if tail else ""
        if src == self.tail_src:
            self.tail_rev = body.rev
            return True
        t0 = now_ms()
        if streaming and t0 < self.tail_due:
            return False
        if budget.out() and streaming:
            return False
        pending = False
        if streaming:
            src, pending = cut_open_math(src)  # a formula shows once it is complete
        if streaming and self.slow:
            self.tail.textContent = src  # hostile or huge markdown: text now, markdown once finished
        else:
            md.render(self.tail, src, not streaming or len(src) < 4000)
        if pending:
            self.tail.append(el("p", "formula-pending", "Writing a formula…"))
        cost = now_ms() - t0
        if streaming and cost > SLOW_TAIL_MS:
            self.slow = True
        self.tail_due = t0 + cost * TAIL_COST_FACTOR
        self.tail_src = src
        self.tail_rev = body.rev
        return True


class MessageDom:
    def __init__(self, msg):
        self.key = msg.key
        self.rev = -1
        self.role = msg.role
        self.el = el("article", "msg " + msg.role)
        self.el.setAttribute("data-key", msg.key)
        self.ctx = el("details", "ctx")
        self.ctx_summary = el("summary")
        self.ctx_body = el("blockquote", "ctx-body")
        self.ctx.append(self.ctx_summary, self.ctx_body)
        self.reasoning = None  # (details, summary, BlocksDom)
        self.searches = el("div", "searches")
        # The test hook holds the message text only (actions and notes are outside it).
        self.content = el("div", "md" if msg.role == "assistant" else "plain")
        self.content.setAttribute("data-testid", "message-" + msg.role)
        self.meta = el("div", "meta")
        # "‹ 2/3 ›": the versions of the answer (regenerated) or of the branch (an edited question).
        self.versions = el("div", "versions")
        self.versions.setAttribute("data-testid", "versions")
        self.prev = button("‹", "version", "Previous version", "icon")
        self.next = button("›", "version", "Next version", "icon")
        self.version_label = el("span", "v")
        self.versions.append(self.prev, self.version_label, self.next)
        self.actions = el("div", "actions")
        self.actions.append(button(None, "copy", "Copy message", "copy"))
        self.edit_btn = None
        self.editable = None
        if msg.role == "user":
            self.edit_btn = button(None, "edit", "Edit this message (the conversation continues from it)",
                                   "edit")
            self.edit_btn.setAttribute("data-testid", "edit-message")
            self.actions.append(self.edit_btn)
        # A user message's screenshots and files: thumbnails (images) or named tiles, to open.
        self.tiles = el("div", "tiles")
        self.tiles.setAttribute("data-testid", "message-attachments")
        self.tiles_shown = None
        self.el.append(self.ctx, self.tiles, self.searches, self.content, self.meta, self.versions,
                       self.actions)
        self.blocks = BlocksDom(self.content) if msg.role == "assistant" else None
        self.plain_len = -1
        self.plain_body = None
        self.done = True

    def update(self, msg, state, md, budget):
        """Repaint what changed; False when markdown work is left for another frame."""
        changed = msg.rev != self.rev
        if changed:
            self.rev = msg.rev
            self._chrome(msg, state)
        if self.edit_btn is not None:
            editable = state.turn.can_edit(msg)
            if editable != self.editable:
                self.editable = editable
                show(self.edit_btn, editable)
            self.el.classList.toggle("editing", state.turn.editing == msg.key)
        if not changed and self.done:
            return True
        if self.blocks is None:
            if msg.body is not self.plain_body or msg.body.length != self.plain_len:
                self.content.textContent = msg.text
                self.plain_body = msg.body
                self.plain_len = msg.body.length
            self.done = True
            return True
        done = self.blocks.sync(msg.body, md, budget, msg.streaming)
        if self.reasoning is not None and self.reasoning[0].open and msg.reasoning is not None:
            done = self.reasoning[2].sync(msg.reasoning, md, budget, msg.streaming) and done
        self.done = done
        return done

    def _chrome(self, msg, state):
        article = self.el
        article.classList.toggle("streaming", bool(msg.streaming))
        article.setAttribute("aria-busy", "true" if msg.streaming else "false")
        article.classList.toggle("pending", bool(msg.pending))
        self._context(msg.context)
        self._tiles(msg.attachments)
        if msg.reasoning is not None and self.reasoning is None:
            details = el("details", "reasoning")
            summary = el("summary", None, "Reasoning")
            box = el("div", "md")
            details.append(summary, box)
            self.el.insertBefore(details, self.searches)
            self.reasoning = (details, summary, BlocksDom(box))
            details.setAttribute("data-key", msg.key)
        if self.reasoning is not None:
            self.reasoning[1].textContent = "Thinking…" if msg.streaming and not msg.text else "Reasoning"
        if msg.searches:
            queries = [q for _, q in msg.searches if q]
            label = "Searching the web" if msg.streaming else "Searched the web"
            self.searches.textContent = label + (": " + ", ".join(queries) if queries else "…")
        show(self.searches, bool(msg.searches))
        parts = []
        if msg.pending:
            parts.append(state.composer.pending_label(msg))
        if msg.stopped and not msg.error:
            parts.append("Stopped")
        if msg.error and msg.error.get("kind") == "incomplete":
            # The answer ended early on the server's side: its reason, under what arrived.
            parts.append(msg.error.get("message") or "The answer is incomplete.")
        elif msg.error:
            # A mark, not the explanation: the banner says what happened and what to do, once.
            parts.append("Answer cut off" if msg.text else "No answer")
            self.meta.title = errors.explain(msg.error, msg.model)["text"]
        if msg.role == "assistant" and not msg.streaming:
            if msg.model:
                parts.append(msg.model)
            if msg.usage:
                parts.append(" · ".join(fmt.usage_parts(msg.usage)))
        self.meta.textContent = " · ".join(parts)
        self.meta.classList.toggle("error", bool(msg.error))
        cut = bool(msg.error) and bool(msg.text) and msg.error.get("kind") != "incomplete"
        article.classList.toggle("cut", cut)
        show(self.meta, bool(parts))
        v = msg.versions
        if v and (v.get("count") or 0) > 1:
            index, count = v.get("index") or 1, v["count"]
            self.version_label.textContent = "%d/%d" % (index, count)
            self.prev.setAttribute("data-index", str(index - 1))
            self.next.setAttribute("data-index", str(index + 1))
            self.prev.disabled = index <= 1
            self.next.disabled = index >= count
            what = "answer" if msg.role == "assistant" else "branch"
            self.versions.setAttribute("aria-label", "Version %d of %d of this %s" % (index, count, what))
        show(self.versions, bool(v) and (v.get("count") or 0) > 1)

    def _tiles(self, views):
        shown = attachments.tiles(views)
        if shown == self.tiles_shown:
            return
        self.tiles_shown = shown
        self.tiles.textContent = ""
        for tile in shown:
            b = button(None, "open-attachment", "Open " + tile["label"])
            b.setAttribute("data-id", tile["id"])
            b.setAttribute("data-name", tile["name"])
            b.setAttribute("data-kind", tile["kind"])
            if tile["thumb"]:
                img = el("img")
                img.src = tile["thumb"]  # a data: URL the worker made
                img.alt = tile["name"]
                b.append(img)
            else:
                b.append(el("span", "file", attachments.badge(tile)), el("span", "name", tile["name"]))
            self.tiles.append(b)
        show(self.tiles, bool(shown))

    def _context(self, ctx):
        """The page or quote the message carried, collapsed under one line."""
        show(self.ctx, bool(ctx))
        if not ctx:
            return
        title = ctx.get("title") or ctx.get("url") or "the page"
        selection = " ".join((ctx.get("selection") or "").split())
        if selection:
            self.ctx_summary.textContent = "Selection from " + title
            self.ctx_body.textContent = selection
        else:
            self.ctx_summary.textContent = "Page: " + title
            text = ctx.get("text") or ""
            if len(text) > EXCERPT_CHARS:
                total = fmt.thousands(ctx.get("chars") or len(text))
                text = text[:EXCERPT_CHARS] + "… (" + total + " characters)"
            self.ctx_body.textContent = text
        self.ctx.title = ctx.get("url") or ""
