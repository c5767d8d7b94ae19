# The options page's event wiring (MicroPython under PyScript, in the sandboxed
# options-ui.html). panel.settings_state decides, panel.options_view paints; this
# file turns DOM events and worker messages into state calls, then posts what the
# state queued: first the relay's control words (a host-permission request must
# reach the relay while the click's user activation lasts), then JSON messages.

import json

from pyscript import document, window

from panel.auth_intents import MAX_AUTH_FILE_BYTES
from panel.dom import g, on, proxy
from panel.options_dom import build
from panel.options_view import OptionsView
from panel.settings_state import SettingsState

PREVIEW_DELAY_MS = 300  # debounce the live request URL while the base URL is typed
REVEAL_MS = 30000  # a revealed key is hidden again after this long

state = SettingsState()
build(document.getElementById("app"))
view = OptionsView(state)
preview_timer = None
reveal_timer = None


def changed():
    """After any input: post what the state queued, then repaint."""
    for word in state.take_control():
        window.parent.postMessage(word, "*")
    for msg in state.take_outbox():
        window.parent.postMessage(json.dumps(msg), "*")
    view.paint()
    arm_reveal_timer()


def arm_reveal_timer():
    global reveal_timer
    if state.secret_b64 is not None and reveal_timer is None:
        reveal_timer = window.setTimeout(hide_proxy, REVEAL_MS)
    elif state.secret_b64 is None and reveal_timer is not None:
        window.clearTimeout(reveal_timer)
        reveal_timer = None


def hide_secret(*_):
    global reveal_timer
    reveal_timer = None
    state.hide_secret()
    changed()


hide_proxy = proxy(hide_secret)


def run_preview(*_):
    global preview_timer
    preview_timer = None
    state.preview()
    changed()


preview_proxy = proxy(run_preview)


def schedule_preview():
    global preview_timer
    if preview_timer is not None:
        window.clearTimeout(preview_timer)
    preview_timer = window.setTimeout(preview_proxy, PREVIEW_DELAY_MS)


def on_message(event):
    # Only the extension page that hosts us relays worker messages.
    if event.source != window.parent or not isinstance(event.data, str):
        return
    try:
        msg = json.loads(event.data)
    except ValueError:
        return
    if isinstance(msg, dict):
        state.receive(msg)
        changed()


# --------------------------------------------------------------------------- the form


def on_input(event):
    target = event.target
    index = target.getAttribute("data-index")
    if index is not None:  # a template row
        state.edit_template(int(index), target.getAttribute("data-tfield"), target.value)
    else:
        name = target.getAttribute("data-field")
        if name is None or name == "provider":
            return
        state.edit(name, target.checked if target.type == "checkbox" else target.value)
        if name in ("base_url", "auth_mode"):  # both change where requests go
            schedule_preview()
    changed()


def read_auth_file(picker):
    """Read the picked auth.json here (the sandbox may read a file the user chose) and send it."""
    files = picker.files
    if files is None or files.length == 0:
        return
    chosen = files.item(0)
    if chosen.size > MAX_AUTH_FILE_BYTES:
        picker.value = ""
        state.refuse_auth_file("That file is too large to be a Codex auth.json.")
        changed()
        return
    reader = window.FileReader.new()

    def loaded(*_):
        text = reader.result
        picker.value = ""  # nothing of the file stays in the page; the same file can be picked again
        state.import_auth(text if isinstance(text, str) else "")
        changed()

    def failed(*_):
        picker.value = ""
        state.refuse_auth_file("The file could not be read.")
        changed()

    reader.onload = proxy(loaded)
    reader.onerror = proxy(failed)
    reader.readAsText(chosen)


def on_change(event):
    target = event.target
    if target.id == "auth-import":
        read_auth_file(target)
    elif target.getAttribute("data-field") == "provider":
        state.set_provider(target.value)
        changed()
    elif target.type == "checkbox":
        on_input(event)


def key_value():
    field = g("api_key")
    return field.value if state.key_field_open else None


def on_keydown(event):
    # Enter in a one-line field saves, as in any form.
    target = event.target
    if event.key == "Enter" and target.tagName == "INPUT" and target.id.startswith("pp-"):
        event.preventDefault()
        submit_vault("pp-submit" if state.passphrase_form else "unlock")
    elif event.key == "Enter" and target.tagName == "INPUT" and target.type != "checkbox":
        event.preventDefault()
        state.save(key_value())
        changed()


def value(element_id):
    e = g(element_id)
    return e.value if e is not None else ""


def submit_vault(action):
    if action == "unlock":
        state.unlock(value("pp-unlock"), value("pp-minutes"))
    elif state.passphrase_form == "on":
        state.set_passphrase(value("pp-new"), value("pp-again"), value("pp-minutes"))
    elif state.passphrase_form == "change":
        state.set_passphrase(value("pp-new"), value("pp-again"), value("pp-minutes"), value("pp-current"))
    elif state.passphrase_form == "off":
        state.remove_passphrase(value("pp-current"))
    changed()


ACTIONS = {
    "save": lambda: state.save(key_value()),
    "test": lambda: state.test_connection(key_value()),
    "grant": state.grant_access,
    "add-template": state.add_template,
    "replace": lambda: (state.replace_key(True), g("api_key").focus()),
    "approve": state.approve,
    "key-cancel": lambda: (state.replace_key(False), setattr(g("api_key"), "value", "")),
    "confirm-reveal": lambda: state.confirm("reveal"),
    "confirm-wipe": lambda: state.confirm("wipe"),
    "confirm-no": lambda: state.confirm(None),
    "confirm-yes": lambda: state.reveal() if state.confirming == "reveal" else state.wipe(),
    "hide-secret": state.hide_secret,
    "auth-clear": state.sign_out,
    "lock": state.lock,
    "pp-on": lambda: state.open_passphrase("on"),
    "pp-change": lambda: state.open_passphrase("change"),
    "pp-off": lambda: state.open_passphrase("off"),
    "pp-cancel": lambda: state.open_passphrase(None),
}


def on_click(event):
    target = event.target.closest("[data-action]")
    if target is None or target.disabled:
        return
    action = target.getAttribute("data-action")
    if action in ("unlock", "pp-submit"):
        submit_vault(action)
        return
    if action == "remove-template":
        state.remove_template(int(target.parentNode.querySelector("[data-index]").getAttribute("data-index")))
    elif action in ACTIONS:
        ACTIONS[action]()
    changed()


body = document.body
on(window, "message", on_message)
on(body, "input", on_input)
on(body, "change", on_change)
on(body, "keydown", on_keydown)
on(body, "click", on_click)
view.paint()
window.parent.postMessage("ui.ready", "*")
