"""End-to-end fixtures: Debian's Chromium, driven by Playwright, with the developer build loaded.

The suite runs on ``dist-dev/`` (``build.py --dev``): the release extension plus its
test hooks, the ``diag.*`` handlers and the ``dev.html`` page whose one-shot messages
carry the ``dev`` sender kind. What must hold for the release build itself
(``dist/``) is tested on it directly (tests/e2e/test_boundary.py).

A missing browser or a missing build is a failure, never a skip: CI must not go
green without having run these.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, Worker, sync_playwright

from tests.support.paths import REPO

DIST = REPO / "dist-dev"  # the developer build (build.py --dev)
RELEASE = REPO / "dist"  # the release build (build.py)
CHROMIUM = os.environ.get("SIDEPY_CHROMIUM", "/usr/bin/chromium")


def chromium_args(dist: Path) -> list[str]:
    return [
        f"--disable-extensions-except={dist}",
        f"--load-extension={dist}",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run the README's test command, "
                    "which installs Debian's chromium")
    if not (DIST / "manifest.json").exists():
        pytest.fail("dist-dev/ is not built: run python build.py --dev first")
    with sync_playwright() as pw:
        yield pw


class Extension:
    """A running browser with SidePy loaded (``dist``: the developer build unless told): its
    context, worker and id."""

    def __init__(self, pw: Playwright, profile: Path, dist: Path = DIST) -> None:
        self.profile = profile
        self.context: BrowserContext = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=chromium_args(dist)
        )
        self.console: list[str] = []
        self.context.on("console", lambda m: self.console.append(m.text))
        workers = self.context.service_workers
        self.worker: Worker = workers[0] if workers else self.context.wait_for_event("serviceworker")
        self.id = self.worker.url.split("/")[2]

    def welcome_tab(self, timeout_s: float = 15) -> dict[str, Any] | None:
        """The tab a first install opens (the settings' welcome), as a CDP target, if any.

        Playwright does not list tabs an extension opened while the browser started, so
        they are found (and closed) through CDP.
        """
        cdp = self.context.new_cdp_session(self.context.pages[0])
        try:
            deadline = time.monotonic() + timeout_s
            welcome = self.url("options.html#welcome")
            while True:
                for target in cdp.send("Target.getTargets")["targetInfos"]:
                    if target["type"] == "page" and target["url"].startswith(welcome):
                        return target  # type: ignore[no-any-return]
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.05)
        finally:
            cdp.detach()

    def close_welcome(self) -> None:
        """A fresh profile's welcome tab, closed as a user would: tests that read "the active tab"."""
        tab = self.welcome_tab()
        assert tab is not None, "installing SidePy opened no welcome tab"
        cdp = self.context.new_cdp_session(self.context.pages[0])
        try:
            cdp.send("Target.closeTarget", {"targetId": tab["targetId"]})
        finally:
            cdp.detach()

    def url(self, path: str) -> str:
        return f"chrome-extension://{self.id}/{path}"

    def wait_ready(self, timeout_s: float = 30) -> dict[str, object]:
        """Wait until Python in the worker has booted; return the boot record."""
        deadline = timeout_s * 1000
        state = self.worker.evaluate(
            """async (deadline) => {
                const t0 = Date.now();
                while (Date.now() - t0 < deadline) {
                    const b = globalThis.sidepyBoot;
                    if (b && (b.state === "ready" || b.state === "failed")) return JSON.stringify(b);
                    await new Promise(r => setTimeout(r, 50));
                }
                return JSON.stringify(globalThis.sidepyBoot ?? null);
            }""",
            deadline,
        )
        return json.loads(state)  # type: ignore[no-any-return]

    def send(self, message: dict[str, object]) -> dict[str, object]:
        """Send a one-shot runtime message from the developer console page; return the reply."""
        page = self.page("dev.html")
        try:
            reply = page.evaluate("(m) => chrome.runtime.sendMessage(JSON.stringify(m))", message)
        finally:
            page.close()
        return json.loads(reply)  # type: ignore[no-any-return]

    def page(self, path: str) -> Page:
        page = self.context.new_page()
        page.on("console", lambda m: self.console.append(m.text))
        page.goto(self.url(path))
        return page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def first_run(playwright: Playwright) -> Iterator[Extension]:
    """A fresh profile just as installing left it: the welcome tab is open."""
    profile = Path(tempfile.mkdtemp(prefix="sidepy-e2e-"))
    ext = Extension(playwright, profile)
    try:
        yield ext
    finally:
        ext.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def extension(first_run: Extension) -> Extension:
    """A fresh profile whose welcome tab the user closed (an open settings page would keep
    the worker alive with its heartbeat, and take the active tab)."""
    first_run.close_welcome()
    return first_run
