"""The options page's key and passphrase intents: a part of panel.settings_state.SettingsState.

Kept apart only for size. Passphrases go from the inputs straight into their
``vault.*`` message (nothing here keeps them); every vault request is answered by
``vault.status`` (or an ``error`` shown as ``vault_error``), and its ``data`` is
what the status line says once it succeeds.
"""

from panel import settings_form as sf

MIN_PASSPHRASE = 8
MAX_AUTO_LOCK_MINUTES = 1440


class VaultIntents:
    # ------------------------------------------------------------------ the key

    def replace_key(self, flag=True):
        self.replacing = flag
        self._touch("key")

    def confirm(self, what):
        """Show (or, with None, drop) the confirmation for "reveal" or "wipe"."""
        self.confirming = what
        self._touch("key")

    def reveal(self):
        self.confirming = None
        self._request("reveal", {"type": "vault.reveal", "confirm": True})
        self._touch("key")

    def hide_secret(self):
        if self.secret_b64 is not None:
            self.secret_b64 = None
            self._touch("key")

    def wipe(self):
        self.confirming = None
        self.secret_b64 = None
        self._request("vault", {"type": "vault.wipe", "confirm": True}, "Every stored key was deleted.")
        self._touch("key")

    # ----------------------------------------------------------- passphrase lock

    def open_passphrase(self, which):
        self.passphrase_form = which
        self.vault_error = None
        self._touch("vault")

    def _vault_refuse(self, text):
        self.vault_error = text
        self._touch("vault")

    def _minutes(self, text):
        value = sf.parse_int(text or "")
        if value is None or not 0 <= value <= MAX_AUTO_LOCK_MINUTES:
            self._vault_refuse("Auto-lock: a whole number of minutes from 0 (only when the browser closes) "
                               "to %d." % MAX_AUTO_LOCK_MINUTES)
            return None
        return value

    def set_passphrase(self, new, again, minutes, current=None):
        """Turn the lock on (no ``current``) or change the passphrase."""
        if len(new) < MIN_PASSPHRASE:
            return self._vault_refuse("A passphrase needs at least %d characters." % MIN_PASSPHRASE)
        if new != again:
            return self._vault_refuse("The two passphrases differ.")
        value = self._minutes(minutes)
        if value is None:
            return None
        msg = {"type": "vault.passphrase", "passphrase": new, "auto_lock_minutes": value}
        if current is not None:
            msg["current"] = current
        done = "Passphrase changed." if current is not None else "Passphrase lock on."
        self._request("vault", msg, done)
        self._say("Re-encrypting your keys…", "busy")
        return None

    def remove_passphrase(self, current):
        if not current:
            return self._vault_refuse("Enter your current passphrase.")
        self._request("vault", {"type": "vault.passphrase", "passphrase": None, "current": current},
                      "Passphrase lock off.")
        self._say("Re-encrypting your keys…", "busy")
        return None

    def unlock(self, passphrase, minutes):
        if not passphrase:
            return self._vault_refuse("Enter your passphrase.")
        value = self._minutes(minutes)
        if value is None:
            return None
        msg = {"type": "vault.unlock", "passphrase": passphrase, "auto_lock_minutes": value}
        self._request("vault", msg, "Unlocked.")
        self._say("Unlocking…", "busy")
        return None

    def lock(self):
        self._request("vault", {"type": "vault.lock"}, "Locked.")
