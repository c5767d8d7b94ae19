"""The options page's saved providers: save the one in use, add another, switch, remove.

A part of :class:`panel.settings_state.SettingsState`. A saved provider ("OpenAI",
"Ollama on this machine" ...) is the provider fields of the settings — preset, base
URL, API, model, its server's models — and its own key, which the worker keeps in
the vault bound to that provider's server (docs/protocol.md, "Providers"). The
settings' top level is always the one in use; this part lists the others
(``SettingsView.profiles``, ``active_profile``) and asks the worker to:

* ``profile.save``: remember the settings as saved (not the form's unsaved edits)
  under a name; with ``new``, start another provider from a copy of them, without
  the key;
* ``profile.select``: use another saved provider (the form then shows it:
  :class:`panel.form_state.SettingsForm` reloads on the ``profile`` answer);
* ``profile.delete``: forget one that is not in use, and its key.
"""


class ProviderList:
    def __init__(self, link, form):
        self.link = link
        self.form = form  # panel.form_state.SettingsForm: whether there are unsaved edits
        self.profiles = []  # [{id, name, preset, model}]
        self.active = ""  # the id of the one in use ("" until one is saved)

    # ------------------------------------------------------------ worker messages

    def settings(self, view, kind=None, data=None):
        """A ``SettingsView``; ``data`` of our own ``profile`` request says what it did."""
        self.profiles = list(view.get("profiles") or [])
        self.active = view.get("active_profile") or ""
        self.link.touch("profiles")
        if kind == "profile" and data:
            self.link.say(data, "ok")

    def refused(self, msg):
        self.link.say(msg.get("message") or "Something went wrong", "error")

    # ---------------------------------------------------------------- intents

    def _can_act(self):
        return self.form.form is not None and not self.form.busy

    def save(self, name, new=False):
        """Remember the provider in use under ``name`` (``new``: add another provider, starting
        from these settings without the key)."""
        if not self._can_act():
            return
        if self.form.dirty:
            self.link.say("Save your changes first: a provider is saved as its settings are saved.", "error")
            return
        msg = {"type": "profile.save", "new": bool(new)}
        if name and name.strip():
            msg["name"] = name.strip()
        said = "Added a provider: set its server and key, then save" if new else "Provider saved"
        self.link.request("profile", msg, said)
        self.link.say("Saving the provider…", "busy")

    def select(self, profile_id):
        if not profile_id or profile_id == self.active or not self._can_act():
            return
        if self.form.dirty:  # the form is about to show the other provider: nothing typed is lost
            self.link.say("Save your changes first (or reload the page to drop them): switching shows the "
                          "other provider's settings.", "error")
            return
        msg = {"type": "profile.select", "profile_id": profile_id}
        self.link.request("profile", msg, "Switched provider")
        self.link.say("Switching…", "busy")

    def delete(self, profile_id):
        if profile_id and profile_id != self.active and self._can_act():
            self.link.request("profile", {"type": "profile.delete", "profile_id": profile_id},
                              "Provider removed")
