"""The options page's state machine: worker messages and user intents in, view state out.

Pure, like panel.state: the DOM layer (panel.options) feeds it the worker's
messages (``receive``) and the user's intents (``save``, ``test``, ``reveal`` ...),
posts what it queues in ``outbox`` (JSON messages) and ``control`` (the relay's
plain-string control words), and repaints the sections whose ``rev`` moved.

Secrets pass through, they are not kept: a typed API key travels in the one
``key.set`` (or ``settings.test``) that needs it and is dropped when that is
answered; passphrases go straight from the inputs into their ``vault.*`` message.
The saved key is only ever known here as its mask. ``vault.reveal`` is the one
exception, on an explicit, confirmed request: its reply is held as base64 until
the DOM hides it again (``hide_secret``).
"""

from panel import settings_form as sf
from panel.auth_intents import AuthIntents
from panel.vault_intents import VaultIntents

SECTIONS = ("status", "form", "errors", "preview", "key", "vault", "test", "auth")

STARTING = "starting"
READY = "ready"
RECONNECTING = "reconnecting"
CLOSED = "closed"
FAILED = "failed"

# The status line's short words for a settings.test outcome (the Connection section says more).
TEST_SUMMARY = {
    "rate_limited": "rate-limited right now",
    "no_key": "no API key",
    "key_not_approved": "the key is not approved for this server",
    "chatgpt_not_here": "ChatGPT sign-in only works with ChatGPT",
    "bad_key": "the API key was refused",
    "forbidden": "the key may not do this",
    "wrong_url": "wrong URL",
    "not_openai": "not an OpenAI-compatible server",
    "cors": "blocked by the browser (host permission / CORS)",
    "network": "cannot connect",
    "timeout": "no answer",
    "server_error": "server error",
    "http_error": "unexpected answer",
}


def sites(patterns):
    """``https://a, https://b`` for host permission patterns (``https://a/*``)."""
    return ", ".join([p[:-2] for p in patterns or []])


class SettingsState(VaultIntents, AuthIntents):
    def __init__(self):
        self.phase = STARTING
        self.saved = None  # the worker's SettingsView
        self.form = None  # form values (panel.settings_form)
        self.templates = []
        self.dirty = False
        self.errors = {}  # form field -> message
        self.request_url = None  # what the base URL in the form will POST to
        self.vault = None  # VaultStatus
        self.vault_error = None  # the last vault action's refusal (wrong passphrase ...)
        self.status = "Starting Python…"
        self.status_kind = "busy"  # busy | ok | error | info
        self.test = None  # the last settings.test outcome
        self.permission = None  # {"pattern", "state": asking | granted | denied | error, "error"}
        self.confirming = None  # "reveal" | "wipe": the confirmation the page is showing
        self.replacing = False  # the key field is open although a key is saved
        self.passphrase_form = None  # None | "on" | "change" | "off"
        self.secret_b64 = None  # a revealed key, until hidden
        self.auth = None  # the worker's AuthView: ChatGPT sign-in (email, plan, masked account; no token)
        self.auth_error = None  # the last import's or sign-out's refusal
        self.clear_key_field = False  # tells the DOM to empty the API key input, once
        self.clear_passphrases = False  # the same for the passphrase inputs
        self.outbox = []
        self.control = []
        self.rev = {}
        for name in SECTIONS:
            self.rev[name] = 0
        self._next_id = 1
        self._pending = {}  # id -> (kind, data)
        self._preview_id = None
        self._waiting_test = None  # a test waiting for the permission answer: (patch, key)

    # ================================================================== plumbing

    def _touch(self, *names):
        for name in names:
            self.rev[name] += 1

    def _say(self, text, kind="info"):
        self.status = text
        self.status_kind = kind
        self._touch("status")

    def _request(self, kind, msg, data=None):
        msg["id"] = self._next_id
        self._pending[self._next_id] = (kind, data)
        self._next_id += 1
        self.outbox.append(msg)
        return msg["id"]

    def take_outbox(self):
        out, self.outbox = self.outbox, []
        return out

    def take_control(self):
        out, self.control = self.control, []
        return out

    @property
    def busy(self):
        return any(kind in ("save", "key", "test", "approve") for kind, _ in self._pending.values()) or (
            self._waiting_test is not None)

    @property
    def unapproved_origin(self):
        """The saved server's origin when the saved key may not go there yet (the user's click
        approves it, ``settings.approve``), else None. ChatGPT sign-in never needs it."""
        key = (self.saved or {}).get("key") or {}
        if not key.get("set") or key.get("approved", True) or self.saved.get("auth_mode") == "chatgpt":
            return None
        return key.get("origin")

    def approve(self):
        """The "Send my key there" click: approve the saved server for the saved key."""
        origin = self.unapproved_origin
        if origin is None or self.busy:
            return
        self._request("approve", {"type": "settings.approve", "origin": origin}, origin)
        self._say("Approving…", "busy")

    @property
    def key_set(self):
        return bool(self.saved and (self.saved.get("key") or {}).get("set"))

    @property
    def key_field_open(self):
        """The API key input is shown: no key saved yet (or a damaged store), or a replacement."""
        state = self.vault.get("state") if self.vault else None
        if state == "locked":
            return False  # unlock first: a locked vault refuses a new key
        if state in ("empty", "damaged"):
            return True
        return self.replacing or not self.key_set

    # ============================================================ worker messages

    def receive(self, msg):
        kind = msg.get("type")
        entry = self._pending.pop(msg.get("id"), None) if msg.get("id") is not None else None
        if kind == "boot.status":
            if msg.get("state") == "failed":
                self.phase = FAILED
                self._say(msg.get("error") or "Python failed to start in the background", "error")
        elif kind == "port.disconnected":
            self._disconnected()
        elif kind == "port.closed":
            self.phase = CLOSED
            self._say("SidePy was updated or removed: reload this page.", "error")
        elif kind == "permission.result":
            self._permission(msg)
        elif kind == "settings":
            self._settings(msg, entry)
        elif kind == "settings.preview":
            if msg.get("id") == self._preview_id:
                self.request_url = (msg.get("settings") or {}).get("request_url")
                self.errors.pop("base_url", None)
                self._touch("preview", "errors")
        elif kind == "settings.test":
            self.test = msg
            what = TEST_SUMMARY.get(msg.get("kind"), "")
            if msg.get("ok"):
                self._say("Connection OK" + (": " + what if what else ""), "ok")
            else:
                self._say("Connection failed" + (": " + what if what else ""), "error")
            self._touch("test")
        elif kind == "vault.status":
            self._vault_status(msg, entry)
        elif kind == "auth.status":
            self._auth_status(msg, entry)
        elif kind == "vault.secret":
            self.secret_b64 = msg.get("secret_b64")
            self._touch("key")
        elif kind == "error":
            self._error(msg, entry)

    def _disconnected(self):
        if self.phase == CLOSED:
            return
        self.phase = RECONNECTING
        lost = [kind for kind, _ in self._pending.values()
                if kind in ("save", "key", "test", "vault", "auth")]
        self._pending = {}
        self._preview_id = None
        if lost:
            self._say("The background restarted before answering: try again.", "error")
        else:
            self._say("Reconnecting to the background…", "busy")

    def _settings(self, msg, entry):
        view = msg.get("settings")
        if not view:
            return
        first = self.saved is None
        self.saved = view
        kind, data = entry if entry is not None else (None, None)
        if first or not self.dirty or kind == "save":
            self._load(view)
        was = self.phase
        self.phase = READY
        if kind == "save":
            key = data.get("key") if data else None
            if key:
                self._request("key", {"type": "key.set", "key": key})
                self._say("Saving your key…", "busy")
            elif self.unapproved_origin is not None:
                self._say("Saved. Your key has not been sent to " + self.unapproved_origin
                          + " yet: approve it below, or enter a key for that server.", "info")
            else:
                self._say("Saved", "ok")
        elif kind == "approve":
            self._say("Approved: your key may now be sent to " + str(data), "ok")
        elif kind == "key":
            self.clear_key_field = True
            self.replacing = False
            self._request("vault", {"type": "vault.status"})
            masked = (view.get("key") or {}).get("masked")
            self._say("Saved · key stored encrypted" + (" (" + masked + ")" if masked else ""), "ok")
        elif was != READY and self.status_kind == "busy":
            self._say("Ready")
        if view.get("auth") is not None:
            self.auth = view["auth"]
        self._touch("key", "vault", "auth")

    def _load(self, view):
        self.form = sf.form_from_view(view)
        self.templates = sf.templates_from_view(view)
        self.request_url = view.get("request_url")
        self.dirty = False
        self.errors = {}
        self._touch("form", "errors", "preview")

    def _vault_status(self, msg, entry):
        self.vault = msg
        if entry is not None and entry[0] == "vault":
            self.vault_error = None
            self.clear_passphrases = True
            self.passphrase_form = None
            done = entry[1]
            if done:
                self._say(done, "ok")
        if msg.get("state") in ("empty", "damaged", "locked"):
            self.secret_b64 = None
        self._touch("key", "vault")

    def _error(self, msg, entry):
        kind = entry[0] if entry is not None else None
        text = msg.get("message") or "Something went wrong"
        fields = msg.get("fields") if msg.get("code") == "invalid_settings" else None
        if fields:
            self.errors.update(sf.field_errors(fields))
            self._touch("errors")
        if kind == "preview":
            return  # shown under the field; the status line is for actions
        if kind == "key":  # the settings were saved just before
            self._say("Settings saved, but not the key: " + (
                "fix it below." if fields else text), "error")
        elif fields:
            self._say(("Not saved" if kind == "save" else "Not tested") + ": fix the fields marked below.",
                      "error")
        elif kind == "auth":
            self._auth_refuse(text)
        elif kind in ("vault", "reveal"):
            self.vault_error = text
            self._touch("vault", "key")
            self._say(text, "error")
        else:
            self._say(text, "error")

    def _permission(self, msg):
        granted = bool(msg.get("granted"))
        origins = msg.get("origins") or []
        pattern = origins[0] if origins else None
        state = "granted" if granted else ("error" if msg.get("error") else "denied")
        self.permission = {"pattern": pattern, "patterns": origins, "state": state, "error": msg.get("error")}
        self._touch("test", "status")
        waiting, self._waiting_test = self._waiting_test, None
        if waiting is not None:
            self._send_test(waiting[0], waiting[1])  # granted or not: the test says what that means
        elif state == "granted":
            self._say("Chrome granted SidePy access to " + sites(origins) + ".", "ok")
        else:
            self._say("Chrome did not grant access to " + sites(origins)
                      + (": " + msg.get("error") if msg.get("error") else "")
                      + ". Requests there may be blocked (CORS).", "error")

    # =============================================================== user intents

    def edit(self, name, value):
        """An input changed (the DOM layer holds what is typed; this keeps the form in step)."""
        if self.form is not None:
            self.form[name] = value
            self._changed(name)

    def _changed(self, name):
        self.dirty = True
        if name in ("provider", "base_url") and self.test is not None:
            self.test = None  # it was about another server
            self._touch("test")
        if self.errors.pop(name, None) is not None:
            self._touch("errors")
        if self.status_kind != "busy":
            self._say("Unsaved changes")

    def set_provider(self, provider):
        """A preset: OpenAI restores its URL; the others start from their example."""
        if self.form is None or provider not in sf.CHOICES["provider"]:
            return
        old = self.form["provider"]
        self.edit("provider", provider)
        base = self.form["base_url"].strip()
        if provider == "openai":
            self.form["base_url"] = sf.OPENAI_BASE
        elif old == "openai" and base in ("", sf.OPENAI_BASE):
            self.form["base_url"] = ""  # an OpenAI URL is wrong for the others: show the example
        self._touch("form")
        self.preview()

    def edit_template(self, index, field, value):
        if 0 <= index < len(self.templates):
            self.templates[index][field] = value
            self._changed("template-%d" % index)

    def add_template(self):
        self.templates.append({"name": "", "prompt": ""})
        self._changed("templates")
        self._touch("form")

    def remove_template(self, index):
        if 0 <= index < len(self.templates):
            self.templates.pop(index)
            for i in range(index, len(self.templates) + 1):
                self.errors.pop("template-%d" % i, None)  # the rows below moved up
            self._changed("templates")
            self._touch("form", "errors")

    def preview(self):
        """Ask the background what the base URL will give (debounced by the DOM layer)."""
        if self.form is None:
            return
        patch = {"provider": self.form["provider"], "base_url": self.form["base_url"],
                 "auth_mode": self.form["auth_mode"]}  # ChatGPT sign-in changes where requests go
        self._preview_id = self._request("preview", {"type": "settings.preview", "patch": patch})

    def _ask_permission(self):
        """Queue the relay's permission request for the form's origins; True if one is asked.

        Must run inside the click: the relay calls chrome.permissions.request as soon as
        it reads this, while the click's user activation lasts.
        """
        patterns = sf.permission_patterns(self.form)
        if not patterns:
            return False
        self.control.append("ui.permissions [" + ", ".join(["\"" + p + "\"" for p in patterns]) + "]")
        self.permission = {"pattern": patterns[0], "patterns": patterns, "state": "asking", "error": None}
        self._touch("test")
        return True

    def _checked(self, key):
        errors = sf.check(self.form, self.templates, key)
        self.errors = errors
        self._touch("errors")
        return not errors

    def save(self, key=None):
        """Save the form (``settings.set``), then the typed key, if any (``key.set``)."""
        if self.form is None or self.busy:
            return
        key = key.strip() if key else None
        if not self._checked(key):
            self._say("Not saved: fix the fields marked below.", "error")
            return
        self._ask_permission()  # the settings are saved whatever the answer
        patch = sf.patch_from_form(self.form, self.templates)
        self._request("save", {"type": "settings.set", "patch": patch}, {"key": key})
        self._say("Saving…", "busy")

    def test_connection(self, key=None):
        """One cheap authenticated call: the form as it is (not saved), the typed key or the saved one."""
        if self.form is None or self.busy:
            return
        key = key.strip() if key else None
        if not self._checked(key):
            self._say("Not tested: fix the fields marked below.", "error")
            return
        patch = sf.patch_from_form(self.form, self.templates)
        if self._ask_permission():
            self._waiting_test = (patch, key)  # test once Chrome has the user's answer
            self._say("Waiting for your answer to Chrome's prompt…", "busy")
        else:
            self._send_test(patch, key)

    def _send_test(self, patch, key):
        msg = {"type": "settings.test", "patch": patch}
        if key:
            msg["key"] = key
        self._request("test", msg)
        self.test = None
        self._say("Testing the connection…", "busy")
        self._touch("test")

    def grant_access(self):
        """The "Grant access" button after a CORS failure (a click: the prompt may show)."""
        if self.form is not None:
            self._ask_permission()
