"""A fatal error in Pyodide (what deep JSON once caused) leaves no dead Python behind.

Pyodide cannot go on after a fatal error: every later call throws. The worker
forgets that interpreter at once (extension/boot.js), so the next event boots a
fresh one, even while an open panel's heartbeat keeps the worker itself alive.
Developer build: ``diag.fatal`` kills Python on purpose.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Extension

pytestmark = pytest.mark.e2e


def test_after_a_fatal_error_the_next_message_boots_a_fresh_python(extension: Extension) -> None:
    boot = extension.wait_ready()
    assert boot["state"] == "ready", boot
    panel = extension.page("sidepanel.html")  # its heartbeat keeps this worker alive throughout
    first = extension.send({"type": "ping", "id": 1})["boot"]
    died = extension.send({"type": "diag.fatal", "id": 2})
    assert died["type"] == "error", died  # the call failed; the worker did not
    again = extension.send({"type": "ping", "id": 3})
    assert again["type"] == "pong", again
    phases = [name for name, _ in again["boot"]["phases"]]
    assert "fatal" in phases and phases.count("ready") == phases.count("start") == 2, phases
    assert again["boot"]["started_at"] == first["started_at"]  # the same worker, a new Python
    assert extension.send({"type": "conv.list", "id": 4})["type"] == "conv.list"
    panel.close()
