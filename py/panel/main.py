# The panel's DOM layer (MicroPython under PyScript, in the sandboxed ui.html).
# All decisions live in panel.state; this file wires messages and the DOM to it.

import json

from pyscript import document, window
from pyscript.ffi import create_proxy

from panel.state import PanelState


def now():
    return window.performance.now()


state = PanelState(now())
status_el = document.getElementById("status")
ping_btn = document.getElementById("ping")
ping_out = document.getElementById("ping-result")
ticker = None


def send(msg):
    window.parent.postMessage(json.dumps(msg), "*")


def render():
    global ticker
    t = now()
    status_el.textContent = state.status_text(t)
    status_el.className = "error" if state.error and not state.ready else ""
    ping_btn.disabled = not state.ready
    if state.ping_result:
        ping_out.textContent = state.ping_result
    if state.ticking and ticker is None:
        ticker = window.setInterval(create_proxy(lambda *_: render()), 100)
    elif not state.ticking and ticker is not None:
        window.clearInterval(ticker)
        ticker = None


def on_message(event):
    # Only the side-panel page that hosts us relays worker messages.
    if event.source != window.parent or not isinstance(event.data, str):
        return
    try:
        msg = json.loads(event.data)
    except ValueError:
        return
    state.receive(msg, now())
    render()


def on_ping(_event):
    send(state.make_ping(now()))


window.addEventListener("message", create_proxy(on_message))
ping_btn.addEventListener("click", create_proxy(on_ping))
render()
window.parent.postMessage("ui.ready", "*")
