# The panel's DOM layer (MicroPython under PyScript, in the sandboxed ui.html).
# All decisions live in panel.state; panel.render paints them. This file wires the
# page's events and the worker's messages (panel.channel) to the state, posts what
# the state wants sent, and schedules at most one paint per animation frame.

from pyscript import document, window

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
timer = None
timer_period = 0
search_timer = None


def changed():
    """After any input: post what the state queued and repaint on the next frame."""
    for msg in state.take_outbox():
        post(msg)
    schedule()


def schedule():
    global frame
    if frame is None:
        frame = window.requestAnimationFrame(paint_proxy)


def paint(*_):
    global frame
    frame = None
    more = view.paint(now_ms(), wall())
    download = state.take_download()
    if download is not None:
        deliver(download)
    if more:
        schedule()
    set_timer()


paint_proxy = proxy(paint)


def set_timer():
    """A clock for the status line (fast) and for countdowns (each second)."""
    global timer, timer_period
    counting = state.counting_down or state.limits or state.queue_counting
    period = 100 if state.ticking else (1000 if counting else 0)
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
    if event.source != window.parent or not isinstance(event.data, str):
        return
    try:
        msg = decode(event.data)
    except Exception:  # not JSON (a SyntaxError from JSON.parse arrives as JsException)
        return
    if isinstance(msg, dict):
        state.receive(msg, now_ms(), wall())
        changed()


# ------------------------------------------------------------------------ composer


def do_send():
    if state.send(composer.value):
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
    elif key == "Escape" and state.editing:
        state.cancel_edit()
        composer.value = ""
        changed()


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
        text = state.message_text(article.getAttribute("data-key")) if article is not None else None
        if text is not None:
            copy_text(text, target)
    elif action == "edit":
        state.start_edit()
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
        state.open_conversation(cid)
        if narrow():
            set_drawer(False)
            composer.focus()
    elif action == "rename":
        view.renaming = cid
        state.rev["list"] += 1
        view.paint(now_ms(), wall())  # the field must take keys at once
    elif action == "pin":
        state.pin(cid, target.getAttribute("aria-pressed") != "true")
    elif action == "delete":
        if view.confirm_delete == cid:
            view.confirm_delete = None
            state.delete(cid)
        else:
            view.confirm_delete = cid
            state.rev["list"] += 1
    changed()


def commit_rename(field, keep):
    cid = view.renaming
    view.renaming = None
    if keep and cid is not None:
        state.rename(cid, field.value)
    state.rev["list"] += 1
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
    state.search(g("search").value)
    changed()


search_proxy = proxy(run_search)


# ----------------------------------------------------------------------- the rest


def set_more(flag):
    g("more-menu").hidden = not flag
    g("more").setAttribute("aria-expanded", "true" if flag else "false")
    if flag:
        g("export-md").focus()


def on_banner_click(event):
    target = event.target.closest("[data-action]")
    if target is None:
        return
    if target.getAttribute("data-action") == "dismiss":
        state.dismiss(target.getAttribute("data-key"))
    elif target.getAttribute("data-action") == "retry":
        state.regenerate()
    changed()


def on_queue_click(event):
    target = event.target.closest("[data-action]")
    if target is None:
        return
    action = target.getAttribute("data-action")
    if action == "cancel-queued":
        state.cancel_queued(target.getAttribute("data-queue-id"))
    elif action == "send-now":
        state.send_now()
    changed()


def on_global_key(event):
    if event.key != "Escape":
        return
    if not g("more-menu").hidden:
        set_more(False)
        g("more").focus()
    elif body.classList.contains("drawer-open"):
        set_drawer(False)
        g("list-toggle").focus()


def on_doc_click(event):
    if not g("more-menu").hidden and event.target.closest(".menu-wrap") is None:
        set_more(False)


def act(fn):
    def handler(_event):
        fn()
        changed()

    return handler


def export(action):
    set_more(False)
    state.export(action)


on(window, "message", on_message)
on(composer, "keydown", on_key)
on(composer, "input", on_input)
on(g("template-menu"), "mousedown", lambda e: e.preventDefault())  # keep the composer's focus
on(g("template-menu"), "click", on_menu_click)
on(g("send"), "click", lambda _e: do_send())
on(g("stop"), "click", act(state.stop))
on(g("regenerate"), "click", act(state.regenerate))
on(g("new-chat"), "click", act(lambda: (state.new_chat(), composer.focus())))
on(g("summarize"), "click", act(lambda: state.quick_action("summarize")))
on(g("explain"), "click", act(lambda: state.quick_action("explain")))
on(g("attach"), "click", act(lambda: state.quick_action("attach")))
on(g("context-remove"), "click", act(state.clear_context))
on(g("cancel-edit"), "click", act(lambda: (state.cancel_edit(), setattr(composer, "value", ""))))
on(g("model"), "change", lambda e: (state.set_model(e.target.value), changed()))
on(g("effort"), "change", lambda e: (state.set_effort(e.target.value), changed()))
on(g("list-toggle"), "click", lambda _e: set_drawer(not body.classList.contains("drawer-open")))
on(g("conv-items"), "click", on_list_click)
on(g("conv-items"), "keydown", on_list_key)
on(g("conv-items"), "focusout", on_list_blur)
on(g("search"), "input", on_search)
on(g("more"), "click", lambda _e: set_more(g("more-menu").hidden))
on(g("export-md"), "click", act(lambda: export("download")))
on(g("copy-md"), "click", act(lambda: export("copy")))
on(g("banners"), "click", on_banner_click)
on(g("queue"), "click", on_queue_click)
on(g("messages"), "click", on_log_click)
on(g("ping"), "click", lambda _e: post(state.make_ping(now_ms())))
on(g("options"), "click", lambda _e: window.parent.postMessage("ui.options", "*"))  # relay.js opens them
on(document, "keydown", on_global_key)
on(document, "click", on_doc_click)
g("messages").addEventListener("toggle", proxy(on_toggle), True)  # toggle does not bubble
paint()
window.parent.postMessage("ui.ready", "*")
composer.focus()
