"""The options page's diagnostics: which Python the worker runs, and a round trip to it.

A part of :class:`panel.settings_state.SettingsState`. Developer details live here,
on the options page, not in the side panel. ``ping`` asks the worker's Python; the
``pong`` says its version and the round trip in milliseconds (``now`` is the DOM
layer's monotonic clock).
"""


class Diagnostics:
    def __init__(self, link):
        self.link = link
        self.result = None  # the last round trip, in words
        self.python = None
        self._sent = {}  # request id -> when it was sent

    def ping(self, now):
        rid = self.link.request("ping", {"type": "ping"})
        self._sent[rid] = now
        self.result = "Asking Python…"
        self.link.touch("diag")

    def pong(self, msg, now):
        sent = self._sent.pop(msg.get("id"), None)
        self.python = msg.get("python") or self.python
        if sent is not None:
            self.result = "pong from Python %s in %d ms" % (self.python, now - sent)
            self.link.touch("diag")
