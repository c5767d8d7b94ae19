"""The providers the user saved, switched from the panel, and the active one's model list.

A part of :class:`panel.state.PanelState`. The worker keeps the settings of the
provider in use at the top of the ``SettingsView`` (``provider``, ``preset``,
``base_url``, ``models`` ...) and the others as ``profiles`` (``[{id, name}]``),
with ``active_profile`` naming the one in use. This part:

* offers the switcher (``header``: shown when two or more are saved) and asks
  ``profile.select``; the worker answers with the new ``settings`` (its models, its
  key), which :class:`panel.setup.Setup` takes like any other view;
* keeps the model picker's list fresh: ``models.list`` (``GET {base}/models`` in the
  worker) once per panel opening, again when another provider becomes the active
  one, and when the user presses refresh. The automatic ones are quiet (a first run
  without a key or a server not started yet is no error worth a banner); the
  button's failure says what is wrong in a banner (the worker's sentence names the
  server and the fix).
"""

from panel import errors


class Providers:
    def __init__(self, conn, rev, banners, setup):
        self.conn = conn
        self.rev = rev
        self.banners = banners
        self.setup = setup
        self.asked = False  # the model list was asked for since the panel opened
        self._active = None  # the active_profile of the last view (None: no view yet)

    # ------------------------------------------------------------- worker messages

    def opened(self, entry):
        """Our ``hello`` was answered: ask for the server's models, once per opening."""
        if entry is not None and not self.asked:
            self.asked = True
            self.refresh(quiet=True)

    def followed(self, view):
        """A new ``SettingsView``: another active provider means another server's models."""
        active = (view or {}).get("active_profile") or ""
        before, self._active = self._active, active
        if self.asked and before is not None and active != before:
            self.refresh(quiet=True)

    def refused(self, msg, entry):
        """An ``error`` answering our ``profile.select`` or ``models.list``."""
        if entry["kind"] == "models" and (entry["data"] or {}).get("quiet"):
            return
        self.banners.show("request", errors.explain_request(msg))

    # ----------------------------------------------------------------- intents

    def select(self, profile_id):
        """Chat uses the saved provider ``profile_id`` from the next message on."""
        if profile_id and profile_id != (self.setup.settings.get("active_profile") or ""):
            self.banners.dismiss("request")
            self.conn.request("profile", {"type": "profile.select", "profile_id": profile_id})

    def refresh(self, quiet=False):
        """Ask the worker for the active provider's models (it answers with ``settings``)."""
        if not quiet:
            self.banners.dismiss("request")
        self.conn.request("models", {"type": "models.list", "refresh": True}, {"quiet": quiet})

    # ------------------------------------------------------------------ outputs

    def header(self):
        """The switcher: ``{"profiles": [(id, name)], "profile": id}``."""
        s = self.setup.settings
        profiles = []
        for p in s.get("profiles") or []:
            if p.get("id"):
                profiles.append((p["id"], p.get("name") or p["id"]))
        return {"profiles": profiles, "profile": s.get("active_profile") or ""}
