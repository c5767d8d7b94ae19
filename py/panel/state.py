"""Panel state machine: worker messages and user intents in, view state out.

Pure and clock-free: every call takes ``now`` (milliseconds, any monotonic origin),
so the same code runs in MicroPython (driven by the DOM layer) and in CPython
tests. Messages are the JSON objects of docs/protocol.md, already decoded.
"""

STARTING = "starting"
READY = "ready"
FAILED = "failed"
RECONNECTING = "reconnecting"
CLOSED = "closed"


class PanelState:
    def __init__(self, now):
        self.phase = STARTING
        self.boot_origin = now  # local time when the worker started (estimated)
        self.error = None
        self.python = None
        self.boot = None
        self.ping_result = None
        self._pending_pings = {}
        self._next_id = 1

    # ------------------------------------------------------------------ inputs

    def receive(self, msg, now):
        """Apply one message from the worker (or the relay)."""
        kind = msg.get("type")
        if kind == "boot.status":
            self._boot_status(msg, now)
        elif kind == "hello":
            self.phase = READY
            self.error = None
            self.boot = msg.get("boot")
            if self.boot:
                self.python = self.boot.get("python")
        elif kind == "pong":
            sent = self._pending_pings.pop(msg.get("id"), None)
            self.python = msg.get("python") or self.python
            if sent is not None:
                self.ping_result = "pong from Python %s in %d ms" % (self.python, now - sent)
        elif kind == "port.disconnected":
            if self.phase != CLOSED:
                self.phase = RECONNECTING
                self.boot_origin = now
        elif kind == "port.closed":
            self.phase = CLOSED
            self.error = "SidePy was updated or removed: close and reopen the panel."
        elif kind == "error":
            self.error = msg.get("message") or "unknown error"

    def _boot_status(self, msg, now):
        state = msg.get("state")
        if state == "failed":
            self.phase = FAILED
            self.error = msg.get("error") or "Python failed to start"
        elif state == "ready":
            pass  # "hello" from Python follows and carries the details
        else:
            self.phase = STARTING
            self.boot_origin = now - (msg.get("elapsed_ms") or 0)

    def make_ping(self, now):
        """Return the ping message to send; its pong fills ``ping_result``."""
        ping_id = self._next_id
        self._next_id += 1
        self._pending_pings[ping_id] = now
        return {"type": "ping", "id": ping_id}

    # ----------------------------------------------------------------- outputs

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
