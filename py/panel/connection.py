"""The panel's connection to the worker: phases, requests and their replies, ``hello``.

Part of :class:`panel.state.PanelState` (a mixin: the state is one object, split by
responsibility). What it owns:

* the phase (``starting`` → ``ready``; ``reconnecting`` while the worker restarts;
  ``failed``, ``closed``) and the status line;
* requests: every request gets an ``id`` and waits in ``_requests`` for its reply. One
  made while the worker is not ready is kept unsent and posted when ``hello`` arrives,
  in order; one posted but not answered when the port dropped is posted again
  (``RESEND``), so a message typed at any moment is never lost;
* ``hello``: ours is sent on every ``port.connected``; its reply (or a pushed one when we
  never asked) decides what the panel shows after a (re)connect.
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
          "cancel")


class Connection:
    """Requests, the outbox and the worker's phase (see the module docstring)."""

    def _init_connection(self, now, session):
        self.phase = STARTING
        self.boot_origin = now  # local time when the worker started (estimated)
        self.error = None
        self.python = None
        self.boot = None
        self.version = None
        self.ping_result = None
        self._pending_pings = {}
        self._next_id = 1
        self.session = session or ("p%d" % int(now))
        self.outbox = []
        self._requests = {}  # id -> {"kind", "msg", "sent", "data"}
        self._answered = False  # the worker replied to our hello since the port (re)connected
        self.rev = {}
        for name in SECTIONS:
            self.rev[name] = 0

    # ---------------------------------------------------------------- plumbing

    def _touch(self, *names):
        for name in names:
            self.rev[name] += 1

    def _new_id(self):
        rid = self._next_id
        self._next_id += 1
        return rid

    def _request(self, kind, msg, data=None):
        """Post ``msg`` (with a fresh id) now if the worker is ready, else when it is."""
        rid = self._new_id()
        msg["id"] = rid
        entry = {"kind": kind, "msg": msg, "sent": False, "data": data}
        self._requests[rid] = entry
        if self.phase == READY:
            self.outbox.append(msg)
            entry["sent"] = True
        return rid

    def _flush(self):
        for rid in sorted(self._requests):
            entry = self._requests[rid]
            if not entry["sent"]:
                entry["sent"] = True
                self.outbox.append(entry["msg"])
                self._mark_sending(entry)

    def _mark_sending(self, entry):
        data = entry["data"]
        if entry["kind"] == "send" and data["conv"] is self.conv:
            msg = self.conv.find(data["client_id"])
            if msg is not None and msg.pending:
                msg.pending = "sending"
                msg.rev += 1
                self._touch("messages")

    def take_outbox(self):
        out = self.outbox
        self.outbox = []
        return out

    # ---------------------------------------------------------- the connection

    def _boot_status(self, msg, now):
        state = msg.get("state")
        if state == "failed":
            self.phase = FAILED
            self.error = msg.get("error") or "Python failed to start"
        elif state == "ready":
            pass  # "hello" from Python follows and carries the details
        elif self.phase != READY:
            self.phase = STARTING
            self.boot_origin = now - (msg.get("elapsed_ms") or 0)
        self._touch("status")

    def _send_hello(self):
        msg = {"type": "hello", "v": PROTOCOL_VERSION}
        if self.conv.id is not None:
            msg["conversation_id"] = self.conv.id
        msg["id"] = self._new_id()
        self._requests[msg["id"]] = {"kind": "hello", "msg": msg, "sent": True, "data": None}
        self.outbox.append(msg)  # hello goes out even while not ready: it is what makes us ready

    def _hello_pending(self):
        return any(entry["kind"] == "hello" for entry in self._requests.values())

    def _disconnected(self, now):
        if self.phase == CLOSED:
            return
        self.phase = RECONNECTING
        self._answered = False
        self.boot_origin = now
        self._pending_pings = {}
        for rid in list(self._requests):
            entry = self._requests[rid]
            if entry["kind"] in RESEND:
                entry["sent"] = False
            else:
                del self._requests[rid]
        self._touch("status", "composer", "footer")

    def _hello(self, msg, entry, wall):
        v = msg.get("v")
        if v is not None and v != PROTOCOL_VERSION:
            self.phase = CLOSED
            self.error = "SidePy was updated: reopen the panel."
            self._touch("status", "composer")
            return
        self.phase = READY
        self.error = None
        self.boot = msg.get("boot") or self.boot
        if self.boot:
            self.python = self.boot.get("python") or self.python
        self.version = msg.get("version") or self.version
        if msg.get("settings"):
            self.settings = msg["settings"]
        if msg.get("conversations") is not None:
            self.conversations = msg["conversations"]
        if msg.get("storage"):
            self.storage = msg["storage"]
        if msg.get("limits"):
            self.limits = msg["limits"]
            self.limits_at = wall
        self._queue_state(msg.get("queue"))
        # Our hello's reply says what to show; a pushed hello (sent on every connect) only
        # does when we never asked, so a late push cannot undo a reply or a turn in progress.
        if entry is not None:
            self._answered = True
            self._adopt(msg.get("active"))
        elif not self._answered and not self._hello_pending():
            self._adopt(msg.get("active"))
        self._flush()
        if entry is not None and not self._models_asked:
            # The picker lists what the server has now: refreshed once per panel opening,
            # quietly (a first run without a key is no error worth a banner).
            self._models_asked = True
            self.refresh_models(quiet=True)
        self._touch(*SECTIONS)

    def _adopt(self, active):
        """Show the worker's view of the conversation after (re)connecting."""
        conv = self.conv
        if active and active.get("id") == conv.id and conv.id is not None:
            self._settle_resends(active)
            conv.load(active)
            self._after_load()
        elif conv.id is None and active and not conv.messages:
            conv.load(active)  # a fresh panel shows the most recent conversation
            self._after_load()
        # Otherwise keep the view: no ``active`` for our id means an unsaved draft, which a
        # chat.send with its id still creates, and a fresh panel with a queued message
        # stays the new chat it was typed into.

    def _settle_resends(self, active):
        """Sends the worker took before it went away are not sent twice."""
        stored = {}
        last_user = None
        for v in active.get("messages") or []:
            if v.get("client_id"):
                stored[v["client_id"]] = True
            if v.get("role") == "user":
                last_user = v
        for rid in sorted(self._requests):
            entry = self._requests[rid]
            if entry["kind"] != "send" or entry["sent"] or entry["data"]["conv"] is not self.conv:
                continue
            same_text = (
                last_user is not None
                and not last_user.get("client_id")
                and last_user.get("text") == entry["msg"]["text"]
            )
            if stored.get(entry["data"]["client_id"]) or same_text:
                del self._requests[rid]

    def _after_load(self):
        conv = self.conv
        last = None
        for m in conv.messages:
            if m.role == "assistant" and m.usage:
                last = m.usage
        self.last_usage = last
        self._touch("messages", "header", "footer", "composer")

    # ------------------------------------------------------------ request replies

    def _error_reply(self, msg, entry):
        text = msg.get("message") or "unknown error"
        if entry is None:
            rid = msg.get("id")
            if rid is not None and rid < self._next_id:
                return  # a request already settled (e.g. also delivered by the relay after a restart)
            self._banner("error", "error", text)
            return
        kind = entry["kind"]
        data = entry["data"]
        if kind in ("send", "regenerate", "edit"):
            self._unsend(entry)
        elif kind == "open":
            data["conv"].loading = False
            self._touch("messages")
        elif kind == "export" and msg.get("code") == "unknown_type":
            self._offer_download(data, None)  # an older worker: export what the panel holds
            return
        elif kind == "search":
            self._search_id = None
            return
        elif kind == "models" and data and data.get("quiet"):
            return
        elif kind == "cancel":
            self._cancelling.pop(data["queue_id"], None)  # it started meanwhile: shown until the push
            self._touch("queue")
        self._banner("req-%d" % msg.get("id"), "error", text)

    # ------------------------------------------------------------------ outputs

    def make_ping(self, now):
        """Return the ping message to send; its pong fills ``ping_result``."""
        ping_id = self._new_id()
        self._pending_pings[ping_id] = now
        return {"type": "ping", "id": ping_id}

    @property
    def ready(self):
        return self.phase == READY

    @property
    def ticking(self):
        """True while the status line shows a running clock."""
        return self.phase in (STARTING, RECONNECTING)

    def status_text(self, now):
        seconds = max(0, now - self.boot_origin) / 1000
        if self.phase == STARTING:
            return "Starting Python… %.1f s" % seconds
        if self.phase == RECONNECTING:
            return "Reconnecting… %.1f s" % seconds
        if self.phase == READY:
            return "Ready"
        return self.error or "Stopped"
