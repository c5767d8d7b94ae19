# The options page's event wiring (MicroPython under PyScript, in the sandboxed
# options-ui.html). panel.settings_state decides, panel.options_view paints; this
# file turns DOM events and worker messages into state calls, then posts what the
# state queued: first the relay's control words (a host-permission request must
# reach the relay while the click's user activation lasts), then JSON messages.

import json

from pyscript import document, window

from panel.account_state import MAX_AUTH_FILE_BYTES
from panel.dom import g, now_ms, on, proxy
from panel.import_state import MAX_IMPORT_BYTES
from panel.options_dom import build
from panel.options_view import OptionsView
from panel.settings_state import SettingsState

PREVIEW_DELAY_MS = 300  # debounce the live request URL while the base URL is typed
REVEAL_MS = 30000  # a revealed key is hidden again after this long

state = SettingsState()
form = state.settings
vault = state.vault
account = state.account
providers = state.providers
build(document.getElementById("app"))
view = OptionsView(state)
preview_timer = None
reveal_timer = None
warned = [False]  # what the relay was last told about unsaved changes


def changed():
    """After any input: post what the state queued, then repaint."""
    for word in state.take_control():
        window.parent.postMessage(word, "*")
    for msg in state.take_outbox():
        window.parent.postMessage(json.dumps(msg), "*")
    if form.dirty != warned[0]:
        warned[0] = form.dirty  # the relay asks before the tab closes with unsaved changes
        window.parent.postMessage("ui.dirty " + ("1" if form.dirty else "0"), "*")
    view.paint()
    arm_reveal_timer()


def arm_reveal_timer():
    global reveal_timer
    if vault.secret_b64 is not None and reveal_timer is None:
        reveal_timer = window.setTimeout(hide_proxy, REVEAL_MS)
    elif vault.secret_b64 is None and reveal_timer is not None:
        window.clearTimeout(reveal_timer)
        reveal_timer = None


def hide_secret(*_):
    global reveal_timer
    reveal_timer = None
    vault.hide_secret()
    changed()


hide_proxy = proxy(hide_secret)


def run_preview(*_):
    global preview_timer
    preview_timer = None
    form.preview()
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
        state.receive(msg, now_ms())
        changed()


# --------------------------------------------------------------------------- the form


def on_input(event):
    target = event.target
    index = target.getAttribute("data-index")
    if index is not None:  # a template row
        form.edit_template(int(index), target.getAttribute("data-tfield"), target.value)
    else:
        name = target.getAttribute("data-field")
        if name is None or name == "provider":
            return
        form.edit(name, target.checked if target.type == "checkbox" else target.value)
        if name in ("base_url", "auth_mode", "wire_api"):  # each changes where requests go
            schedule_preview()
    changed()


def read_picked_text(picker, limit, too_large, got, unreadable):
    """Read the file the user picked here (the sandbox may read a file the user chose) and hand
    its text to ``got``; ``too_large(size)`` above ``limit`` bytes, ``unreadable()`` on failure.
    The picker is emptied either way: nothing of the file stays in the page, and the same file
    can be picked again."""
    files = picker.files
    if files is None or files.length == 0:
        return
    chosen = files.item(0)
    if chosen.size > limit:
        picker.value = ""
        too_large(chosen.size)
        changed()
        return
    reader = window.FileReader.new()

    def loaded(*_):
        text = reader.result
        picker.value = ""
        got(text if isinstance(text, str) else "")
        changed()

    def failed(*_):
        picker.value = ""
        unreadable()
        changed()

    reader.onload = proxy(loaded)
    reader.onerror = proxy(failed)
    reader.readAsText(chosen)


def read_auth_file(picker):
    """A Codex auth.json, sent once in auth.import."""
    read_picked_text(picker, MAX_AUTH_FILE_BYTES,
                     lambda _size: account.refused("That file is too large to be a Codex auth.json."),
                     account.import_auth, lambda: account.refused("The file could not be read."))


def read_export_file(picker):
    """A JSON export of conversations, sent once in conv.import."""
    imports = state.imports
    read_picked_text(picker, MAX_IMPORT_BYTES, imports.refuse, imports.send, imports.unreadable)


def on_change(event):
    target = event.target
    if target.id == "auth-import":
        read_auth_file(target)
    elif target.id == "conv-import":
        read_export_file(target)
    elif target.getAttribute("data-field") == "provider":
        form.set_provider(target.value)
        changed()
    elif target.id == "test-probe":
        form.set_probe(target.checked)
        changed()
    elif target.type == "checkbox":
        on_input(event)


def key_value():
    field = g("api_key")
    return field.value if vault.key_field_open else None


def on_keydown(event):
    # Enter in a one-line field saves, as in any form.
    target = event.target
    if event.key == "Enter" and target.tagName == "INPUT" and target.id.startswith("pp-"):
        event.preventDefault()
        submit_vault("pp-submit" if vault.passphrase_form else "unlock")
    elif event.key == "Enter" and target.tagName == "INPUT" and target.type != "checkbox":
        event.preventDefault()
        form.save(key_value())
        changed()


def value(element_id):
    e = g(element_id)
    return e.value if e is not None else ""


def submit_vault(action):
    if action == "unlock":
        vault.unlock(value("pp-unlock"), value("pp-minutes"))
    elif vault.passphrase_form == "on":
        vault.set_passphrase(value("pp-new"), value("pp-again"), value("pp-minutes"))
    elif vault.passphrase_form == "change":
        vault.set_passphrase(value("pp-new"), value("pp-again"), value("pp-minutes"), value("pp-current"))
    elif vault.passphrase_form == "off":
        vault.remove_passphrase(value("pp-current"))
    changed()


ACTIONS = {
    "save": lambda: form.save(key_value()),
    "test": lambda: form.test_connection(key_value()),
    "grant": form.grant_access,
    "add-template": form.add_template,
    "replace": lambda: (vault.replace_key(True), g("api_key").focus()),
    "approve": vault.approve,
    "key-cancel": lambda: (vault.replace_key(False), setattr(g("api_key"), "value", "")),
    "confirm-reveal": lambda: vault.confirm("reveal"),
    "confirm-wipe": lambda: vault.confirm("wipe"),
    "confirm-no": lambda: vault.confirm(None),
    "confirm-yes": lambda: vault.reveal() if vault.confirming == "reveal" else vault.wipe(),
    "hide-secret": vault.hide_secret,
    "auth-clear": account.sign_out,
    "lock": vault.lock,
    "pp-on": lambda: vault.open_passphrase("on"),
    "pp-change": lambda: vault.open_passphrase("change"),
    "pp-off": lambda: vault.open_passphrase("off"),
    "pp-cancel": lambda: vault.open_passphrase(None),
    "ping": lambda: state.diag.ping(now_ms()),
    "profile-save": lambda: providers.save(value("profile_name")),
    "profile-new": lambda: providers.save(value("profile_name"), new=True),
    "screenshots-allow": state.screenshots.allow,  # in the click: the relay asks Chrome at once
    "screenshots-revoke": state.screenshots.revoke,
}


def on_click(event):
    target = event.target.closest("[data-action]")
    if target is None or target.disabled:
        return
    action = target.getAttribute("data-action")
    if action in ("unlock", "pp-submit"):
        submit_vault(action)
        return
    if action in ("profile-use", "profile-delete"):
        profile_id = target.closest("[data-profile]").getAttribute("data-profile")
        if action == "profile-use":
            providers.select(profile_id)
        else:
            providers.delete(profile_id)
    elif action == "remove-template":
        form.remove_template(int(target.parentNode.querySelector("[data-index]").getAttribute("data-index")))
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
