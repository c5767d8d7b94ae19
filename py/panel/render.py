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

from panel import attachments, errors, fmt
from panel import templates as tpl
from panel.dom import button, el, fill_select, g, icon_button, show
from panel.fmt import iso_ms
from panel.md import Markdown
from panel.message_dom import Budget, MessageDom
from panel.setup import PROVIDER_CHOICES
from panel.turn import EFFORT_LABELS

FRAME_BUDGET_MS = 12
NEAR_BOTTOM_PX = 48

PENCIL = ('<svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14"><path d="M11 2.5l2.5 2.5L6 12.5'
          ' 3 13l.5-3z" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/></svg>')
PIN = ('<svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14"><path d="M6 2.5h4l-.5 4 2 2v1'
       'h-7v-1l2-2zM8 9.5V14" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/>'
       '</svg>')
TRASH = ('<svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14"><path d="M3 4.5h10'
         'M6.5 4.5V3h3v1.5M4.5 4.5l.7 8.5h5.6l.7-8.5" fill="none" stroke="currentColor" stroke-width="1.4"'
         ' stroke-linejoin="round"/></svg>')
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_midnight():
    """Epoch ms of today's local midnight (the list's Today / Yesterday)."""
    d = window.Date.new()
    d.setHours(0, 0, 0, 0)
    return iso_ms(d.toISOString())


def when(ms, group):
    """A list item's time: "14:05" today and yesterday, "3 Mar" before, "3 Mar 2024" in another year."""
    d = window.Date.new(float(ms))
    if group in ("Today", "Yesterday"):
        return "%02d:%02d" % (d.getHours(), d.getMinutes())
    text = "%d %s" % (d.getDate(), MONTHS[d.getMonth()])
    if d.getFullYear() != window.Date.new().getFullYear():
        text += " %d" % d.getFullYear()
    return text


class Renderer:
    def __init__(self, state):
        self.state = state
        self.md = Markdown()
        self.status = g("status")
        self.stall_retry = g("stall-retry")
        self.title = g("conv-title")
        self.model = g("model")
        self.profile = g("profile")
        self.effort = g("effort")
        self.list = g("conv-items")
        self.storage = g("storage")
        self.scroller = g("scroller")
        self.log = g("messages")
        self.onboarding = g("onboarding")
        self.providers = g("providers")
        self.empty = g("empty")
        self.loading = g("loading")
        self.jump = g("jump")
        self.banners = g("banners")
        self.queue = g("queue")
        self.composer = g("composer")
        self.send_btn = g("send")
        self.stop_btn = g("stop")
        self.regen_btn = g("regenerate")
        self.chip = g("context-chip")
        self.chip_toggle = g("context-toggle")
        self.chip_text = g("context-text")
        self.chip_note = g("context-note")
        self.chip_body = g("context-body")
        self.editing = g("editing")
        self.usage = g("usage")
        self.limits_toggle = g("limits-toggle")
        self.limits = g("rate-limits")
        self.limits_open = False
        self.quick = [g("summarize"), g("explain"), g("attach")]
        self.chips = g("attach-chips")
        self.shot_btn = g("attach-screenshot")
        self.file_btn = g("attach-file")
        self.viewer = g("viewer")
        self.viewer_name = g("viewer-name")
        self.viewer_loading = g("viewer-loading")
        self.viewer_img = g("viewer-img")
        self.viewer_text = g("viewer-text")
        self.viewer_note = g("viewer-note")
        self.viewer_shown = None  # the viewer dict last painted
        self.menu = g("template-menu")
        self.export_btns = [g("export-md"), g("export-json"), g("copy-md")]
        self.seen = {}
        for name in state.rev.rev:
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
        self.follow = True  # keep the newest text in view (the user has not scrolled up)
        self.pinned = None  # the scrollTop we last set to keep the bottom in view
        self._build_providers()

    def _due(self, name):
        rev = self.state.rev.rev[name]
        if rev != self.seen[name]:
            self.seen[name] = rev
            return True
        return False

    def paint(self, now, wall):
        """Update the page; True when more frames are needed (markdown left to do)."""
        s = self.state
        self.status.textContent = s.status_text(now, wall)
        self.status.classList.toggle("error", bool(s.conn.error) and not s.ready)
        show(self.stall_retry, s.turn.stalled(now))
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
        h = s.turn.header()
        fill_select(self.model, [(m, m) for m in h["models"]], h["model"])
        show(self.model, bool(h["models"]))
        efforts = [("", "Default effort")] + [(e, EFFORT_LABELS.get(e) or e[:1].upper() + e[1:])
                                              for e in h["efforts"]]
        fill_select(self.effort, efforts, h["effort"] if h["reasons"] else "")
        show(self.effort, h["reasons"])  # only for a model that takes an effort: the subbar is narrow
        p = s.providers.header()
        fill_select(self.profile, p["profiles"], p["profile"])
        show(self.profile, len(p["profiles"]) > 1)  # a switcher with one choice is noise
        has = s.conv.id is not None or bool(s.conv.messages)
        for b in self.export_btns:
            b.disabled = not has

    # ------------------------------------------------------------------ list

    def _build_providers(self):
        self.providers.replaceChildren()
        for key, name, hint in PROVIDER_CHOICES:
            li = el("li")
            b = button("", "setup", "Set up " + name, "provider")
            b.setAttribute("data-provider", key)
            b.append(el("b", None, name), el("span", "muted small", hint))
            li.append(b)
            self.providers.append(li)

    def _list(self):
        s = self.state
        self.list.replaceChildren()
        groups = s.convs.groups(local_midnight())
        for label, items in groups:
            self.list.append(el("li", "group", label))
            for c in items:
                self.list.append(self._item(c, label))
        if not groups:
            empty = "No conversations found." if s.convs.query else "No conversations yet."
            self.list.append(el("li", "conv none", empty))
        text = s.convs.storage_text()
        self.storage.textContent = text
        self.storage.title = s.convs.storage_policy
        if self.renaming is not None:
            field = self.list.querySelector("input.rename")
            if field is not None:
                field.focus()
                field.select()

    def _item(self, c, group):
        s = self.state
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
            return li
        open_btn = button("", "open", None, "open")
        head = el("span", "h")
        head.append(el("span", "t", c.get("title") or "Untitled"))
        if c.get("updated_at"):
            head.append(el("time", "d", when(c["updated_at"], group)))
        open_btn.append(head)
        if c.get("text"):
            open_btn.append(el("span", "p", c["text"]))
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
        return li

    # --------------------------------------------------------------- banners

    def _banners(self, wall):
        s = self.state
        second = int(wall // 1000)
        if not self._due("banners") and not (s.banners.counting_down and second != self.banner_second):
            return
        self.banner_second = second
        self.banners.replaceChildren()
        views = s.banners.views(wall)
        for b in views:
            row = el("div", "banner " + b["level"])
            row.setAttribute("data-key", b["key"])
            row.append(el("p", "text", b["text"]))
            bar = el("div", "banner-actions")
            action = b["action"]
            if action:
                primary = "primary" if action == errors.SETTINGS else None
                act = button(b["label"], "banner-action", None, primary)
                act.setAttribute("data-do", action)
                if action == errors.SETTINGS:
                    act.setAttribute("data-testid", "open-settings")
                else:
                    act.setAttribute("data-testid", "banner-" + action)
                bar.append(act)
            if b["details"]:
                details = el("details", "details")
                details.append(el("summary", None, "Details"))
                details.append(el("pre", None, b["details"]))
                copy = button("Copy details", "copy-details", None, "link")
                details.append(copy)
                bar.append(details)
            x = button("×", "dismiss", "Dismiss", "icon dismiss")
            x.setAttribute("data-key", b["key"])
            row.append(x)
            row.append(bar)
            self.banners.append(row)
        show(self.banners, bool(views))

    # ----------------------------------------------------------------- queue

    def _queue(self, wall):
        s = self.state
        q = s.queue
        second = int(wall // 1000)
        if not self._due("queue") and not (q.queue_counting and second != self.queue_second):
            return  # a hold's countdown changes once a second
        self.queue_second = second
        self.queue.replaceChildren()
        views = q.queue_views(wall)
        for v in views:
            li = el("li", "queued")
            li.setAttribute("data-queue-id", v["queue_id"])
            li.append(el("span", "pos", "%d." % v["position"]))
            body = el("span", "q-body")
            body.append(el("span", "q-text", v["text"]))
            status = v["status"] + (" · " + v["where"] if v["where"] else "")
            body.append(el("span", "q-status", status))
            li.append(body)
            if v["position"] == 1 and q.can_send_now(wall):
                now = button("Send now", "send-now", "Send now, without waiting for the reset", "link")
                now.setAttribute("data-testid", "queue-send-now")
                li.append(now)
            x = button("×", "cancel-queued", "Cancel this queued message", "icon")
            x.setAttribute("data-testid", "queue-cancel")
            x.setAttribute("data-queue-id", v["queue_id"])
            li.append(x)
            self.queue.append(li)
        show(self.queue, bool(views))

    # ---------------------------------------------------------------- footer

    def _footer(self, wall):
        s = self.state
        due = self._due("footer")
        second = int(wall // 1000)
        if not due and (s.usage.limits is None or second == self.footer_second):
            return  # the "resets in" countdowns change once a second
        self.footer_second = second
        text = s.usage.text(s.conv)
        self.usage.textContent = text
        show(self.usage, bool(text))
        rows = s.usage.rows(wall)
        pressing = s.usage.pressing(wall)
        shown = rows if self.limits_open else pressing
        show(self.limits_toggle, bool(rows) and len(pressing) < len(rows))
        self.limits_toggle.setAttribute("aria-expanded", "true" if self.limits_open else "false")
        self.limits_toggle.textContent = "Hide limits" if self.limits_open else "Limits"
        self.limits.replaceChildren()
        for r in shown:
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
        show(self.limits, bool(shown))

    def toggle_limits(self):
        self.limits_open = not self.limits_open
        self.state.rev.touch("footer")

    # -------------------------------------------------------------- composer

    def _composer(self):
        s = self.state
        c = s.composer
        busy = s.conv.busy
        # While a reply streams both show: what is sent now waits in the worker's queue.
        show(self.send_btn, not busy or c.can_send())
        show(self.stop_btn, busy)
        self.stop_btn.disabled = s.conv.stopping
        # One button per job: when the last answer failed, its banner's "Try again" is the way.
        failed = s.banners.has("turn")
        can = s.can_regenerate()
        self.regen_btn.disabled = not can
        show(self.regen_btn, can and not failed)
        for b in self.quick:
            b.disabled = not c.can_send()
        ctx = c.context
        if ctx:
            sel = " ".join((ctx.get("selection") or "").split())
            if sel:
                text = "Selection: “" + (sel[:60] + "…" if len(sel) > 60 else sel) + "”"
            else:
                text = "Page: " + (ctx.get("title") or ctx.get("url") or "this page") + " · " + _chars(ctx)
            self.chip_text.textContent = text
            self.chip_toggle.title = ("Hide" if c.context_open else "Show") + " what is attached"
            self.chip_toggle.setAttribute("aria-expanded", "true" if c.context_open else "false")
            note = ctx.get("note") or ""
            self.chip_note.textContent = note
            show(self.chip_note, bool(note))
            if c.context_open:
                self.chip_body.textContent = sel or ctx.get("text") or ""
            show(self.chip_body, c.context_open)
        show(self.chip, bool(ctx))
        self._attachments()
        show(self.editing, s.turn.editing is not None)
        self.composer.placeholder = c.placeholder
        self.composer.disabled = s.phase == "closed"
        fill = c.take_fill()
        if fill is not None and (not self.composer.value.strip() or s.turn.editing is not None or fill == ""):
            self.composer.value = fill
            self.autosize()
            self.composer.focus()

    def _attachments(self):
        """The chips of what goes with the next message, and the viewer."""
        a = self.state.attachments
        closed = self.state.phase == "closed"
        self.shot_btn.disabled = closed
        self.file_btn.disabled = closed
        self.chips.textContent = ""
        for chip in a.chips:
            li = el("li", "busy" if chip["busy"] else None)
            li.setAttribute("data-testid", "attachment-chip")
            li.setAttribute("data-local", str(chip["local"]))
            opener = button(None, "open-attachment", "Open " + (chip.get("name") or "attachment"), "open")
            opener.disabled = chip["busy"] or not chip["id"]
            if chip.get("thumb"):
                img = el("img")
                img.src = chip["thumb"]  # a data: URL the worker made
                img.alt = ""
                opener.append(img)
            else:
                opener.append(el("span", "file", attachments.badge(chip)))
            name, detail = attachments.label_parts(chip)
            opener.append(el("span", "name", name))
            if detail:
                opener.append(el("span", "size", detail))
            remove = button("×", "remove-attachment", "Remove " + (chip.get("name") or "attachment"), "icon")
            li.append(opener, remove)
            self.chips.append(li)
        show(self.chips, bool(a.chips))
        v = a.viewer
        show(self.viewer, v is not None)
        if v is None:
            self.viewer_shown = None
            return
        self.viewer_name.textContent = v.get("name") or "Attachment"
        show(self.viewer_loading, not v.get("loaded"))
        url = v.get("url")
        if url and self.viewer_img.getAttribute("src") != url:
            self.viewer_img.src = url
        self.viewer_img.alt = v.get("name") or ""
        show(self.viewer_img, bool(url))
        text = v.get("text")
        if text is not None:
            self.viewer_text.textContent = text
        show(self.viewer_text, text is not None)
        note = attachments.viewer_note(v)
        self.viewer_note.textContent = note
        show(self.viewer_note, bool(note))
        if self.viewer_shown is not v:
            self.viewer_shown = v
            g("viewer-close").focus()

    def autosize(self):
        c = self.composer
        c.style.height = "auto"
        c.style.height = str(min(c.scrollHeight + 2, int(window.innerHeight * 0.4))) + "px"

    def show_suggestions(self, text):
        self.suggestions = tpl.suggestions(text, self.state.setup.templates)
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
        due = self._due("messages")
        if conv is not self.conv:
            self.conv = conv
            self.conv_rev = -1
            self.follow = True
            self.pinned = None
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
        # Newest first: the reply being written matters most.
        for i in range(len(conv.messages) - 1, -1, -1):
            m = conv.messages[i]
            node = self.nodes.get(m.key)
            if node is not None and not node.update(m, s, self.md, budget):
                busy_left = True
        if due:
            setup = s.needs_setup
            show(self.onboarding, setup)
            show(self.empty, not conv.messages and not conv.loading and not setup)
            show(self.loading, conv.loading)
        if self.follow and self.pinned is not None and sc.scrollTop < self.pinned - 2:
            self.follow = False  # the user scrolled up since we last kept the bottom in view
        if self.follow:
            sc.scrollTop = sc.scrollHeight
            self.pinned = sc.scrollTop
        self._jump()
        return busy_left

    def scrolled(self):
        """A scroll: back at the bottom, follow the newest text again; moved up, stop following."""
        sc = self.scroller
        if sc.scrollHeight - sc.scrollTop - sc.clientHeight < NEAR_BOTTOM_PX:
            self.follow = True
        elif self.pinned is None or sc.scrollTop < self.pinned - 2:
            self.follow = False
        self._jump()

    def _jump(self):
        show(self.jump, not self.follow and bool(self.state.conv.messages))

    def scroll_to_bottom(self):
        self.follow = True
        self.scroller.scrollTop = self.scroller.scrollHeight
        self.pinned = self.scroller.scrollTop
        self._jump()


def _chars(ctx):
    n = ctx.get("chars") or len(ctx.get("text") or "")
    text = fmt.thousands(n) + " characters"
    if ctx.get("truncated") and not ctx.get("note"):
        text += " (trimmed)"
    return text
