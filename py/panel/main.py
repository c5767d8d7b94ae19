# The panel's DOM layer (MicroPython under PyScript, in the sandboxed ui.html).
# All decisions live in panel.state; panel.render paints them. This file wires the
# page's events and the worker's messages (panel.channel) to the state, posts what
# the state wants sent, and schedules at most one paint per animation frame.

import json

from pyscript import document, window

from panel import attachments, errors
from panel.channel import decode, post
from panel.dom import copy_text, deliver, g, now_ms, on, proxy
from panel.fmt import iso_ms
from panel.render import Renderer
from panel.state import PanelState


def wall():
    # Not Date.now(): MicroPython's JS bridge wraps integers above 2**31.
    return iso_ms(window.Date.new().toISOString())


state = PanelState(now_ms(), session="p%d" % int(wall()))
view = Renderer(state)
composer = g("composer")
body = document.body
frame = None
remembered = [None]  # the conversation id the relay was last told about
timer = None
timer_period = 0
search_timer = None
files = {}  # chip's local number -> the File the user gave, until the worker has it


def changed():
    """After any input: post what the state queued and repaint on the next frame."""
    for msg in state.take_outbox():
        if msg.get("type") == "attach.add":
            post_file(msg)
        else:
            post(msg)
    forget_files()
    shown = state.conv.shown()
    if shown != remembered[0]:
        remembered[0] = shown
        window.parent.postMessage("ui.shown " + (shown or ""), "*")  # the relay restores it on reload
    schedule()


def post_file(msg):
    """``attach.add`` goes out through the page's reader, which adds the file's bytes
    (extension/panel-files.js): they never pass through MicroPython."""
    entry = state.conn.requests.get(msg.get("id"))
    local = (entry or {}).get("data", {}).get("local")
    picked = files.get(local)
    if picked is None:  # nothing to read (cannot happen while its chip waits): the worker says so
        msg["data"] = ""
        post(msg)
        return
    window.sidepyFiles.post(picked, json.dumps(msg))


def forget_files():
    """A file is kept until its chip is no longer waiting (it may have to be posted again
    if the worker restarts before it answers)."""
    if not files:
        return  # the usual case: this runs after every message, each streamed delta's too
    waiting = set(chip["local"] for chip in state.attachments.chips if chip["busy"])
    for local in list(files):
        if local not in waiting:
            del files[local]


def add_files(picked, source):
    """Files the user gave the panel (``picked``: a FileList): one chip each."""
    for i in range(picked.length):
        f = picked.item(i)
        local = state.attachments.add(f.name, f.size, f.type, source, state.conv.id)
        if local is not None:
            files[local] = f
    changed()


def has_files(transfer):
    return transfer is not None and transfer.types is not None and transfer.types.includes("Files")


def on_paste(event):
    data = event.clipboardData
    if data is not None and data.files is not None and data.files.length:
        event.preventDefault()  # an image's file name is not pasted as text
        add_files(data.files, "paste")


def on_drag(event):
    if has_files(event.dataTransfer):
        event.preventDefault()  # lets the page take the drop
        body.classList.add("dropping")


def on_drag_end(event):
    if event.type == "drop" or event.relatedTarget is None:
        body.classList.remove("dropping")
    if event.type == "drop" and has_files(event.dataTransfer):
        event.preventDefault()
        add_files(event.dataTransfer.files, "drop")


def on_picked(event):
    picked = event.target.files
    if picked is not None and picked.length:
        add_files(picked, "picker")
    event.target.value = ""  # the same file can be picked again


def on_chips_click(event):
    target = event.target.closest("[data-action]")
    li = event.target.closest("li")
    if target is None or li is None:
        return
    local = int(li.getAttribute("data-local"))
    if target.getAttribute("data-action") == "remove-attachment":
        state.attachments.remove(local)
        composer.focus()
    else:
        chip = state.attachments._find(local)
        if chip is not None and chip["id"]:
            state.attachments.open(chip["id"], chip["name"], chip["kind"])
    changed()


def on_viewer_click(event):
    if event.target.closest("#viewer-close") is not None or event.target == g("viewer"):
        state.attachments.close()
        composer.focus()
        changed()


def schedule():
    global frame
    if frame is None:
        frame = window.requestAnimationFrame(paint_proxy)


def paint(*_):
    global frame
    frame = None
    more = view.paint(now_ms(), wall())
    download = state.composer.take_download()
    if download is not None:
        deliver(download)
    if more:
        schedule()
    set_timer()


paint_proxy = proxy(paint)


def set_timer():
    """A clock for the status line (fast) and for countdowns (each second)."""
    global timer, timer_period
    period = 1000 if state.ticking or state.counting_down else 0
    if period == timer_period:
        return
    if timer is not None:
        window.clearInterval(timer)
        timer = None
    timer_period = period
    if period:
        timer = window.setInterval(tick_proxy, period)


tick_proxy = proxy(lambda *_: schedule())


# ------------------------------------------------------------------ worker messages


def on_message(event):
    # Only the side-panel page that hosts us relays worker messages.
    if event.source != window.parent:
        return
    if not isinstance(event.data, str):
        take_shell_files(event.data)
        return
    try:
        msg = decode(event.data)
    except Exception:  # not JSON (a SyntaxError from JSON.parse arrives as JsException)
        return
    if isinstance(msg, dict):
        state.receive(msg, now_ms(), wall())
        if msg.get("type") == "relay.hello":
            take_draft(msg.get("draft"))
        changed()
        send_when_attached()


def take_shell_files(data):
    """Files pasted or dropped into the page's placeholder composer (``relay.files``, the
    relay's one message that is not JSON: a FileList)."""
    try:
        if data.type != "relay.files" or data.files.length == 0:
            return
    except Exception:  # not the relay's object: nothing of ours
        return
    add_files(data.files, "drop")


# A draft sent from the placeholder with files waits until the worker has taken them all
# (a message goes only with attachments that are ready): how many it carries, else None.
draft_files = [None]


def send_when_attached():
    wanted = draft_files[0]
    if wanted is None or state.attachments.busy:
        return
    draft_files[0] = None
    if len(state.attachments.send_ids()) >= wanted:
        do_send()
    # else one was refused: its sentence shows, and the text waits in the composer


def take_draft(draft):
    """What was typed into the page's placeholder composer before this Python was up."""
    if not isinstance(draft, dict) or not isinstance(draft.get("text"), str) or composer.value:
        return
    composer.value = draft["text"]
    view.autosize()
    composer.focus()
    if draft.get("send") is not True:
        return
    count = draft.get("files")
    if isinstance(count, int) and count > 0:
        draft_files[0] = count  # sent once the worker has taken them (send_when_attached)
    else:
        do_send()  # the user pressed Enter: it goes with the first hello, as anything sent early


# ------------------------------------------------------------------------ composer


def do_send():
    if state.composer.send(composer.value):
        composer.value = ""
        view.autosize()
        view.show_suggestions("")
        view.scroll_to_bottom()
    changed()


def pick_template(name):
    composer.value = "/" + name + " "
    view.show_suggestions("")
    composer.focus()


def on_key(event):
    key = event.key
    if view.suggestions:
        if key == "ArrowDown" or key == "ArrowUp":
            event.preventDefault()
            view.move_suggestion(1 if key == "ArrowDown" else -1)
            return
        if (key == "Enter" and not event.shiftKey) or key == "Tab":
            event.preventDefault()
            pick_template(view.suggestions[view.selected]["name"])
            return
        if key == "Escape":
            event.preventDefault()
            view.show_suggestions("")
            return
    if key == "Enter" and not event.isComposing and (not event.shiftKey or event.ctrlKey or event.metaKey):
        event.preventDefault()
        do_send()



def on_input(_event):
    view.autosize()
    view.show_suggestions(composer.value)


def on_menu_click(event):
    item = event.target.closest("[data-action=template]")
    if item is not None:
        pick_template(item.getAttribute("data-name"))


# ------------------------------------------------------------------ the message log


def on_log_click(event):
    target = event.target.closest("[data-action]")
    if target is None:
        return
    action = target.getAttribute("data-action")
    if action == "copy-code":
        pre = target.parentNode.nextElementSibling
        if pre is not None:
            copy_text(pre.textContent, target)
    elif action == "copy":
        article = target.closest("article")
        m = state.conv.find(article.getAttribute("data-key")) if article is not None else None
        if m is not None:
            copy_text(m.text, target)
    elif action == "edit":
        article = target.closest("article")
        if article is not None:
            state.composer.start_edit(article.getAttribute("data-key"))
            changed()
    elif action == "open-attachment":
        state.attachments.open(target.getAttribute("data-id"), target.getAttribute("data-name"),
                               target.getAttribute("data-kind"))
        changed()
    elif action == "version":
        article = target.closest("article")
        if article is not None and not target.disabled:
            state.turn.show_version(article.getAttribute("data-key"), int(target.getAttribute("data-index")))
            changed()


def on_toggle(_event):
    view.conv_rev = -1  # reasoning opened: render it
    for node in view.nodes.values():
        node.done = False
    schedule()


# ---------------------------------------------------------------- conversation list


def set_drawer(flag):
    body.classList.toggle("drawer-open", flag)
    g("list-toggle").setAttribute("aria-expanded", "true" if flag else "false")
    if flag:
        g("search").focus()


def narrow():
    return not window.matchMedia("(min-width: 720px)").matches


def on_list_click(event):
    target = event.target.closest("[data-action]")
    if target is None:
        return
    li = target.closest("li")
    cid = li.getAttribute("data-id") if li is not None else None
    action = target.getAttribute("data-action")
    if action == "open":
        state.convs.open(cid)
        if narrow():
            set_drawer(False)
            composer.focus()
    elif action == "rename":
        view.renaming = cid
        state.rev.touch("list")
        view.paint(now_ms(), wall())  # the field must take keys at once
    elif action == "pin":
        state.convs.pin(cid, target.getAttribute("aria-pressed") != "true")
    elif action == "delete":
        if view.confirm_delete == cid:
            view.confirm_delete = None
            state.convs.delete(cid)
        else:
            view.confirm_delete = cid
            state.rev.touch("list")
    changed()


def commit_rename(field, keep):
    cid = view.renaming
    view.renaming = None
    if keep and cid is not None:
        state.convs.rename(cid, field.value)
    state.rev.touch("list")
    changed()


def on_list_key(event):
    if event.target.getAttribute("data-action") != "rename-field":
        return
    if event.key == "Enter":
        event.preventDefault()
        commit_rename(event.target, True)
    elif event.key == "Escape":
        event.preventDefault()
        event.stopPropagation()
        commit_rename(event.target, False)


def on_list_blur(event):
    if event.target.getAttribute("data-action") == "rename-field" and view.renaming is not None:
        commit_rename(event.target, True)


def on_search(_event):
    global search_timer
    if search_timer is not None:
        window.clearTimeout(search_timer)
    search_timer = window.setTimeout(search_proxy, 200)


def run_search(*_):
    global search_timer
    search_timer = None
    state.convs.search(g("search").value)
    changed()


search_proxy = proxy(run_search)


# ----------------------------------------------------------------------- the rest


def set_more(flag):
    g("more-menu").hidden = not flag
    g("more").setAttribute("aria-expanded", "true" if flag else "false")
    if flag:
        g("export-md").focus()


def open_settings(section=None):
    # relay.js opens the options page (a sandbox cannot); a section opens it there.
    window.parent.postMessage("ui.options" + (" " + section if section else ""), "*")


def on_banner_click(event):
    target = event.target.closest("[data-action]")
    if target is None:
        return
    action = target.getAttribute("data-action")
    if action == "dismiss":
        state.banners.dismiss(target.getAttribute("data-key"))
    elif action == "copy-details":
        pre = target.parentNode.querySelector("pre")
        if pre is not None:
            copy_text(pre.textContent, target)
        return
    elif action == "banner-action":
        what = target.getAttribute("data-do")
        if what == errors.SETTINGS:
            open_settings()
        elif what == errors.MODEL:
            state.providers.refresh(quiet=True)  # the list as the server has it now
            picker = g("model")
            picker.focus()
            try:  # noqa: SIM105 - MicroPython has no contextlib
                picker.showPicker()  # needs the click's user activation; focus is enough without it
            except Exception:  # a JS error here only means no open list
                pass
        else:
            state.act(what)
    changed()


def on_setup_click(event):
    target = event.target.closest("[data-provider]")
    open_settings("provider=" + target.getAttribute("data-provider") if target is not None else None)


def on_queue_click(event):
    target = event.target.closest("[data-action]")
    if target is None:
        return
    action = target.getAttribute("data-action")
    if action == "cancel-queued":
        state.queue.cancel_queued(target.getAttribute("data-queue-id"))
    elif action == "send-now":
        state.queue.send_now()
    changed()


def on_global_key(event):
    if event.key != "Escape" or event.defaultPrevented:
        return
    if state.attachments.viewer is not None:
        state.attachments.close()
        composer.focus()
        changed()
    elif not g("more-menu").hidden:
        set_more(False)
        g("more").focus()
    elif body.classList.contains("drawer-open"):
        set_drawer(False)
        g("list-toggle").focus()
    elif state.escape():  # cancel an edit, else stop the reply
        event.preventDefault()
        changed()


def on_doc_click(event):
    if not g("more-menu").hidden and event.target.closest(".menu-wrap") is None:
        set_more(False)


def act(fn):
    def handler(_event):
        fn()
        changed()

    return handler


def export(action, kind="markdown"):
    set_more(False)
    state.composer.export(action, kind)


on(window, "message", on_message)
on(composer, "keydown", on_key)
on(composer, "input", on_input)
on(g("template-menu"), "mousedown", lambda e: e.preventDefault())  # keep the composer's focus
on(g("template-menu"), "click", on_menu_click)
on(g("send"), "click", lambda _e: do_send())
on(g("stop"), "click", act(state.stop))
on(g("regenerate"), "click", act(state.regenerate))
on(g("stall-retry"), "click", act(state.retry))
on(g("new-chat"), "click", act(lambda: (state.convs.new_chat(), composer.focus())))
on(g("summarize"), "click", act(lambda: state.composer.quick_action("summarize")))
on(g("explain"), "click", act(lambda: (state.composer.quick_action("explain"), composer.focus())))
on(g("attach"), "click", act(lambda: state.composer.quick_action("attach")))
on(g("context-remove"), "click", act(state.composer.clear_context))
on(g("attach-screenshot"), "click", act(lambda: state.attachments.screenshot(state.conv.id)))
on(g("attach-file"), "click", lambda _e: g("attach-input").click())
g("attach-input").accept = attachments.ACCEPT
on(g("attach-input"), "change", on_picked)
on(g("attach-chips"), "click", on_chips_click)
on(g("viewer"), "click", on_viewer_click)
on(composer, "paste", on_paste)
on(document, "dragover", on_drag)
on(document, "dragleave", on_drag_end)
on(document, "drop", on_drag_end)
on(g("context-toggle"), "click", act(state.composer.toggle_context))
on(g("cancel-edit"), "click", act(state.composer.cancel_edit))
on(g("model"), "change", lambda e: (state.turn.set_model(e.target.value), changed()))
on(g("effort"), "change", lambda e: (state.turn.set_effort(e.target.value), changed()))
on(g("profile"), "change", lambda e: (state.providers.select(e.target.value), changed()))
on(g("models-refresh"), "click", act(state.providers.refresh))
on(g("limits-toggle"), "click", act(view.toggle_limits))
on(g("jump"), "click", lambda _e: (view.scroll_to_bottom(), composer.focus()))
on(g("scroller"), "scroll", lambda _e: view.scrolled())
on(g("onboarding"), "click", on_setup_click)
on(g("list-toggle"), "click", lambda _e: set_drawer(not body.classList.contains("drawer-open")))
on(g("conv-items"), "click", on_list_click)
on(g("conv-items"), "keydown", on_list_key)
on(g("conv-items"), "focusout", on_list_blur)
on(g("search"), "input", on_search)
on(g("more"), "click", lambda _e: set_more(g("more-menu").hidden))
on(g("export-md"), "click", act(lambda: export("download")))
on(g("export-json"), "click", act(lambda: export("download", "json")))
on(g("copy-md"), "click", act(lambda: export("copy")))
on(g("banners"), "click", on_banner_click)
on(g("queue"), "click", on_queue_click)
on(g("messages"), "click", on_log_click)
on(g("options"), "click", lambda _e: open_settings())
on(document, "keydown", on_global_key)
on(document, "click", on_doc_click)
g("messages").addEventListener("toggle", proxy(on_toggle), True)  # toggle does not bubble
paint()
window.parent.postMessage("ui.ready", "*")
composer.focus()
