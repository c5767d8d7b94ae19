# The panel's DOM renderer (MicroPython under PyScript; not imported by the tests).
#
# Reads panel.state.PanelState and updates the page by keyed, incremental changes:
# each section repaints only when its revision in ``state.rev`` moved; messages are
# DOM nodes keyed by ``Message.key`` (panel.message_dom) and updated when their
# ``rev`` moved; a reply's text is a list of block nodes (panel.blocks) where finished
# blocks are rendered once and only the growing tail is rendered again. ``paint`` runs
# at most once per animation frame (panel.main schedules it) and spends at most
# FRAME_BUDGET_MS on markdown; what is left is done in the next frames.

from pyscript import window

from panel import fmt
from panel import templates as tpl
from panel.dom import button, el, fill_select, g, icon_button, show
from panel.md import Markdown
from panel.message_dom import Budget, MessageDom

FRAME_BUDGET_MS = 12

PENCIL = ('<svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14"><path d="M11 2.5l2.5 2.5L6 12.5'
          ' 3 13l.5-3z" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/></svg>')
PIN = ('<svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14"><path d="M6 2.5h4l-.5 4 2 2v1'
       'h-7v-1l2-2zM8 9.5V14" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/>'
       '</svg>')
TRASH = ('<svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14"><path d="M3 4.5h10'
         'M6.5 4.5V3h3v1.5M4.5 4.5l.7 8.5h5.6l.7-8.5" fill="none" stroke="currentColor" stroke-width="1.4"'
         ' stroke-linejoin="round"/></svg>')


class Renderer:
    def __init__(self, state):
        self.state = state
        self.md = Markdown()
        self.status = g("status")
        self.title = g("conv-title")
        self.model = g("model")
        self.effort = g("effort")
        self.drawer = g("drawer")
        self.list = g("conv-items")
        self.storage = g("storage")
        self.scroller = g("scroller")
        self.log = g("messages")
        self.empty = g("empty")
        self.loading = g("loading")
        self.thinking = g("thinking")
        self.banners = g("banners")
        self.queue = g("queue")
        self.composer = g("composer")
        self.send_btn = g("send")
        self.stop_btn = g("stop")
        self.regen_btn = g("regenerate")
        self.chip = g("context-chip")
        self.chip_text = g("context-text")
        self.chip_note = g("context-note")
        self.editing = g("editing")
        self.usage = g("usage")
        self.limits = g("rate-limits")
        self.ping = g("ping")
        self.ping_out = g("ping-result")
        self.quick = [g("summarize"), g("explain"), g("attach")]
        self.menu = g("template-menu")
        self.export_btns = [g("export-md"), g("copy-md")]
        self.seen = {}
        for name in state.rev:
            self.seen[name] = -1
        self.nodes = {}  # key -> MessageDom
        self.conv = None
        self.conv_rev = -1
        self.renaming = None  # conversation id being renamed
        self.confirm_delete = None
        self.suggestions = []
        self.selected = 0
        self.banner_second = -1
        self.queue_second = -1
        self.footer_second = -1

    def _due(self, name):
        if self.state.rev[name] != self.seen[name]:
            self.seen[name] = self.state.rev[name]
            return True
        return False

    def paint(self, now, wall):
        """Update the page; True when more frames are needed (markdown left to do)."""
        s = self.state
        self.status.textContent = s.status_text(now)
        self.status.classList.toggle("error", bool(s.error) and not s.ready)
        if self._due("header"):
            self._header()
        if self._due("list"):
            self._list()
        self._banners(wall)
        self._queue(wall)
        self._footer(wall)
        if self._due("composer"):
            self._composer()
        return self._messages()

    # ---------------------------------------------------------------- header

    def _header(self):
        s = self.state
        self.title.textContent = s.conv.title or "New chat"
        h = s.header()
        fill_select(self.model, [(m, m) for m in h["models"]], h["model"])
        show(self.model, bool(h["models"]))
        efforts = [("", "Default effort")] + [(e, e[:1].upper() + e[1:]) for e in h["efforts"]]
        fill_select(self.effort, efforts, h["effort"])
        has = s.conv.id is not None or bool(s.conv.messages)
        for b in self.export_btns:
            b.disabled = not has

    # ------------------------------------------------------------------ list

    def _list(self):
        s = self.state
        self.list.replaceChildren()
        items = s.visible_conversations()
        for c in items:
            li = el("li", "conv")
            cid = c.get("id")
            li.setAttribute("data-id", cid)
            if cid == s.conv.id:
                li.classList.add("active")
            if cid == self.renaming:
                field = el("input", "rename")
                field.value = c.get("title") or ""
                field.setAttribute("aria-label", "New title")
                field.setAttribute("data-action", "rename-field")
                li.append(field)
            else:
                open_btn = button("", "open", None, "open")
                open_btn.append(el("span", "t", c.get("title") or "Untitled"))
                preview = fmt.plain_preview(c.get("preview"))
                if preview:
                    open_btn.append(el("span", "p", preview))
                if cid == s.conv.id:
                    open_btn.setAttribute("aria-current", "true")
                li.append(open_btn)
                name = c.get("title") or ""
                pinned = bool(c.get("pinned"))
                pin = icon_button(PIN, "pin", ("Unpin " if pinned else "Pin ") + name)
                pin.setAttribute("aria-pressed", "true" if pinned else "false")
                pin.classList.toggle("on", pinned)
                li.append(pin)
                li.append(icon_button(PENCIL, "rename", "Rename " + name))
                if cid == self.confirm_delete:
                    li.append(button("Delete?", "delete", "Confirm: delete " + name, "icon danger"))
                else:
                    li.append(icon_button(TRASH, "delete", "Delete " + name))
            self.list.append(li)
        if not items:
            empty = "No conversations found." if s.query else "No conversations yet."
            self.list.append(el("li", "conv none", empty))
        self.storage.textContent = s.storage_text()
        if self.renaming is not None:
            field = self.list.querySelector("input.rename")
            if field is not None:
                field.focus()
                field.select()

    # --------------------------------------------------------------- banners

    def _banners(self, wall):
        s = self.state
        second = int(wall // 1000)
        if not self._due("banners") and not (s.counting_down and second != self.banner_second):
            return
        self.banner_second = second
        self.banners.replaceChildren()
        for b in s.banner_views(wall):
            row = el("div", "banner " + b["level"])
            row.append(el("span", "text", b["text"]))
            if b["action"] == "regenerate":
                row.append(button("Try again", "retry"))
            x = button("×", "dismiss", "Dismiss", "icon")
            x.setAttribute("data-key", b["key"])
            row.append(x)
            self.banners.append(row)
        show(self.banners, bool(s.banners))

    # ----------------------------------------------------------------- queue

    def _queue(self, wall):
        s = self.state
        second = int(wall // 1000)
        if not self._due("queue") and not (s.queue_counting and second != self.queue_second):
            return  # a hold's countdown changes once a second
        self.queue_second = second
        self.queue.replaceChildren()
        views = s.queue_views(wall)
        for q in views:
            li = el("li", "queued")
            li.setAttribute("data-queue-id", q["queue_id"])
            li.append(el("span", "pos", "%d." % q["position"]))
            body = el("span", "q-body")
            body.append(el("span", "q-text", q["text"]))
            status = q["status"] + (" · " + q["where"] if q["where"] else "")
            body.append(el("span", "q-status", status))
            li.append(body)
            if q["position"] == 1 and s.can_send_now(wall):
                now = button("Send now", "send-now", "Send now, without waiting for the reset", "link")
                now.setAttribute("data-testid", "queue-send-now")
                li.append(now)
            x = button("×", "cancel-queued", "Cancel this queued message", "icon")
            x.setAttribute("data-testid", "queue-cancel")
            x.setAttribute("data-queue-id", q["queue_id"])
            li.append(x)
            self.queue.append(li)
        show(self.queue, bool(views))

    # ---------------------------------------------------------------- footer

    def _footer(self, wall):
        s = self.state
        due = self._due("footer")
        second = int(wall // 1000)
        if not due and (s.limits is None or second == self.footer_second):
            return  # the "resets in" countdowns change once a second
        self.footer_second = second
        text = s.usage_text()
        self.usage.textContent = text
        show(self.usage, bool(text))
        rows = s.rate_limit_rows(wall)
        self.limits.replaceChildren()
        for r in rows:
            row = el("div", "limit")
            row.append(el("span", "label", r["label"]))
            if r["used_percent"] is not None:
                bar = el("span", "bar")
                fill = el("span", "fill")
                used = max(0.0, min(100.0, float(r["used_percent"])))
                fill.style.width = "%d%%" % int(used + 0.5)
                if used >= 90:
                    fill.classList.add("high")
                bar.append(fill)
                bar.setAttribute("role", "meter")
                bar.setAttribute("aria-valuenow", str(int(used + 0.5)))
                bar.setAttribute("aria-valuemin", "0")
                bar.setAttribute("aria-valuemax", "100")
                bar.setAttribute("aria-label", r["label"] + " used")
                row.append(bar)
            row.append(el("span", "text", r["text"]))
            self.limits.append(row)
        show(self.limits, bool(rows))
        if due:
            self.ping.disabled = not s.ready
            if s.ping_result:
                self.ping_out.textContent = s.ping_result

    # -------------------------------------------------------------- composer

    def _composer(self):
        s = self.state
        busy = s.conv.busy
        # While a reply streams both show: what is sent now waits in the worker's queue.
        show(self.send_btn, not busy or s.can_send())
        show(self.stop_btn, busy)
        self.stop_btn.disabled = s.conv.stopping
        self.regen_btn.disabled = not s.can_regenerate()
        show(self.regen_btn, s.can_regenerate())
        for b in self.quick:
            b.disabled = not s.can_send()
        ctx = s.context
        if ctx:
            if ctx.get("selection"):
                sel = " ".join(ctx["selection"].split())
                sel = sel[:80] + "…" if len(sel) > 80 else sel
                text = "Selection: “" + sel + "” · " + (ctx.get("title") or "")
            else:
                text = "Page: " + (ctx.get("title") or ctx.get("url") or "this page") + " · " + fmt.tokens(
                    ctx.get("chars") or len(ctx.get("text") or "")) + " chars"
                if ctx.get("truncated") and not ctx.get("note"):
                    text += " (trimmed)"
            self.chip_text.textContent = text
            self.chip.title = ctx.get("url") or ""
            note = ctx.get("note") or ""
            self.chip_note.textContent = note
            show(self.chip_note, bool(note))
        show(self.chip, bool(ctx))
        show(self.editing, s.editing)
        self.composer.disabled = s.phase == "closed"
        fill = s.take_composer_fill()
        if fill is not None and (not self.composer.value.strip() or s.editing):
            self.composer.value = fill
            self.autosize()
            self.composer.focus()

    def autosize(self):
        c = self.composer
        c.style.height = "auto"
        c.style.height = str(min(c.scrollHeight + 2, int(window.innerHeight * 0.4))) + "px"

    def show_suggestions(self, text):
        self.suggestions = tpl.suggestions(text, self.state.templates)
        self.selected = 0
        self._menu()

    def move_suggestion(self, step):
        if self.suggestions:
            self.selected = (self.selected + step) % len(self.suggestions)
            self._menu()

    def _menu(self):
        self.menu.replaceChildren()
        for i, t in enumerate(self.suggestions):
            li = el("li", "opt")
            li.setAttribute("role", "option")
            li.setAttribute("id", "tpl-%d" % i)
            li.setAttribute("data-action", "template")
            li.setAttribute("data-name", t["name"])
            li.setAttribute("aria-selected", "true" if i == self.selected else "false")
            li.append(el("b", None, "/" + t["name"]))
            li.append(el("span", None, " " + " ".join(t["prompt"].split())[:80]))
            self.menu.append(li)
        open_ = bool(self.suggestions)
        show(self.menu, open_)
        self.composer.setAttribute("aria-expanded", "true" if open_ else "false")
        if open_:
            self.composer.setAttribute("aria-activedescendant", "tpl-%d" % self.selected)
        else:
            self.composer.removeAttribute("aria-activedescendant")

    # -------------------------------------------------------------- messages

    def _messages(self):
        s = self.state
        conv = s.conv
        sc = self.scroller
        at_bottom = sc.scrollHeight - sc.scrollTop - sc.clientHeight < 48
        due = self._due("messages")
        if conv is not self.conv:
            self.conv = conv
            self.conv_rev = -1
            for node in self.nodes.values():
                node.el.remove()
            self.nodes = {}
        if conv.rev != self.conv_rev:
            self.conv_rev = conv.rev
            keep = {}
            for m in conv.messages:
                node = self.nodes.get(m.key)
                if node is None or node.role != m.role:
                    node = MessageDom(m)
                keep[m.key] = node
                self.log.append(node.el)  # (re)appending existing nodes only moves them
            for key, node in self.nodes.items():
                if keep.get(key) is not node:
                    node.el.remove()
            self.nodes = keep
        busy_left = False
        budget = Budget(FRAME_BUDGET_MS)
        last_user = conv.last("user")
        # Newest first: the reply being written matters most.
        for i in range(len(conv.messages) - 1, -1, -1):
            m = conv.messages[i]
            node = self.nodes.get(m.key)
            if node is not None and not node.update(m, s, self.md, budget, m is last_user):
                busy_left = True
        if due:
            show(self.empty, not conv.messages and not conv.loading)
            show(self.loading, conv.loading)
            last = conv.last()
            waiting = conv.turn_id is not None and conv.streaming is None
            show(self.thinking, waiting and last is not None and last.role == "user")
        if at_bottom:
            sc.scrollTop = sc.scrollHeight
        return busy_left

    def scroll_to_bottom(self):
        self.scroller.scrollTop = self.scroller.scrollHeight
