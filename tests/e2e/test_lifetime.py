"""Chrome stops an idle worker after 30 s; SidePy keeps it alive while it works.

Measured on this machine: bytes arriving on a streaming fetch do not count as
activity, and an open extension page does not either. These scenarios run in
three browsers at once (about a minute in all), driven over raw CDP so that no
debugger attached to the worker keeps it alive by accident (see cdp.py):

* keep-alive: a worker-side fetch whose server sends a byte every 5 s for 45 s
  completes, and the worker is the same one that started it;
* control: the same fetch without the keep-alive dies with the worker at ~30 s
  (this proves the scenario above can fail);
* panel: with only the side panel open and nothing else happening for 50 s, its
  heartbeat keeps the same worker alive.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mockapi import MockServerThread, slow_drip
from tests.e2e.cdp import Browser
from tests.e2e.conftest import CHROMIUM, DIST

pytestmark = pytest.mark.e2e

DRIP_INTERVAL_MS = 5_000
DRIP_FOR_MS = 45_000
QUIET_S = 52  # longer than the drip, and well past Chrome's 30 s idle limit


def stream_scenario(base_url: str, keepalive: bool) -> dict[str, Any]:
    browser = Browser(DIST)
    try:
        page = browser.open("dev.html")
        before = browser.send(page, {"type": "ping", "id": 1})["boot"]["started_at"]
        body = json.dumps({"model": "m", "stream": True, "input": []})
        started = browser.send(page, {
            "type": "diag.stream", "id": 2, "url": f"{base_url}/responses", "method": "POST",
            "body": body, "background": True, "keepalive": keepalive,
        })
        time.sleep(QUIET_S)  # no events reach the worker meanwhile
        result = browser.send(page, {"type": "diag.result", "id": 3, "job": started["job"]})
        after = browser.send(page, {"type": "ping", "id": 4})["boot"]["started_at"]
        return {"result": result, "same_worker": before == after}
    finally:
        browser.close()


def panel_scenario() -> dict[str, Any]:
    browser = Browser(DIST)
    try:
        page = browser.open("dev.html")
        before = browser.send(page, {"type": "ping", "id": 1})["boot"]["started_at"]
        browser.open("sidepanel.html")
        time.sleep(QUIET_S)
        after = browser.send(page, {"type": "ping", "id": 2})["boot"]["started_at"]
        return {"same_worker": before == after}
    finally:
        browser.close()


@pytest.fixture(scope="module")
def outcomes() -> Iterator[dict[str, dict[str, Any]]]:
    if not (DIST / "manifest.json").exists():
        pytest.fail("dist-dev/ is not built: run python build.py --dev first")
    if not CHROMIUM or not __import__("os").path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}")
    with MockServerThread() as server:
        drip = slow_drip(interval_ms=DRIP_INTERVAL_MS, duration_ms=DRIP_FOR_MS)
        server.enqueue(drip, drip)
        scenarios: dict[str, Callable[[], dict[str, Any]]] = {
            "keepalive": lambda: stream_scenario(server.base_url, keepalive=True),
            "control": lambda: stream_scenario(server.base_url, keepalive=False),
            "panel": panel_scenario,
        }
        with ThreadPoolExecutor(len(scenarios)) as pool:
            futures = {name: pool.submit(run) for name, run in scenarios.items()}
            yield {name: future.result() for name, future in futures.items()}


def test_stream_with_keepalive_outlives_the_idle_limit(outcomes: dict[str, dict[str, Any]]) -> None:
    out = outcomes["keepalive"]
    result = out["result"]
    assert result["type"] == "diag.stream.done", result
    assert result["seconds"] >= DRIP_FOR_MS / 1000
    assert result["keepalive_touches"] >= 2  # at ~20 s and ~40 s
    assert out["same_worker"]


def test_control_without_keepalive_is_cut_with_the_worker(outcomes: dict[str, dict[str, Any]]) -> None:
    out = outcomes["control"]
    assert out["result"]["code"] == "unknown_job", out
    assert not out["same_worker"]


def test_open_panel_heartbeat_keeps_the_worker(outcomes: dict[str, dict[str, Any]]) -> None:
    assert outcomes["panel"]["same_worker"]
