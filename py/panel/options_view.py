# The options page's painter (MicroPython under PyScript, in the sandboxed options-ui.html;
# not imported by the tests). ``OptionsView.paint`` brings each section of the page that
# panel.options_dom built up to date with panel.settings_state when its ``rev`` moved.
# Inputs are the truth while the user types: their values are written only when the
# form is (re)loaded from the worker, so a repaint never eats a keystroke.

import json

from pyscript import window

from panel import settings_form as sf
from panel.account_state import auth_summary
from panel.dom import fill_select, g, show
from panel.form_state import sites
from panel.options_dom import button, el

STATUS_CLASSES = ("busy", "ok", "error", "info")
# The fields of the folded "Advanced" section (it opens when one of them has an error).
ADVANCED = ("idle_timeout_s", "request_max_retries", "stream_max_retries", "organization", "project",
            "token_url")
KEY_STATES = {
    "empty": "No key saved yet.",
    "locked": "Your keys are locked with your passphrase: unlock them below to use or change the key.",
}
FIELD_ERRORS = ("provider", "base_url", "wire_api", "model", "reasoning_effort", "reasoning_summary",
                "verbosity",
                "instructions", "idle_timeout_s", "request_max_retries", "stream_max_retries",
                "organization", "project", "web_search", "api_key", "auth_mode", "token_url")


def _date(ms):
    d = window.Date.new(float(ms))
    return "%d-%02d-%02d %02d:%02d" % (d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(),
                                       d.getMinutes())


def _time(ms):
    # MicroPython's JS bridge wraps integers above 2**31: hand the epoch over as a float.
    d = window.Date.new(float(ms))
    return "%02d:%02d" % (d.getHours(), d.getMinutes())


def _secret_input(pid, label, autocomplete="off"):
    return el("label", {"class": "stack"}, label,
              el("input", {"type": "password", "id": pid, "data-testid": pid, "autocomplete": autocomplete}))


MINUTES_HINT = "Auto-lock: after this many minutes without use; 0 locks only when the browser closes."


def _minutes_input(value):
    return el("label", {"class": "stack"}, "Auto-lock (minutes)",
              el("input", {"type": "number", "id": "pp-minutes", "data-testid": "pp-minutes", "min": "0",
                           "max": "1440", "value": str(value)}))


def vault_summary(vault):
    """One line on the lock's state."""
    if vault is None:
        return "Loading…"
    state, mode = vault.get("state"), vault.get("mode")
    if state == "damaged":
        return "Unavailable: the key store is damaged (see above)."
    if state == "locked":
        return "On · locked. Enter your passphrase to unlock your keys for this browser session."
    if mode == "passphrase":
        minutes = vault.get("auto_lock_minutes")
        if vault.get("locks_at") and minutes:
            when = _time(vault["locks_at"])
            return "On · unlocked · locks at %s (after %d min without use)." % (when, minutes)
        return "On · unlocked until the browser closes."
    return ("Off: your key is encrypted with a key that only this browser profile holds. A passphrase "
            "also protects it from someone who copies the profile.")


def vault_body(vault, form):
    """The controls for the lock's state and the open form; ``form``: None | on | change | off."""
    state = vault.get("state") if vault else None
    mode = vault.get("mode") if vault else None
    minutes = (vault or {}).get("auto_lock_minutes") or 15
    box = el("div", None, el("p", {"id": "vault-summary", "class": "state"}, vault_summary(vault)))
    if state == "locked":
        box.appendChild(el("div", {"class": "row wrap"}, _secret_input("pp-unlock", "Passphrase",
                                                                        "current-password"),
                           _minutes_input(minutes), button("Unlock", "unlock", "primary", "unlock")))
        box.appendChild(el("p", {"class": "hint"}, MINUTES_HINT))
    elif state in ("ready", "empty") and form is None:
        if mode == "passphrase":
            box.appendChild(el("div", {"class": "row"}, button("Lock now", "lock", testid="lock"),
                               button("Change passphrase…", "pp-change"), button("Turn off…", "pp-off")))
        else:
            box.appendChild(el("div", {"class": "row"}, button("Turn on…", "pp-on", testid="pp-on")))
    elif form is not None:
        rows = el("div", {"class": "row wrap"})
        if form in ("change", "off"):
            rows.appendChild(_secret_input("pp-current", "Current passphrase", "current-password"))
        if form in ("on", "change"):
            rows.appendChild(_secret_input("pp-new", "New passphrase", "new-password"))
            rows.appendChild(_secret_input("pp-again", "Again", "new-password"))
            rows.appendChild(_minutes_input(minutes))
        label = {"on": "Turn on", "change": "Change", "off": "Turn off"}[form]
        box.appendChild(rows)
        box.appendChild(el("div", {"class": "row"}, button(label, "pp-submit", "primary", "pp-submit"),
                           button("Cancel", "pp-cancel")))
        if form != "off":
            box.appendChild(el("p", {"class": "hint"}, "8 characters or more. " + MINUTES_HINT))
            box.appendChild(el("p", {"class": "hint"}, "There is no way to recover a forgotten passphrase: "
                               "you would wipe the store and paste your key again."))
    return box


class OptionsView:
    def __init__(self, state):
        self.state = state
        self.seen = {}
        self.vault_key = None
        self.key_field = g("api_key")

    def _moved(self, name):
        rev = self.state.rev[name]
        if self.seen.get(name) == rev:
            return False
        self.seen[name] = rev
        return True

    def paint(self):
        s, f, link = self.state, self.state.settings, self.state.link
        if self._moved("form"):
            show(g("welcome"), s.welcome)
            if f.form is not None:
                self.form()
            shots = s.screenshots
            g("screenshots-state").textContent = shots.text
            show(g("screenshots-allow"), shots.any_tab is not True)
            show(g("screenshots-revoke"), shots.any_tab is True)
            g("screenshots-allow").disabled = shots.asking
            g("screenshots-revoke").disabled = shots.asking
        if self._moved("errors"):
            self.errors()
        if self._moved("preview"):
            g("request-url").textContent = f.request_url or "—"
        if self._moved("key"):
            self.key()
        if self._moved("vault"):
            self.vault()
        if self._moved("auth"):
            self.auth()
        if self._moved("test"):
            self.test()
        if self._moved("profiles"):
            self.profiles()
        if self._moved("efforts") and f.form is not None:
            self.efforts()
        if self._moved("status"):
            status = g("settings-status")
            status.textContent = link.status
            for cls in STATUS_CLASSES:
                status.classList.toggle(cls, cls == link.status_kind)
        if self._moved("diag"):
            g("ping-result").textContent = s.diag.result or ""
        ready = s.phase == "ready" and not s.busy
        g("save").disabled = not ready
        g("test-connection").disabled = not ready

    def form(self):
        s = self.state.settings
        form = s.form
        if form.get("auth_mode") == "chatgpt":
            g("fold-account").open = True  # in use: not folded away
        for name in form:
            e = g(name)
            if e is None:
                continue
            if e.type == "checkbox":
                e.checked = bool(form[name])
            else:
                e.value = form[name]
        self.efforts()
        provider = form["provider"]
        g("base_url").placeholder = sf.PLACEHOLDERS[provider]
        g("hint-provider").textContent = sf.HINTS[provider]
        g("hint-wire_api").textContent = sf.wire_hint(s.saved or {}, form)
        show(g("probe-row"), provider in sf.PAID)
        g("test-probe").checked = s.probe
        models = g("models")
        models.replaceChildren()
        for m in (s.saved or {}).get("models") or []:
            models.appendChild(el("option", {"value": m}))
        box = g("templates")
        box.replaceChildren()
        for i in range(len(s.templates)):
            t = s.templates[i]
            name = el("input", {"type": "text", "data-index": str(i), "data-tfield": "name",
                                "aria-label": "Name", "placeholder": "name", "autocomplete": "off",
                                "spellcheck": "false"})
            name.value = t["name"]
            prompt = el("textarea", {"data-index": str(i), "data-tfield": "prompt", "rows": "3",
                                     "aria-label": "Prompt",
                                     "placeholder": "Summarize in 3 bullets: {input}"})
            prompt.value = t["prompt"]
            box.appendChild(el("div", {"class": "template", "data-testid": "template"},
                               el("span", {"class": "slash"}, "/"), name, prompt,
                               button("Remove", "remove-template"),
                               el("p", {"class": "error", "id": "err-template-%d" % i, "role": "alert",
                                        "hidden": True})))

    def efforts(self):
        """The effort field offers what the model field's model takes (the worker's map)."""
        f = self.state.settings
        model = g("model").value
        choices = sf.effort_choices(f.saved, model, f.form["reasoning_effort"])
        select = g("reasoning_effort")
        fill_select(select, choices, f.form["reasoning_effort"])
        select.disabled = len(choices) == 1  # a model that takes none: nothing to choose
        g("hint-reasoning_effort").textContent = sf.effort_hint(f.saved, model)

    def errors(self):
        errors = self.state.settings.errors
        shown = []
        rows = tuple("template-%d" % i for i in range(len(self.state.settings.templates)))
        for name in FIELD_ERRORS + rows:
            box = g("err-" + name)
            if box is None:
                continue
            message = errors.get(name)
            box.textContent = message or ""
            show(box, bool(message))
            control = g(name)
            if control is not None:
                control.setAttribute("aria-invalid", "true" if message else "false")
            shown.append(name)
        if any(errors.get(name) for name in ADVANCED):
            g("fold-requests").open = True  # a field to fix: not folded away
        rest = [n + ": " + errors[n] for n in errors if n not in shown]
        general = g("err-general")
        general.textContent = "; ".join(rest)
        show(general, bool(rest))

    def key(self):
        s = self.state.vault
        vault = s.vault or {}
        state = vault.get("state")
        masked = s.masked
        if state == "damaged":
            text = vault.get("message") or "key store damaged, re-enter your key"
            text = text[0].upper() + text[1:]
        elif state in KEY_STATES:
            text = KEY_STATES[state]
        elif s.key_set:
            text = "Saved, encrypted: " + (masked or "…")
        else:
            text = "No key saved yet."
        line = g("key-state")
        line.textContent = text
        line.classList.toggle("bad", state == "damaged")
        open_ = s.key_field_open
        origin = s.unapproved_origin
        show(g("key-approve"), origin is not None and not open_)
        if origin is not None:
            g("approve-text").textContent = (
                "Your API key (" + (masked or "saved") + ") has not been sent to " + origin
                + " yet. Send it to that server? Only approve a server you trust with your key.")
        show(g("key-entry"), open_)
        show(g("key-cancel"), s.replacing)
        show(g("key-actions"), not open_ and s.key_set and s.confirming is None and s.secret_b64 is None
             and origin is None)
        show(g("key-confirm"), s.confirming is not None)
        if s.confirming == "reveal":
            g("confirm-text").textContent = ("Show your API key on screen? Anyone who can see your screen "
                                             "can read it. It is hidden again after 30 seconds.")
            g("confirm-yes").textContent = "Show it"
        elif s.confirming == "wipe":
            g("confirm-text").textContent = ("Delete every stored key and the passphrase lock? SidePy cannot "
                                             "talk to the model until you paste a key again.")
            g("confirm-yes").textContent = "Wipe"
        show(g("key-revealed"), s.secret_b64 is not None)
        g("secret").textContent = window.atob(s.secret_b64) if s.secret_b64 is not None else ""
        if s.clear_key_field:
            s.clear_key_field = False
            self.key_field.value = ""

    def auth(self):
        s = self.state.account
        state = (s.auth or {}).get("chatgpt")
        if state in ("signed_in", "locked", "damaged") or s.auth_error:
            g("fold-account").open = True
        line = g("auth-status")
        line.textContent = auth_summary(s.auth, _date)
        line.setAttribute("data-state", state or "")
        line.classList.toggle("bad", state == "damaged")
        show(g("auth-clear"), state in ("signed_in", "locked"))
        box = g("auth-error")
        box.textContent = s.auth_error or ""
        show(box, bool(s.auth_error))

    def vault(self):
        s = self.state.vault
        vault = s.vault
        key = (vault.get("state") if vault else None, vault.get("mode") if vault else None, s.passphrase_form)
        if key != self.vault_key or s.clear_passphrases:
            s.clear_passphrases = False
            self.vault_key = key
            body = g("vault-body")
            body.replaceChildren(vault_body(vault, s.passphrase_form))
        else:
            g("vault-summary").textContent = vault_summary(vault)
        box = g("vault-error")
        box.textContent = s.vault_error or ""
        show(box, bool(s.vault_error))

    def profiles(self):
        s = self.state.providers
        box = g("profiles")
        box.replaceChildren()
        for p in s.profiles:
            active = p.get("id") == s.active
            who = el("span", {"class": "who"}, el("strong", None, p.get("name") or ""), " · ",
                     p.get("model") or "")
            item = el("li", {"data-testid": "profile", "data-profile": p.get("id"),
                             "class": "active" if active else None}, who)
            if active:
                who.appendChild(el("span", {"class": "hint"}, " (in use)"))
            else:
                # One of these per saved provider: a test id, no element id (ids are unique).
                item.appendChild(el("button", {"type": "button", "data-action": "profile-use",
                                               "data-testid": "profile-use"}, "Use"))
                item.appendChild(el("button", {"type": "button", "data-action": "profile-delete",
                                               "class": "danger-text", "data-testid": "profile-delete"},
                                    "Remove"))
            box.appendChild(item)
        if not s.profiles:
            box.appendChild(el("li", {"class": "hint"}, "None saved yet: the settings above are your only "
                               "provider."))

    def test(self):
        s = self.state.settings
        box = g("test-result")
        box.replaceChildren()
        t = s.test
        p = s.permission
        if t is None and p is None:
            show(box, False)
            return
        show(box, True)
        if t is not None:
            box.className = "ok" if t.get("ok") else "bad"
            box.appendChild(el("p", {"data-testid": "test-kind", "data-kind": t.get("kind")},
                               el("strong", None, "Connection OK" if t.get("ok") else "Connection failed"),
                               " · ", t.get("message") or ""))
            if t.get("detail"):
                box.appendChild(el("p", {"class": "detail"}, "The server said: ", el("q", None, t["detail"])))
            box.appendChild(el("p", {"class": "hint"}, "Tested: GET ", el("code", None, t.get("url") or "")))
            probe = t.get("probe") or {}
            if probe and t.get("reply") is None:  # not sent (or it failed): what it sends
                box.appendChild(el("details", {"data-testid": "probe-body"},
                                   el("summary", None, "The short message: POST " + (probe.get("url") or "")),
                                   el("pre", None, json.dumps(probe.get("body")))))
            if t.get("kind") == "cors":
                box.appendChild(button("Grant access to " + (t.get("origin") or "")[:-2], "grant",
                                       "primary", "grant-access"))
        else:
            box.className = ""
        if p is not None:
            words = {"asking": "Asking Chrome for access to %s…", "granted": "Chrome granted access to %s.",
                     "denied": "Chrome did not grant access to %s.", "error": "Chrome could not ask for %s"}
            line = words[p["state"]] % sites(p.get("patterns") or [p["pattern"] or "//"])
            if p.get("error"):
                line += ": " + p["error"]
            attrs = {"class": "hint", "data-testid": "permission", "data-state": p["state"]}
            box.appendChild(el("p", attrs, line))
