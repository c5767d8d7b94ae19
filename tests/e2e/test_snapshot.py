"""Memory-snapshot boot (extension/boot.js): every wake restores Python from the
snapshot the first boot made, and a bad snapshot costs one cold boot, never a
broken worker.

The worker is stopped with CDP ``ServiceWorker.stopAllWorkers`` (what Chrome does
to an idle worker) and woken by the next message. The snapshot lives in the
extension's IndexedDB, which extension pages share with the worker: the tests
open it from a page to corrupt it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from mockapi import MockServerThread, text_reply
from tests.e2e.conftest import Extension

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-snapshot"
SNAPSHOT_PHASES = ["start", "snapshot-read", "module", "heap", "runtime", "ready"]
# Top-level packages a wake must not import again: they are in the snapshot.
IN_SNAPSHOT = {"background", "modelclient", "pydantic", "pydantic_core"}

# JS run in an extension page with `db` open on the worker's snapshot store
# (extension/snapshot/store.js) and helpers get(name) / put(value, name).
STORE_JS = """async (body) => {
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open("sidepy-snapshot");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const run = (fn) => new Promise((resolve, reject) => {
    const req = fn(db.transaction("snapshot", "readwrite").objectStore("snapshot"));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const get = (name) => run((s) => s.get(name));
  const put = (value, name) => run((s) => s.put(value, name));
  try {
    return await (async () => { BODY })();
  } finally {
    db.close();
  }
}"""


class Worker:
    """Pings the extension's worker from one of its pages, and stops it."""

    def __init__(self, extension: Extension) -> None:
        self.page = extension.page("dev.html")
        self.cdp = extension.context.new_cdp_session(self.page)
        self.cdp.send("ServiceWorker.enable")
        self.sent = 0

    def send(self, message: dict[str, Any]) -> dict[str, Any]:
        reply = self.page.evaluate("(m) => chrome.runtime.sendMessage(JSON.stringify(m))", message)
        return json.loads(reply)  # type: ignore[no-any-return]

    def ping(self) -> dict[str, Any]:
        """The worker's boot record, from the reply to a ping."""
        self.sent += 1
        reply = self.send({"type": "ping", "id": self.sent})
        assert reply["type"] == "pong" and reply["id"] == self.sent, reply
        return reply["boot"]  # type: ignore[no-any-return]

    def wait_saved(self, timeout_s: float = 30) -> None:
        """Wait until this worker has stored the snapshot its cold boot made."""
        deadline = time.monotonic() + timeout_s
        while (save := self.ping()["save"]) == "saving" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert save == "saved", f"snapshot not saved: {save}"

    def stop(self) -> None:
        self.cdp.send("ServiceWorker.stopAllWorkers")

    def store(self, body: str) -> Any:
        return self.page.evaluate(STORE_JS.replace("BODY", body))


@pytest.fixture(scope="module")
def server() -> Iterator[MockServerThread]:
    with MockServerThread(api_key=KEY) as srv:
        yield srv


def chat_works(worker: Worker, server: MockServerThread, text: str) -> None:
    """One streamed turn through modelclient and the browser's fetch (diag.chat)."""
    server.enqueue(text_reply(text, chunk_size=4))
    reply = worker.send({"type": "diag.chat", "id": 0, "base_url": server.base_url, "api_key": KEY,
                         "text": "hi"})
    assert reply.get("text") == text, reply


def test_five_wakes_in_a_row_restore_the_snapshot(extension: Extension, server: MockServerThread) -> None:
    worker = Worker(extension)
    panel = extension.page("sidepanel.html")
    status = panel.frame_locator("#ui").get_by_test_id("status")
    expect(status).to_have_text("Ready", timeout=30_000)
    first = worker.ping()
    assert first["mode"] == "cold" and first["rejected"] == "none stored", first
    worker.wait_saved()
    workers = {first["started_at"]}
    for wake in range(1, 6):
        worker.stop()
        expect(status).not_to_have_text("Ready", timeout=10_000)  # the panel saw its worker go
        boot = worker.ping()
        assert boot["started_at"] not in workers, f"wake {wake}: not a new worker"
        workers.add(boot["started_at"])
        assert boot["mode"] == "snapshot" and boot["rejected"] is None and boot["save"] is None, boot
        assert [name for name, _ in boot["phases"]] == SNAPSHOT_PHASES, boot
        assert boot["python"].startswith("3.14."), boot
        # The first message after the wake paid for none of our code or pydantic.
        late = [m for m in boot["late_imports"] if m.split(".")[0] in IN_SNAPSHOT]
        assert late == [], f"wake {wake}: imported after the restore: {late}"
        expect(status).to_have_text("Ready", timeout=30_000)
        chat_works(worker, server, f"wake {wake} streams")


# name -> (JS that damages the stored snapshot, the start of the rejection reason)
CORRUPTIONS = {
    "truncated image": (
        'const image = await get("image"); await put(image.slice(0, image.size / 2), "image");',
        "image truncated",
    ),
    "zeroed heap": (
        'const image = await get("image"); await put(new Blob([new Uint8Array(image.size)]), "image");',
        "restore failed: ",
    ),
    "garbage meta": ('await put("not a snapshot", "meta");', "meta record unreadable"),
    "stale key": (
        'const meta = await get("meta"); meta.key.python_key = "0".repeat(64); await put(meta, "meta");',
        "stale: python_key changed",
    ),
    "function table mismatch": (
        'const meta = await get("meta"); meta.dylibs.tableHash ^= 1; await put(meta, "meta");',
        "restore failed: function table differs",
    ),
    "restore never finished": (
        'const meta = await get("meta");'
        ' await chrome.storage.session.set({"sidepy.snapshot.restoring": meta.created_at});',
        "its last restore never finished",
    ),
}


@pytest.mark.parametrize("damage", list(CORRUPTIONS))
def test_a_bad_snapshot_costs_one_cold_boot(
    extension: Extension, server: MockServerThread, damage: str
) -> None:
    script, reason = CORRUPTIONS[damage]
    worker = Worker(extension)
    assert worker.ping()["mode"] == "cold"
    worker.wait_saved()
    worker.store(script)
    worker.stop()
    boot = worker.ping()
    assert boot["mode"] == "cold" and boot["state"] == "ready", boot
    assert boot["rejected"].startswith(reason), boot
    chat_works(worker, server, f"{damage}: recovered")
    assert any(f"SidePy: snapshot rejected ({reason}" in line and line.endswith("; cold boot")
               for line in extension.console), extension.console
    worker.wait_saved()  # the cold boot made a good one again
    worker.stop()
    assert worker.ping()["mode"] == "snapshot"
