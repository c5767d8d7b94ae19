"""The options page's API key and key vault: its state, the key field, reveal, wipe, the passphrase lock.

A part of :class:`panel.settings_state.SettingsState`. It owns what the page knows
about the stored key (its mask, never the key), the vault's ``VaultStatus``, the
confirmations and the passphrase forms. Passphrases go from the inputs straight
into their ``vault.*`` message (nothing here keeps them); every vault request is
answered by ``vault.status`` (or an ``error`` shown as ``vault_error``), and its
``data`` is what the status line says once it succeeds. ``vault.reveal`` is the one
secret held, on an explicit, confirmed request, as base64 until the DOM hides it.

A key is bound to the server it was saved for: after the settings point elsewhere,
it goes nowhere until the user's click approves the new origin (``approve``,
``settings.approve``), unless requests are signed with ChatGPT instead.
"""

from panel import settings_form as sf

MIN_PASSPHRASE = 8
MAX_AUTO_LOCK_MINUTES = 1440


class KeyVault:
    def __init__(self, link):
        self.link = link
        self.key = None  # SettingsView.key: {"set", "masked", "origin", "approved"}
        self.auth_mode = None  # SettingsView.auth_mode: ChatGPT sign-in needs no key approval
        self.keyless = False  # the provider's server takes no key (Ollama): nothing to approve
        self.vault = None  # VaultStatus
        self.vault_error = None  # the last vault action's refusal (wrong passphrase ...)
        self.confirming = None  # "reveal" | "wipe": the confirmation the page is showing
        self.replacing = False  # the key field is open although a key is saved
        self.passphrase_form = None  # None | "on" | "change" | "off"
        self.secret_b64 = None  # a revealed key, until hidden
        self.clear_key_field = False  # tells the DOM to empty the API key input, once
        self.clear_passphrases = False  # the same for the passphrase inputs

    @property
    def key_set(self):
        return bool(self.key and self.key.get("set"))

    @property
    def masked(self):
        return (self.key or {}).get("masked")

    @property
    def unapproved_origin(self):
        """The saved server's origin when the saved key may not go there yet, else None."""
        key = self.key or {}
        if not key.get("set") or key.get("approved", True) or self.auth_mode == "chatgpt" or self.keyless:
            return None
        return key.get("origin")

    @property
    def key_field_open(self):
        """The API key input is shown: no key saved yet (or a damaged store), or a replacement."""
        state = self.vault.get("state") if self.vault else None
        if state == "locked":
            return False  # unlock first: a locked vault refuses a new key
        if state in ("empty", "damaged"):
            return True
        return self.replacing or not self.key_set

    # ------------------------------------------------------------ worker messages

    def settings(self, view, kind=None, data=None):
        """A ``SettingsView`` (its ``key``): pushed, or the answer to our ``key.set`` / approval."""
        self.key = view.get("key")
        self.auth_mode = view.get("auth_mode")
        self.keyless = any(p.get("id") == view.get("preset") and p.get("key") == "none"
                           for p in view.get("presets") or [])
        if kind == "approve":
            self.link.say("Approved: your key may now be sent to " + str(data), "ok")
        elif kind == "profile":  # another provider, its own key: a key typed for the last one goes
            self.clear_key_field = True
            self.replacing = False
            self.confirming = None
            self.secret_b64 = None  # a revealed key was the last provider's
        elif kind == "key":
            self.clear_key_field = True
            self.replacing = False
            self.link.request("vault", {"type": "vault.status"})
            masked = self.masked
            self.link.say("Saved · key stored encrypted" + (" (" + masked + ")" if masked else ""), "ok")
        self.link.touch("key", "vault")

    def status(self, msg, entry):
        """``vault.status``: pushed, or the answer to one of our vault requests."""
        self.vault = msg
        if entry is not None and entry[0] == "vault":
            self.vault_error = None
            self.clear_passphrases = True
            self.passphrase_form = None
            if entry[1]:
                self.link.say(entry[1], "ok")
        if msg.get("state") in ("empty", "damaged", "locked"):
            self.secret_b64 = None
        self.link.touch("key", "vault")

    def secret(self, msg):
        self.secret_b64 = msg.get("secret_b64")
        self.link.touch("key")

    def refused(self, msg):
        text = msg.get("message") or "Something went wrong"
        self.vault_error = text
        self.link.touch("vault", "key")
        self.link.say(text, "error")

    # ------------------------------------------------------------------ the key

    def replace_key(self, flag=True):
        self.replacing = flag
        self.link.touch("key")

    def approve(self):
        """The "Send my key there" click: approve the saved server for the saved key."""
        origin = self.unapproved_origin
        if origin is None or self.link.waiting("save", "key", "test", "approve"):
            return
        self.link.request("approve", {"type": "settings.approve", "origin": origin}, origin)
        self.link.say("Approving…", "busy")

    def confirm(self, what):
        """Show (or, with None, drop) the confirmation for "reveal" or "wipe"."""
        self.confirming = what
        self.link.touch("key")

    def reveal(self):
        self.confirming = None
        self.link.request("reveal", {"type": "vault.reveal", "confirm": True})
        self.link.touch("key")

    def hide_secret(self):
        if self.secret_b64 is not None:
            self.secret_b64 = None
            self.link.touch("key")

    def wipe(self):
        self.confirming = None
        self.secret_b64 = None
        self.link.request("vault", {"type": "vault.wipe", "confirm": True}, "Every stored key was deleted.")
        self.link.touch("key")

    # ----------------------------------------------------------- passphrase lock

    def open_passphrase(self, which):
        self.passphrase_form = which
        self.vault_error = None
        self.link.touch("vault")

    def _refuse(self, text):
        self.vault_error = text
        self.link.touch("vault")

    def _minutes(self, text):
        value = sf.parse_int(text or "")
        if value is None or not 0 <= value <= MAX_AUTO_LOCK_MINUTES:
            self._refuse("Auto-lock: a whole number of minutes from 0 (only when the browser closes) "
                         "to %d." % MAX_AUTO_LOCK_MINUTES)
            return None
        return value

    def set_passphrase(self, new, again, minutes, current=None):
        """Turn the lock on (no ``current``) or change the passphrase."""
        if len(new) < MIN_PASSPHRASE:
            self._refuse("A passphrase needs at least %d characters." % MIN_PASSPHRASE)
            return
        if new != again:
            self._refuse("The two passphrases differ.")
            return
        value = self._minutes(minutes)
        if value is None:
            return
        msg = {"type": "vault.passphrase", "passphrase": new, "auto_lock_minutes": value}
        if current is not None:
            msg["current"] = current
        done = "Passphrase changed." if current is not None else "Passphrase lock on."
        self.link.request("vault", msg, done)
        self.link.say("Re-encrypting your keys…", "busy")

    def remove_passphrase(self, current):
        if not current:
            self._refuse("Enter your current passphrase.")
            return
        self.link.request("vault", {"type": "vault.passphrase", "passphrase": None, "current": current},
                          "Passphrase lock off.")
        self.link.say("Re-encrypting your keys…", "busy")

    def unlock(self, passphrase, minutes):
        if not passphrase:
            self._refuse("Enter your passphrase.")
            return
        value = self._minutes(minutes)
        if value is None:
            return
        msg = {"type": "vault.unlock", "passphrase": passphrase, "auto_lock_minutes": value}
        self.link.request("vault", msg, "Unlocked.")
        self.link.say("Unlocking…", "busy")

    def lock(self):
        self.link.request("vault", {"type": "vault.lock"}, "Locked.")
