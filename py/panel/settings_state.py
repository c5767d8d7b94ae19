"""The options page's state: worker messages and user intents in, view state out.

Pure, like panel.state: the DOM layer (panel.options) feeds it the worker's
messages (``receive``), calls the parts' intents, posts what the link queued
(``take_control`` first: a host-permission request must reach the relay while the
click's user activation lasts; then ``take_outbox``) and repaints the sections whose
``rev`` moved.

It is composed of parts that own their state, each given what it needs:

=======================  ======================================================
``link``                 :class:`panel.options_link.OptionsLink`: the phase,
                         requests and their replies, the status line
``settings``             :class:`panel.form_state.SettingsForm`: the form,
                         its errors, preview, connection test, permissions
``providers``            :class:`panel.provider_list.ProviderList`: the saved
                         providers: save, add, switch, remove
``vault``                :class:`panel.vault_state.KeyVault`: the stored key's
                         mask, the key vault, reveal, wipe, passphrase lock
``account``              :class:`panel.account_state.Account`: ChatGPT sign-in
``screenshots``          :class:`panel.screenshots_state.ScreenshotAccess`:
                         whether the panel may capture any tab (``<all_urls>``)
``diag``                 :class:`panel.diagnostics.Diagnostics`: the worker's
                         Python, ping
=======================  ======================================================

This class only routes what arrives to the part that asked for it or owns it.
"""

from panel.account_state import Account
from panel.diagnostics import Diagnostics
from panel.form_state import SettingsForm
from panel.options_link import CLOSED, FAILED, READY, RECONNECTING, OptionsLink
from panel.provider_list import ProviderList
from panel.screenshots_state import ScreenshotAccess
from panel.vault_state import KeyVault

# What a part's refusal looks like for the request kinds it owns.
_FORM_KINDS = ("save", "key", "test", "preview", "models")
_VAULT_KINDS = ("vault", "reveal", "approve")


class SettingsState:
    def __init__(self):
        self.link = OptionsLink()
        self.settings = SettingsForm(self.link)
        self.providers = ProviderList(self.link, self.settings)
        self.vault = KeyVault(self.link)
        self.account = Account(self.link, self.settings)
        self.diag = Diagnostics(self.link)
        self.screenshots = ScreenshotAccess(self.link)
        self.landing = ""  # what the address asked for: "welcome", "provider=compatible" ...
        self._landed = False

    # The DOM layer's plumbing.
    @property
    def rev(self):
        return self.link.rev

    @property
    def phase(self):
        return self.link.phase

    @property
    def busy(self):
        return self.settings.busy

    def take_outbox(self):
        return self.link.take_outbox()

    def take_control(self):
        return self.link.take_control()

    def receive(self, msg, now=0):
        kind = msg.get("type")
        entry = self.link.answer(msg.get("id"))
        link = self.link
        if kind == "relay.hello":
            self.landing = msg.get("hash") or ""
            self.link.touch("form")
        elif kind == "boot.status":
            if msg.get("state") == "failed":
                link.phase = FAILED
                link.say(msg.get("error") or "SidePy's background failed to start", "error")
        elif kind == "port.disconnected":
            self._disconnected()
        elif kind == "port.closed":
            link.phase = CLOSED
            link.say("SidePy was updated or removed: reload this page.", "error")
        elif kind == "permission.result":
            if not self.screenshots.permission_result(msg):
                self.settings.permission_result(msg)
        elif kind == "settings":
            self._settings(msg, entry)
        elif kind == "settings.preview":
            self.settings.previewed(msg)
        elif kind == "settings.test":
            self.settings.tested(msg)
        elif kind == "vault.status":
            self.vault.status(msg, entry)
        elif kind == "auth.status":
            self.account.status(msg, entry)
        elif kind == "vault.secret":
            self.vault.secret(msg)
        elif kind == "pong":
            self.diag.pong(msg, now)
        elif kind == "error":
            self._error(msg, entry)

    def _disconnected(self):
        link = self.link
        if link.phase == CLOSED:
            return
        link.phase = RECONNECTING
        lost = [k for k in link.drop_pending() if k in ("save", "key", "test", "vault", "auth", "profile")]
        self.settings.disconnected()
        if lost:
            link.say("The background restarted before answering: try again.", "error")
        else:
            link.say("Reconnecting to the background…", "busy")

    def _settings(self, msg, entry):
        view = msg.get("settings")
        if not view:
            return
        kind, data = entry if entry is not None else (None, None)
        was = self.link.phase
        self.link.phase = READY
        self.settings.settings(view, kind, data)
        self.providers.settings(view, kind, data)
        self.vault.settings(view, kind, data)
        self.account.settings(view)
        self.screenshots.settings(view)
        self._land()
        origin = self.vault.unapproved_origin
        if kind == "save" and not (data or {}).get("key") and origin is not None:
            self.link.say("Saved. Your key has not been sent to " + origin
                          + " yet: approve it below, or enter a key for that server.", "info")
        if kind is None and was != READY and self.link.status_kind == "busy":
            self.link.say("Ready")

    @property
    def welcome(self):
        """Opened from the install or the panel's setup card: say how to start."""
        return self.landing == "welcome" or self.landing.startswith("provider=")

    def _land(self):
        """The setup card's provider choice, preselected once the form is there (not saved)."""
        if self._landed or not self.landing.startswith("provider="):
            return
        self._landed = True
        choice = self.landing[len("provider="):]
        if choice == "chatgpt":
            self.settings.edit("auth_mode", "chatgpt")
            self.settings.preview()
        else:
            self.settings.set_provider(choice)

    def _error(self, msg, entry):
        kind = entry[0] if entry is not None else None
        if kind in _FORM_KINDS:
            self.settings.refused(msg, kind)
        elif kind in _VAULT_KINDS:
            self.vault.refused(msg)
        elif kind == "profile":
            self.providers.refused(msg)
        elif kind == "auth":
            self.account.refused(msg.get("message") or "Something went wrong")
        else:
            self.link.say(msg.get("message") or "Something went wrong", "error")
