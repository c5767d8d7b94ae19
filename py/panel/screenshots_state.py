"""The options page's "Screenshots" section: whether the panel's camera may capture any tab.

A part of :class:`panel.settings_state.SettingsState`. The panel's Screenshot button works
on a tab where the user opened SidePy (Chrome's activeTab grant: the toolbar button, the
shortcut, the context menu). With the optional ``<all_urls>`` host permission it works on
any tab; this part shows whether that is granted (the worker's ``SettingsView.screenshots``)
and asks Chrome for it (the relay's ``ui.permissions``, inside the click) or gives it back
(``ui.permissions.remove``).

Pure (MicroPython and CPython).
"""

ALL_URLS = "<all_urls>"


class ScreenshotAccess:
    def __init__(self, link):
        self.link = link  # panel.options_link.OptionsLink
        self.any_tab = None  # unknown until the worker's settings view says
        self.asking = False

    def settings(self, view):
        """The worker's ``SettingsView``."""
        shots = view.get("screenshots") if isinstance(view, dict) else None
        if isinstance(shots, dict) and "any_tab" in shots:
            self.any_tab = bool(shots.get("any_tab"))
            self.link.touch("form")

    def allow(self):
        """Ask Chrome for ``<all_urls>``: must run inside the click (see the relay)."""
        self.link.control.append('ui.permissions ["' + ALL_URLS + '"]')
        self.asking = True
        self.link.touch("form")

    def revoke(self):
        """Give ``<all_urls>`` back: screenshots then need the toolbar button again."""
        self.link.control.append('ui.permissions.remove ["' + ALL_URLS + '"]')
        self.asking = True
        self.link.touch("form")

    def permission_result(self, msg):
        """``permission.result``; True when it answered this part's request."""
        if (msg.get("origins") or []) != [ALL_URLS]:
            return False
        self.asking = False
        error = msg.get("error")
        if "revoked" in msg:  # the answer to ui.permissions.remove
            if msg.get("revoked"):
                self.any_tab = False
                self.link.say("Screenshots need SidePy to be opened on the tab again.", "ok")
            else:
                self.link.say("Chrome kept the permission" + (": " + error if error else "") + ".", "error")
        elif msg.get("granted"):
            self.any_tab = True
            self.link.say("The Screenshot button now works on any tab.", "ok")
        else:
            self.link.say("Chrome did not allow screenshots of every tab" + (": " + error if error else "")
                          + ". The Screenshot button still works where you open SidePy.", "error")
        self.link.touch("form")
        return True

    @property
    def text(self):
        if self.any_tab is None:
            return ""
        if self.any_tab:
            return "Allowed: the Screenshot button captures any tab."
        return "Not allowed: the Screenshot button captures a tab after you open SidePy on it."
