"""The options page's link to the worker: requests, the relay's control words, the status line.

Each part of the options page (``panel.form_state``, ``panel.vault_state``,
``panel.account_state``) is given this one object in its constructor: it is how a
part asks the worker something (``request``) and tells the user what happened
(``say``), and how it marks the sections it changed (``touch``). What a part knows
stays in the part; the link only carries messages.
"""

STARTING = "starting"
READY = "ready"
RECONNECTING = "reconnecting"
CLOSED = "closed"
FAILED = "failed"

SECTIONS = ("status", "form", "errors", "preview", "key", "vault", "test", "auth", "diag", "profiles",
            "efforts")


class OptionsLink:
    def __init__(self):
        self.phase = STARTING
        self.status = "Starting…"
        self.status_kind = "busy"  # busy | ok | error | info
        self.outbox = []  # JSON messages for the worker
        self.control = []  # plain-string control words for the relay (ui.permissions ...)
        self.rev = {}
        for name in SECTIONS:
            self.rev[name] = 0
        self._next_id = 1
        self._pending = {}  # id -> (kind, data)

    def touch(self, *names):
        for name in names:
            self.rev[name] += 1

    def say(self, text, kind="info"):
        self.status = text
        self.status_kind = kind
        self.touch("status")

    def request(self, kind, msg, data=None):
        """Post ``msg`` with a fresh id; its reply is matched back to ``(kind, data)``."""
        msg["id"] = self._next_id
        self._pending[self._next_id] = (kind, data)
        self._next_id += 1
        self.outbox.append(msg)
        return msg["id"]

    def answer(self, rid):
        """The ``(kind, data)`` of the request ``rid`` answers (once), else None."""
        return self._pending.pop(rid, None) if rid is not None else None

    def waiting(self, *kinds):
        return any(kind in kinds for kind, _ in self._pending.values())

    def drop_pending(self):
        """The worker went away: its unanswered requests are lost; return their kinds."""
        lost = [kind for kind, _ in self._pending.values()]
        self._pending = {}
        return lost

    def take_outbox(self):
        out, self.outbox = self.outbox, []
        return out

    def take_control(self):
        out, self.control = self.control, []
        return out
