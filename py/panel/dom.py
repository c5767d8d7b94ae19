# Small DOM helpers for the sandboxed pages (MicroPython under PyScript; not imported
# by the tests). The side panel (panel.main, panel.render, panel.message_dom) and the
# options page (panel.options, panel.options_view) share the event and lookup helpers;
# ``el``/``button`` are the panel's element builders (the options form has its own,
# attribute-style ones in panel.options_dom).

from pyscript import document, window
from pyscript.ffi import create_proxy, to_js

_proxies = []  # keep every callback alive


def proxy(fn):
    p = create_proxy(fn)
    _proxies.append(p)
    return p


def on(node, event, fn):
    node.addEventListener(event, proxy(fn))


def g(element_id):
    return document.getElementById(element_id)


def show(e, flag):
    e.hidden = not flag


def now_ms():
    return window.performance.now()


# ------------------------------------------------------------------ element builders


def el(tag, cls=None, text=None):
    e = document.createElement(tag)
    if cls:
        e.className = cls
    if text is not None:
        e.textContent = text
    return e


def button(text, action, label=None, cls=None):
    b = el("button", cls, text)
    b.type = "button"
    b.setAttribute("data-action", action)
    if label:
        b.setAttribute("aria-label", label)
        b.title = label
    return b


def icon_button(svg, action, label, cls="icon"):
    b = button("", action, label, cls)
    b.innerHTML = svg  # our own constant markup, never model text
    return b


def fill_select(select, options, value):
    select.replaceChildren()
    for v, label in options:
        o = document.createElement("option")
        o.value = v
        o.textContent = label
        if v == value:
            o.selected = True
        select.append(o)


# ------------------------------------------------------------------ clipboard, files


def copy_text(text, target=None):
    """Copy through a hidden textarea: the sandboxed page has no Clipboard API.

    ``target``: the button that asked; it shows "copied" or "failed" for a moment.
    """
    area = g("clipboard")
    active = document.activeElement
    area.value = text
    area.select()
    ok = document.execCommand("copy")
    area.value = ""
    if active is not None:
        active.focus()
    if target is not None:
        flag = "copied" if ok else "failed"
        target.classList.add(flag)
        window.setTimeout(proxy(lambda *_: target.classList.remove(flag)), 1200)


def deliver(download):
    """Hand an export to the user: a file download or the clipboard."""
    if download["action"] == "copy":
        copy_text(download["text"])
        return
    blob = window.Blob.new(to_js([download["text"]]), to_js({"type": download["mime"]}))
    url = window.URL.createObjectURL(blob)
    a = document.createElement("a")
    a.href = url
    a.download = download["filename"]
    document.body.append(a)
    a.click()
    a.remove()
    window.setTimeout(_revoker(url), 5000)


def _revoker(url):
    return create_proxy(lambda *_: window.URL.revokeObjectURL(url))
