"""The built extension boots Python in its worker and the panel talks to it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Extension

pytestmark = pytest.mark.e2e


def test_worker_boots_python_and_records_phases(extension: Extension) -> None:
    boot = extension.wait_ready()
    assert boot["state"] == "ready", boot
    assert boot["python"].startswith("3.14."), boot
    # A fresh profile has no snapshot: the first boot makes one and restores it
    # (extension/boot.js; the snapshot wakes are in test_snapshot.py).
    assert boot["mode"] == "cold" and boot["rejected"] == "none stored", boot
    names = [name for name, _ in boot["phases"]]
    made = ["start", "python", "packages", "import", "snapshot"]  # a _makeSnapshot Pyodide
    assert names == [*made, "module", "heap", "runtime", "ready"]  # its snapshot restored
    times = [ms for _, ms in boot["phases"]]
    assert times == sorted(times)


def test_runtime_message_ping_reaches_python(extension: Extension) -> None:
    reply = extension.send({"type": "ping", "id": 7})
    assert reply["type"] == "pong" and reply["id"] == 7
    assert reply["python"].startswith("3.14.")
    assert reply["platform"] == "emscripten"


def test_malformed_message_gets_an_error_reply(extension: Extension) -> None:
    reply = extension.send({"type": "no.such.thing", "id": 3})
    assert reply == {"type": "error", "id": 3, "code": "unknown_type",
                     "message": "unknown message type 'no.such.thing'"}


def test_side_panel_shows_ready_and_ping_round_trips(extension: Extension) -> None:
    panel = extension.page("sidepanel.html").frame_locator("#ui")
    expect(panel.get_by_test_id("status")).to_have_text("Ready", timeout=30_000)
    expect(panel.get_by_test_id("ping")).to_have_count(0)  # a diagnostic: on the options page
    ui = extension.page("options.html").frame_locator("#options-ui")
    ui.get_by_test_id("fold-diagnostics").locator("summary").click()  # folded: few need it
    ui.get_by_test_id("ping").click()
    expect(ui.get_by_test_id("ping-result")).to_have_text(
        re.compile(r"^pong from Python 3\.14\.\d+ in \d+ ms$"), timeout=10_000
    )


def test_pages_and_worker_start_without_errors(extension: Extension) -> None:
    """What chrome://extensions would list: uncaught errors and console errors."""
    errors: list[str] = []
    extension.context.on("weberror", lambda e: errors.append(f"uncaught: {e.error}"))
    extension.context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    panel = extension.page("sidepanel.html").frame_locator("#ui")
    expect(panel.get_by_test_id("status")).to_have_text("Ready", timeout=30_000)
    options = extension.page("options.html")
    expect(options.frame_locator("#options-ui").get_by_test_id("provider")).to_be_visible(timeout=30_000)
    options.wait_for_timeout(2_000)  # late module errors
    assert errors == []
