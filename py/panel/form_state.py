"""The options page's settings form: what is typed, checked, previewed, tested and saved.

A part of :class:`panel.settings_state.SettingsState`; it owns the form's values
(``form``, ``templates``), whether they differ from what is saved (``dirty``), the
per-field errors, the live request URL, the last connection test (and whether it
also sends one short message: ``probe``) and the host permission asked for it.

The provider field holds one of modelclient's presets (OpenAI, Azure, OpenRouter
... Ollama, custom); choosing one fills in its server. The API field
(``wire_api``) is Automatic unless the user picks one: the preset's, else what
Test connection found for a custom server (``detected_wire``). It talks to the worker through the
:class:`panel.options_link.OptionsLink` it is given.

A typed API key is not kept: it travels in the one ``key.set`` (or
``settings.test``) that needs it. ``settings.set`` is answered first; only then is
the key sent, so a refused key says that the settings were saved but not the key.
"""

from panel import settings_form as sf

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


class SettingsForm:
    def __init__(self, link):
        self.link = link
        self.saved = None  # the worker's SettingsView
        self.form = None  # form values (panel.settings_form)
        self.templates = []
        self.dirty = False
        self.errors = {}  # form field -> message
        self.request_url = None  # what the base URL in the form will POST to
        self.test = None  # the last settings.test outcome
        self.permission = None  # {"pattern", "patterns", "state": asking | granted | denied | error, "error"}
        self.probe = True  # Test connection also sends one short message (the user may leave it out)
        self._preview_id = None
        self._waiting_test = None  # a test waiting for the permission answer: (patch, key)
        self._typed = {}  # field -> True once the user typed in it (only then is it marked wrong)
        self._urls = {}  # provider -> the base URL typed for it (kept when switching away and back)

    @property
    def busy(self):
        # "profile": another saved provider is being switched to, its values replace the form's.
        acting = self.link.waiting("save", "key", "test", "approve", "profile")
        return acting or self._waiting_test is not None

    @property
    def key_set(self):
        return bool(self.saved and (self.saved.get("key") or {}).get("set"))

    # ------------------------------------------------------------ worker messages

    def settings(self, view, kind=None, data=None):
        """A ``SettingsView``: pushed, or the answer to our ``save`` / ``key`` / ``models``, or to
        a switch of saved provider (``profile``: the form shows that provider now)."""
        first = self.saved is None
        self.saved = view
        if first or not self.dirty or kind in ("save", "profile"):
            self._load(view)
        elif kind == "models":
            self.link.touch("form")  # the model field's list of the server's models
        if kind == "save":
            key = data.get("key") if data else None
            if key:
                self.link.request("key", {"type": "key.set", "key": key})
                self.link.say("Saving your key…", "busy")
            else:
                self.link.say("Saved", "ok")

    def _load(self, view):
        self.form = sf.form_from_view(view)
        self.templates = sf.templates_from_view(view)
        self.request_url = view.get("request_url")
        self.dirty = False
        self.errors = {}
        self._typed = {}
        self.link.touch("form", "errors", "preview")

    def previewed(self, msg):
        if msg.get("id") == self._preview_id:
            self.request_url = (msg.get("settings") or {}).get("request_url")
            self.errors.pop("base_url", None)
            self.link.touch("preview", "errors")

    def tested(self, msg):
        self.test = msg
        if msg.get("ok") and msg.get("reply") is not None:
            # Chat works: the model field lists what the server has (a quiet refresh).
            self.link.request("models", {"type": "models.list"})
        if msg.get("detected") and msg.get("wire") and self.saved is not None:
            self.saved["detected_wire"] = msg["wire"]  # the worker keeps it for the saved server
            self.link.touch("form")
            self.preview()  # the request URL follows the wire API
        what = TEST_SUMMARY.get(msg.get("kind"), "")
        suffix = ": " + what if what else ""
        if msg.get("ok"):
            self.link.say("Connection OK" + suffix, "ok")
        else:
            self.link.say("Connection failed" + suffix, "error")
        self.link.touch("test")

    def refused(self, msg, kind):
        """An ``error`` answering our ``save``, ``key``, ``test`` or ``preview``."""
        text = msg.get("message") or "Something went wrong"
        fields = msg.get("fields") if msg.get("code") == "invalid_settings" else None
        if kind == "preview":
            # The live preview: no URL while the field is wrong (not the last one that was
            # right), and a mark only on a field the user has typed in.
            self.request_url = None
            self.link.touch("preview")
            for name, message in sf.field_errors(fields or {}).items():
                if self._typed.get(name):
                    self.errors[name] = message
            self.link.touch("errors")
            return  # shown under the field; the status line is for actions
        if fields:
            self.errors.update(sf.field_errors(fields))
            self.link.touch("errors")
        if kind == "models":
            return  # a list that stays as it was: the status line is for actions
        if kind == "key":  # the settings were saved just before
            self.link.say("Settings saved, but not the key: " + ("fix it below." if fields else text),
                          "error")
        elif fields:
            what = "Not saved" if kind == "save" else "Not tested"
            self.link.say(what + ": fix the fields marked in red.", "error")
        else:
            self.link.say(text, "error")

    def permission_result(self, msg):
        granted = bool(msg.get("granted"))
        origins = msg.get("origins") or []
        pattern = origins[0] if origins else None
        state = "granted" if granted else ("error" if msg.get("error") else "denied")
        self.permission = {"pattern": pattern, "patterns": origins, "state": state, "error": msg.get("error")}
        self.link.touch("test", "status")
        waiting, self._waiting_test = self._waiting_test, None
        if waiting is not None:
            self._send_test(waiting[0], waiting[1])  # granted or not: the test says what that means
        elif state == "granted":
            self.link.say("Chrome granted SidePy access to " + sites(origins) + ".", "ok")
        else:
            self.link.say("Chrome did not grant access to " + sites(origins)
                          + (": " + msg.get("error") if msg.get("error") else "")
                          + ". Requests there may be blocked (CORS).", "error")

    def disconnected(self):
        self._preview_id = None
        self._waiting_test = None

    def follow_auth_mode(self, selected):
        """An import selects ChatGPT and a sign-out the API key: the mode picker follows."""
        if not selected or self.form is None or self.form.get("auth_mode") == selected:
            return
        self.form["auth_mode"] = selected
        if self.saved is not None:
            self.saved["auth_mode"] = selected
        self.link.touch("form")
        self.preview()

    # --------------------------------------------------------------- user intents

    def edit(self, name, value):
        """An input changed (the DOM layer holds what is typed; this keeps the form in step)."""
        if self.form is not None:
            self.form[name] = value
            self._typed[name] = True
            self._changed(name)
            if name == "model":
                self.link.touch("efforts")  # the effort field offers what this model takes

    def _changed(self, name):
        self.dirty = True
        if name in ("provider", "base_url") and self.test is not None:
            self.test = None  # it was about another server
            self.link.touch("test")
        if self.errors.pop(name, None) is not None:
            self.link.touch("errors")
        if self.link.status_kind != "busy":
            self.link.say("Unsaved changes")

    def set_provider(self, provider):
        """A preset fills in its server; one whose server is the user's (Azure, custom) starts
        from its example, unless the field holds a URL the user typed."""
        if self.form is None or provider not in sf.CHOICES["provider"]:
            return
        old = self.form["provider"]
        base = self.form["base_url"].strip()
        if base and base not in sf.PRESET_BASES.values():
            self._urls[old] = self.form["base_url"]  # typed for that provider: kept for a way back
        self.edit("provider", provider)
        preset_base = sf.PRESET_BASES.get(provider, "")
        if preset_base:
            self.form["base_url"] = preset_base  # the preset knows where its server is
        elif self._urls.get(provider):
            self.form["base_url"] = self._urls[provider]
        elif base in sf.PRESET_BASES.values():
            self.form["base_url"] = ""  # another preset's URL is wrong here: show the example
        self.link.touch("form")
        self.preview()

    def set_probe(self, on):
        """Whether Test connection also sends the one short message chat would send."""
        self.probe = bool(on)
        self.link.touch("test")

    def edit_template(self, index, field, value):
        if 0 <= index < len(self.templates):
            self.templates[index][field] = value
            self._changed("template-%d" % index)

    def add_template(self):
        self.templates.append({"name": "", "prompt": ""})
        self._changed("templates")
        self.link.touch("form")

    def remove_template(self, index):
        if 0 <= index < len(self.templates):
            self.templates.pop(index)
            for i in range(index, len(self.templates) + 1):
                self.errors.pop("template-%d" % i, None)  # the rows below moved up
            self._changed("templates")
            self.link.touch("form", "errors")

    def preview(self):
        """Ask the background what the base URL will give (debounced by the DOM layer)."""
        if self.form is None:
            return
        patch = sf.provider_patch(self.form["provider"])
        patch.update({"base_url": self.form["base_url"], "wire_api": self.form["wire_api"],
                      "auth_mode": self.form["auth_mode"]})  # ChatGPT sign-in changes where requests go
        self._preview_id = self.link.request("preview", {"type": "settings.preview", "patch": patch})

    def _ask_permission(self):
        """Queue the relay's permission request for the form's origins; True if one is asked.

        Must run inside the click: the relay calls chrome.permissions.request as soon as
        it reads this, while the click's user activation lasts.
        """
        patterns = sf.permission_patterns(self.form)
        if not patterns:
            return False
        self.link.control.append("ui.permissions [" + ", ".join(["\"" + p + "\"" for p in patterns]) + "]")
        self.permission = {"pattern": patterns[0], "patterns": patterns, "state": "asking", "error": None}
        self.link.touch("test")
        return True

    def _checked(self, key):
        self.errors = sf.check(self.form, self.templates, key)
        self.link.touch("errors")
        return not self.errors

    def save(self, key=None):
        """Save the form (``settings.set``), then the typed key, if any (``key.set``)."""
        if self.form is None or self.busy:
            return
        key = key.strip() if key else None
        if not self._checked(key):
            self.link.say("Not saved: fix the fields marked in red.", "error")
            return
        self._ask_permission()  # the settings are saved whatever the answer
        patch = sf.patch_from_form(self.form, self.templates)
        self.link.request("save", {"type": "settings.set", "patch": patch}, {"key": key})
        self.link.say("Saving…", "busy")

    def test_connection(self, key=None):
        """One cheap authenticated call: the form as it is (not saved), the typed key or the saved one."""
        if self.form is None or self.busy:
            return
        key = key.strip() if key else None
        if not self._checked(key):
            self.link.say("Not tested: fix the fields marked in red.", "error")
            return
        patch = sf.patch_from_form(self.form, self.templates)
        if self._ask_permission():
            self._waiting_test = (patch, key)  # test once Chrome has the user's answer
            self.link.say("Waiting for your answer to Chrome's prompt…", "busy")
        else:
            self._send_test(patch, key)

    def _send_test(self, patch, key):
        # The one-line message chat would send, unless the user left it out (a paid provider).
        msg = {"type": "settings.test", "patch": patch, "probe": self.probe}
        if key:
            msg["key"] = key
        self.link.request("test", msg)
        self.test = None
        self.link.say("Testing the connection…", "busy")
        self.link.touch("test")

    def grant_access(self):
        """The "Grant access" button after a CORS failure (a click: the prompt may show)."""
        if self.form is not None:
            self._ask_permission()
