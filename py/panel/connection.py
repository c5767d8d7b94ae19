"""The panel's connection to the worker: phases, requests and their replies, ``hello``.

A part of :class:`panel.state.PanelState`, given to the other parts in their
constructors: it is how they ask the worker something. What it owns:

* the phase (``starting`` → ``ready``; ``reconnecting`` while the worker restarts;
  ``failed``, ``closed``);
* requests: every request gets an ``id`` and waits in ``requests`` for its reply,
  with the ``kind`` and ``data`` of the part that asked. One made while the worker is
  not ready is kept unsent and posted when ``hello`` arrives, in order; one posted but
  not answered when the port dropped is posted again (``RESEND``), so a message typed
  at any moment is never lost;
* ``hello``: ours is sent on every ``port.connected``; its reply (or a pushed one when
  we never asked) says what to show after a (re)connect — the router decides what.

:class:`Revisions` holds the repaint counters of the page's sections; every part
gets the same one and bumps (``touch``) the sections it changed.
"""

PROTOCOL_VERSION = 1

STARTING = "starting"
READY = "ready"
FAILED = "failed"
RECONNECTING = "reconnecting"
CLOSED = "closed"

SECTIONS = ("status", "header", "list", "messages", "banners", "footer", "composer", "queue")

# Requests that are posted again after the worker restarted without answering them.
RESEND = ("send", "regenerate", "edit", "page", "rename", "delete", "pin", "settings", "export", "search",
          "cancel", "version", "attach", "attach-remove", "attach-get")


class Revisions:
    """Per-section revision numbers: the renderer repaints a section when its number moved."""

    def __init__(self, names=SECTIONS):
        self.rev = {}
        for name in names:
            self.rev[name] = 0

    def touch(self, *names):
        for name in names:
            self.rev[name] += 1

    def all(self):
        for name in self.rev:
            self.rev[name] += 1


class Connection:
    def __init__(self, rev, now, session=None):
        self.rev = rev
        self.phase = STARTING
        self.since = now  # local time the phase began (a restart's clock)
        self.error = None  # why the phase is failed / closed, in words
        self.version = None
        self.boot = None
        self.session = session or ("p%d" % int(now))
        self.outbox = []
        self.requests = {}  # id -> {"kind", "msg", "sent", "data"}
        self.answered = False  # the worker replied to our hello since the port (re)connected
        self._next_id = 1

    @property
    def ready(self):
        return self.phase == READY

    # ---------------------------------------------------------------- requests

    def new_id(self):
        rid = self._next_id
        self._next_id += 1
        return rid

    def request(self, kind, msg, data=None):
        """Post ``msg`` (with a fresh id) now if the worker is ready, else when it is."""
        rid = self.new_id()
        msg["id"] = rid
        entry = {"kind": kind, "msg": msg, "sent": False, "data": data}
        self.requests[rid] = entry
        if self.phase == READY:
            self.outbox.append(msg)
            entry["sent"] = True
        return rid

    def answer(self, msg):
        """The request ``msg`` answers (taken off the list), else None."""
        rid = msg.get("id")
        if rid is None or msg.get("type") == "pong":
            return None
        return self.requests.pop(rid, None)

    def settled(self, rid):
        """An id we gave out and no longer wait for (a late or doubled reply)."""
        return rid is not None and rid < self._next_id and rid not in self.requests

    def pending(self, kind, pred=None):
        """The unanswered requests of ``kind`` (and ``pred(entry)``), oldest first."""
        out = []
        for rid in sorted(self.requests):
            entry = self.requests[rid]
            if entry["kind"] == kind and (pred is None or pred(entry)):
                out.append(entry)
        return out

    def forget(self, entry):
        """Take back a request that was never sent."""
        rid = entry["msg"].get("id")
        if self.requests.get(rid) is entry:
            del self.requests[rid]

    def flush(self):
        """Post what waited for the worker, in order; return those entries."""
        posted = []
        for rid in sorted(self.requests):
            entry = self.requests[rid]
            if not entry["sent"]:
                entry["sent"] = True
                self.outbox.append(entry["msg"])
                posted.append(entry)
        return posted

    def take_outbox(self):
        out = self.outbox
        self.outbox = []
        return out

    # ----------------------------------------------------------------- the port

    def boot_status(self, msg, now):
        state = msg.get("state")
        if state == "failed":
            self.phase = FAILED
            self.error = msg.get("error") or "SidePy's background failed to start."
        elif state == "ready":
            pass  # "hello" from Python follows and carries the details
        elif self.phase != READY:
            self.phase = STARTING
            self.since = now - (msg.get("elapsed_ms") or 0)
        self.rev.touch("status")

    def send_hello(self, conversation_id):
        msg = {"type": "hello", "v": PROTOCOL_VERSION}
        if conversation_id is not None:
            msg["conversation_id"] = conversation_id
        msg["id"] = self.new_id()
        self.requests[msg["id"]] = {"kind": "hello", "msg": msg, "sent": True, "data": None}
        self.outbox.append(msg)  # hello goes out even while not ready: it is what makes us ready

    def connected(self, conversation_id):
        self.answered = False
        if self.phase != CLOSED:
            self.send_hello(conversation_id)

    def disconnected(self, now):
        if self.phase == CLOSED:
            return
        self.phase = RECONNECTING
        self.answered = False
        self.since = now
        for rid in list(self.requests):
            entry = self.requests[rid]
            if entry["kind"] in RESEND:
                entry["sent"] = False
            else:
                del self.requests[rid]
        self.rev.touch("status", "composer", "footer")

    def closed(self, text):
        self.phase = CLOSED
        self.error = text
        self.rev.touch("status", "composer")

    def hello(self, msg, entry):
        """A ``hello``; True when its ``active`` conversation is the one to show."""
        v = msg.get("v")
        if v is not None and v != PROTOCOL_VERSION:
            self.closed("SidePy was updated: close and reopen the panel.")
            return False
        self.phase = READY
        self.error = None
        self.boot = msg.get("boot") or self.boot
        self.version = msg.get("version") or self.version
        # Our hello's reply says what to show; a pushed hello (sent on every connect) only
        # does when we never asked, so a late push cannot undo a reply or a turn in progress.
        if entry is not None:
            self.answered = True
            return True
        hello_pending = any(e["kind"] == "hello" for e in self.requests.values())
        return not self.answered and not hello_pending

    def status_text(self, now):
        """The status line while the worker is not ready (None when it is)."""
        if self.phase == STARTING:
            return "Starting…"
        if self.phase == RECONNECTING:
            seconds = int(max(0, now - self.since) / 1000)
            return "Reconnecting…" if seconds < 2 else "Reconnecting… %d s" % seconds
        if self.phase == READY:
            return None
        return self.error or "Stopped"
