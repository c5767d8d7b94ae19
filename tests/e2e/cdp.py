"""A tiny Chrome DevTools Protocol driver for worker-lifetime tests.

Playwright attaches to every service worker it sees, and a worker with a
debugger attached is never stopped for being idle, so a lifetime test driven by
Playwright cannot fail. This driver starts Debian's Chromium itself and attaches
only to the pages it opens, leaving the extension's worker to Chrome's normal
30-second idle rule.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import CHROMIUM, chromium_args


class Browser:
    def __init__(self, extension_dir: Path) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="sidepy-cdp-"))
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", f"--user-data-dir={self.profile}",
             "--remote-debugging-port=0", *chromium_args(extension_dir), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self._ids = itertools.count(1)
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(self._connect())
        self.extension_id = self._wait_for_worker().split("/")[2]
        self._close_welcome()

    def _close_welcome(self) -> None:
        """Close the welcome tab installing opens, as a user would: an open settings page's
        heartbeat would keep the worker alive, which is what these scenarios measure."""
        welcome = f"chrome-extension://{self.extension_id}/options.html#welcome"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for target in self.call("Target.getTargets")["targetInfos"]:
                if target["type"] == "page" and target["url"] == welcome:
                    self.call("Target.closeTarget", {"targetId": target["targetId"]})
                    return
            time.sleep(0.05)
        raise RuntimeError("installing SidePy opened no welcome tab within 15 s")

    def _connect(self) -> ClientConnection:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if marker.exists() and len(parts := marker.read_text().split()) == 2:
                return connect(f"ws://127.0.0.1:{parts[0]}{parts[1]}", max_size=None)
            time.sleep(0.05)
        raise RuntimeError("Chromium did not open its DevTools port within 30 s")

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        msg_id = next(self._ids)
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:  # events for other sessions are dropped; we only poll state
            reply = json.loads(self.ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]  # type: ignore[no-any-return]

    def workers(self) -> list[str]:
        infos = self.call("Target.getTargets")["targetInfos"]
        return [t["url"] for t in infos if t["type"] == "service_worker"]

    def _wait_for_worker(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if found := self.workers():
                return found[0]
            time.sleep(0.1)
        raise RuntimeError("the extension's service worker did not start within 30 s")

    def open(self, path: str) -> str:
        """Open an extension page and attach to it; return the session id."""
        url = f"chrome-extension://{self.extension_id}/{path}"
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        deadline = time.monotonic() + 30
        while not self.evaluate(session, "document.readyState === 'complete' && !!chrome.runtime"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not load within 30 s")
            time.sleep(0.05)
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, session)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            described = details.get("exception", {}).get("description") or details.get("text")
            raise RuntimeError(f"{expression[:60]}...: {described}")
        return result["result"].get("value")

    def send(self, session: str, message: dict[str, Any]) -> dict[str, Any]:
        """chrome.runtime.sendMessage from the page; the worker's JSON reply."""
        text = json.dumps(json.dumps(message))
        return json.loads(self.evaluate(session, f"chrome.runtime.sendMessage({text})"))  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)
