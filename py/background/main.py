"""Entry point called by the service worker once Python is up (see extension/boot.js).

This is the only module that touches Pyodide's ``js`` bridge; it adapts the
worker's JavaScript ``host`` object to :class:`background.host.Host`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .app import App
from .compose import compose

__all__ = ["main"]


class BrowserHost:
    """:class:`~background.host.Host` backed by the worker's JS glue and ``chrome.*``."""

    def __init__(self, js_host: Any) -> None:
        self._js = js_host

    def post(self, port_id: int, text: str) -> bool:
        return bool(self._js.post(port_id, text))

    async def touch(self) -> None:
        from js import chrome

        await chrome.runtime.getPlatformInfo()

    def boot_info(self) -> dict[str, object]:
        """The worker's boot record (extension/boot.js): how and how fast Python started."""
        from .preload import late_imports

        boot = self._js.boot

        def text(value: object) -> str | None:  # JS null is not None in Pyodide
            return value if isinstance(value, str) else None

        return {
            "started_at": int(boot.started_at),
            "state": str(boot.state),
            "mode": text(boot.mode),  # "snapshot" | "cold"
            "rejected": text(boot.rejected),  # why a cold boot did not restore
            "save": text(boot.save),  # cold boots: the new snapshot's saving | saved | failed
            "phases": [[str(name), float(ms)] for name, ms in boot.phases.to_py()],
            "python": str(boot.python),
            "late_imports": late_imports(),  # modules the snapshot lacked (preload.py)
        }


async def open_stream(url: str, method: str, body: str | None) -> AsyncIterator[bytes]:
    """Stream a URL's body through the browser's ``fetch``, chunk by chunk."""
    from js import Object, fetch
    from pyodide.ffi import to_js

    options: dict[str, object] = {"method": method}
    if body is not None:
        options |= {"body": body, "headers": {"Content-Type": "application/json"}}
    response = await fetch(url, to_js(options, dict_converter=Object.fromEntries))
    if not response.ok:
        raise RuntimeError(f"{method} {url}: HTTP {response.status}")
    reader = response.body.getReader()
    while True:
        result = await reader.read()
        if result.done:
            return
        yield result.value.to_bytes()


def main(js_host: Any, version: str) -> App:
    from js import chrome

    from modelclient import FetchTransport

    from .browser import CanvasImages, ChromeAccess, ChromeCapture, ChromePages, ChromeStorage, IdbAttachments
    from .vault.handlers import VaultKeySource
    from .vault.webcrypto import ChromeAlarms, browser_vault, isolated_webcrypto

    dev = bool(getattr(js_host, "dev", False))  # extension/build-flags.js: a developer build
    vault = browser_vault(js_host)  # the API key: encrypted, see docs/security.md
    alarms = getattr(chrome, "alarms", None)  # absent without the "alarms" permission
    worker = compose(
        BrowserHost(js_host),
        version=version,
        dev=dev,
        transport=FetchTransport,
        vault=vault,
        keys=VaultKeySource(vault),
        store=ChromeStorage(),  # conversations, settings, limits: chrome.storage.local
        pages=ChromePages(),  # page context and the context menu: chrome.scripting
        access=ChromeAccess(),  # settings.test: host permissions, CORS vs network
        attachment_store=IdbAttachments(js_host.attachments),  # screenshots, images, files: IndexedDB
        renderer=CanvasImages(js_host.images),  # scaling and compressing images: OffscreenCanvas
        capture=ChromeCapture(),  # the screenshot button: chrome.tabs.captureVisibleTab
        # The request queue's hold ends even if the worker was stopped meanwhile: an alarm wakes it.
        alarms=ChromeAlarms(alarms) if alarms is not None else None,
        # Developer build only: diag.stream, and the vault's test vectors on a WebCrypto
        # that can never reach the real vault.
        open_stream=open_stream if dev else None,
        vault_lab=(lambda: isolated_webcrypto(js_host.crypto)) if dev else None,
        # What a local server must allow (Ollama's OLLAMA_ORIGINS): chrome-extension://<id>.
        extension_origin=str(chrome.runtime.getURL("")).rstrip("/"),
    )
    return worker.app
