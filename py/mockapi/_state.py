"""What the server remembers: queued scripts, recorded requests, configuration.

All of it sits behind one ``threading.Lock`` because :class:`MockServerThread`
serves from its own thread while the test thread enqueues scripts and reads the
records. :class:`Controls` is the public, thread-safe face of that state, shared
by the asyncio server and the thread runner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._oauth import OAuthMock
from ._scripts import Script

__all__ = ["Controls", "RecordedRequest", "State"]


@dataclass(slots=True)
class RecordedRequest:
    """One request as the server received it.

    Fields:
        index: position in the record (0-based, stable until :meth:`Controls.reset`).
        method, path, query: the request line (``query`` as a dict of first values).
        headers: lower-cased names; repeated headers joined with ``", "``.
        body: raw bytes; ``json``: the parsed body, or ``None`` if it was not JSON.
        time: ``time.monotonic()`` at arrival (compare two for retry timing);
            ``wall_time``: ``time.time()``.
        endpoint: ``"responses"``, ``"models"``, ``"oauth"`` (the token endpoint) or
            ``None`` (preflight, unknown path).
        script: label of the script that answered; ``status``: the status sent;
            ``request_id``: the ``x-request-id`` sent back.
    """

    index: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    time: float
    wall_time: float
    endpoint: str | None = None
    script: str | None = None
    status: int | None = None
    request_id: str | None = None

    @property
    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer …`` header, if any."""
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth[:7].lower() == "bearer " else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the body as text) for ``GET /_mock/requests``."""
        return {
            "index": self.index,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "json": self.json,
            "time": self.time,
            "wall_time": self.wall_time,
            "endpoint": self.endpoint,
            "script": self.script,
            "status": self.status,
            "request_id": self.request_id,
        }


@dataclass
class State:
    """The mutable state of one server; every access takes ``lock``."""

    api_key: str | None
    default: Script | None
    fixture_dirs: list[Path]
    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: list[tuple[Script, list[int | None]]] = field(default_factory=list)
    records: list[RecordedRequest] = field(default_factory=list)
    oauth: OAuthMock = field(default_factory=OAuthMock)  # has its own lock

    def __post_init__(self) -> None:
        self._initial = (self.api_key, self.default)

    def take(self, endpoint: str) -> Script | None:
        """Pop the next script for ``endpoint`` (``None``: use the built-in reply)."""
        with self.lock:
            for i, (script, left) in enumerate(self.queue):
                if script.endpoint != endpoint:
                    continue
                if left[0] is not None:
                    left[0] -= 1
                    if left[0] <= 0:
                        del self.queue[i]
                return script
            return self.default if endpoint == "responses" else None

    def record(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        parsed: Any,
    ) -> RecordedRequest:
        """Append a request to the record and return it (handlers fill in the outcome)."""
        with self.lock:
            rec = RecordedRequest(
                len(self.records), method, path, dict(query), dict(headers), body, parsed,
                time.monotonic(), time.time(),
            )
            self.records.append(rec)
            return rec


class Controls:
    """Thread-safe test controls shared by :class:`MockResponsesServer` and
    :class:`MockServerThread`: script queue, default reply, records, API key."""

    _state: State

    def enqueue(self, *scripts: Script) -> None:
        """Queue scripts; each answers its next ``times`` matching requests, in order."""
        for script in scripts:
            if script.times is not None and script.times < 1:
                raise ValueError("Script.times must be >= 1 or None (answer until reset)")
        with self._state.lock:
            self._state.queue.extend((s, [s.times]) for s in scripts)

    def set_default(self, script: Script | None) -> None:
        """Answer unscripted ``/responses`` requests with ``script`` (``None``: built-in echo)."""
        with self._state.lock:
            self._state.default = script

    @property
    def api_key(self) -> str | None:
        """The key ``Authorization: Bearer`` must carry (``None``: no check)."""
        return self._state.api_key

    @api_key.setter
    def api_key(self, key: str | None) -> None:
        with self._state.lock:
            self._state.api_key = key

    def reset(self) -> None:
        """Forget scripts and records, sign out of ChatGPT; restore the constructor's key and default."""
        state = self._state
        with state.lock:
            state.queue.clear()
            state.records.clear()
            state.api_key, state.default = state._initial
        state.oauth.reset()

    @property
    def oauth(self) -> OAuthMock:
        """The ChatGPT sign-in: token endpoint outcomes, access-token expiry, backend check."""
        return self._state.oauth

    @property
    def pending(self) -> int:
        """How many scripts are still queued."""
        with self._state.lock:
            return len(self._state.queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far (control endpoints excluded), oldest first."""
        with self._state.lock:
            return list(self._state.records)

    def requests_to(self, endpoint: str = "responses") -> list[RecordedRequest]:
        """The requests routed to ``endpoint`` (``"responses"``, ``"models"`` or ``"oauth"``)."""
        return [r for r in self.requests if r.endpoint == endpoint]

    @staticmethod
    def _filter(records: Sequence[RecordedRequest], endpoint: str | None) -> list[RecordedRequest]:
        return [r for r in records if endpoint is None or r.endpoint == endpoint]
