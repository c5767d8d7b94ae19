"""The browser implementations of the app's bridges (Pyodide in the service worker only).

* :class:`ChromeStorage` — :class:`~background.store.storage.KeyValueStore` over
  ``chrome.storage.local`` (values are JSON text);
* :class:`ChromePages` — :class:`~background.page.context.PageBridge`: reads the
  active tab with ``chrome.scripting.executeScript`` running
  ``extension/page_text.js``, and installs the context-menu entry;
* :class:`ChromeAccess` — :class:`~background.settings.conntest.AccessProbe`: host
  permissions (``chrome.permissions``) and a ``no-cors`` reachability probe;
* :class:`IdbAttachments` — :class:`~background.attachments.store.AttachmentStore`
  over IndexedDB (``extension/bridges/attachments.js``);
* :class:`CanvasImages` — :class:`~background.attachments.imaging.Renderer` over
  ``createImageBitmap`` and ``OffscreenCanvas`` (``extension/bridges/images.js``);
* :class:`ChromeCapture` — :class:`~background.attachments.capture.TabCapture` over
  ``chrome.tabs.captureVisibleTab``.

``js`` and ``pyodide`` are imported inside the methods: this module is imported
before the worker's memory snapshot is taken, which must not hold JS objects
(and CPython, for the type checker and the import test, has neither).
"""

from __future__ import annotations

import json
from typing import Any

from .attachments.capture import NO_TAB, Capture, explain_capture_failure
from .attachments.items import decode_base64
from .attachments.model import AttachmentRefused
from .page.context import MENU_ID, MENU_TITLE, PageUnavailable, explain_failure, unavailable_reason
from .store.storage import StorageFullError

__all__ = ["PAGE_SCRIPT", "CanvasImages", "ChromeAccess", "ChromeCapture", "ChromePages", "ChromeStorage",
           "IdbAttachments"]

PAGE_SCRIPT = "page_text.js"  # extension/page_text.js: returns {title, url, text, selection, ...}
UNREADABLE_IMAGE = "This image does not open; it may be damaged."


def _js(value: Any) -> Any:
    from js import Object
    from pyodide.ffi import to_js

    return to_js(value, dict_converter=Object.fromEntries)


def _py(value: Any) -> Any:
    return value.to_py() if hasattr(value, "to_py") else value


class ChromeStorage:
    """``chrome.storage.local`` (or another area) as a :class:`~background.store.storage.KeyValueStore`."""

    def __init__(self, area: str = "local") -> None:
        from js import chrome

        self._area = getattr(chrome.storage, area)

    async def get(self, keys: list[str]) -> dict[str, str]:
        if not keys:
            return {}
        found = _py(await self._area.get(_js(keys))) or {}
        # Someone else's structured value under one of our keys is handed on as
        # JSON text; the record layer then reports it if it is not ours.
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in found.items()}

    async def set(self, items: dict[str, str]) -> None:
        from pyodide.ffi import JsException

        try:
            await self._area.set(_js(items))
        except JsException as exc:
            if "quota" in str(exc).lower():
                raise StorageFullError(str(exc)) from None
            raise

    async def remove(self, keys: list[str]) -> None:
        if keys:
            await self._area.remove(_js(keys))

    async def keys(self) -> list[str]:
        if hasattr(self._area, "getKeys"):  # Chrome 130+
            return [str(k) for k in _py(await self._area.getKeys())]
        return list((_py(await self._area.get(None)) or {}).keys())

    async def get_bytes_in_use(self, keys: list[str] | None = None) -> int:
        return int(await self._area.getBytesInUse(_js(keys) if keys is not None else None))


class ChromePages:
    """Reads tabs with ``chrome.scripting``; installs the context menu."""

    async def read_page(self, tab_id: int | None) -> dict[str, Any]:
        from js import chrome
        from pyodide.ffi import JsException

        try:
            tab = await chrome.tabs.get(tab_id) if tab_id is not None else await self._active_tab()
        except JsException as exc:
            raise PageUnavailable(explain_failure(str(exc), None)) from None
        url = getattr(tab, "url", None)  # only with access to the tab (activeTab / host permission)
        url = url if isinstance(url, str) else None
        reason = unavailable_reason(url)
        if reason is not None:
            raise PageUnavailable(reason)
        try:
            injection = {"target": {"tabId": tab.id}, "files": [PAGE_SCRIPT]}
            results = await chrome.scripting.executeScript(_js(injection))
        except JsException as exc:
            raise PageUnavailable(explain_failure(str(exc), url)) from None
        found = _py(results) or []
        data = found[0].get("result") if found and isinstance(found[0], dict) else None
        if not isinstance(data, dict):
            raise PageUnavailable(explain_failure("the page script returned nothing", url))
        return data

    async def _active_tab(self) -> Any:
        """The active tab of the last focused *normal* window (not the panel's popup fallback)."""
        from js import chrome

        window = await chrome.windows.getLastFocused(_js({"windowTypes": ["normal"]}))
        tabs = await chrome.tabs.query(_js({"active": True, "windowId": window.id}))
        if not tabs.length:
            raise PageUnavailable("No web page is open in this window.")
        return tabs[0]

    async def install_menu(self) -> None:
        from js import Promise, chrome
        from pyodide.ffi import create_once_callable

        menus = chrome.contextMenus
        # removeAll first: an update keeps the old entry and a duplicate id is an error.
        await Promise.new(create_once_callable(lambda resolve, reject: menus.removeAll(resolve)))
        options = _js({"id": MENU_ID, "title": MENU_TITLE, "contexts": ["selection"]})
        menus.create(options, create_once_callable(lambda *args: chrome.runtime.lastError))


class ChromeAccess:
    """What the browser knows about an origin, for ``settings.test`` (background.settings.conntest)."""

    PROBE_TIMEOUT_MS = 5000

    async def granted(self, pattern: str) -> bool | None:
        from js import chrome

        return bool(await chrome.permissions.contains(_js({"origins": [pattern]})))

    async def reachable(self, url: str) -> bool | None:
        """A ``no-cors`` GET without credentials: any HTTP answer (opaque to us) means the
        server is there and CORS was what blocked the real request; a rejection means
        nothing answered (refused, DNS, TLS)."""
        from js import AbortSignal, fetch
        from pyodide.ffi import JsException

        init = {"mode": "no-cors", "credentials": "omit", "cache": "no-store",
                "signal": AbortSignal.timeout(self.PROBE_TIMEOUT_MS)}
        try:
            await fetch(url, _js(init))
        except JsException:
            return False
        return True


class IdbAttachments:
    """Attachments in IndexedDB through ``host.attachments`` (extension/bridges/attachments.js)."""

    def __init__(self, bridge: Any) -> None:
        self._bridge = bridge

    async def put(self, attachment_id: str, conversation_id: str, record: str, data: bytes) -> None:
        from pyodide.ffi import to_js

        await self._bridge.put(attachment_id, conversation_id, record, to_js(data))

    async def update(self, attachment_id: str, conversation_id: str, record: str) -> None:
        await self._bridge.update(attachment_id, conversation_id, record)

    async def records(self, conversation_id: str | None = None) -> list[str]:
        return [str(text) for text in _py(await self._bridge.records(conversation_id))]

    async def record(self, attachment_id: str) -> str | None:
        found = await self._bridge.record(attachment_id)
        return found if isinstance(found, str) else None

    async def data(self, attachment_id: str) -> bytes | None:
        found = await self._bridge.data(attachment_id)
        return None if found is None else bytes(found.to_bytes())

    async def remove(self, attachment_ids: list[str]) -> None:
        if attachment_ids:
            await self._bridge.remove(_js(attachment_ids))


class CanvasImages:
    """Decoding and encoding images through ``host.images`` (extension/bridges/images.js)."""

    def __init__(self, bridge: Any) -> None:
        self._bridge = bridge

    async def size(self, data: bytes) -> tuple[int, int]:
        from pyodide.ffi import JsException, to_js

        try:
            width, height = _py(await self._bridge.size(to_js(data)))
        except JsException:
            raise AttachmentRefused("attachment_unreadable", UNREADABLE_IMAGE) from None
        return int(width), int(height)

    async def render(self, data: bytes, width: int, height: int, mime: str, quality: float | None) -> bytes:
        from pyodide.ffi import to_js

        out = await self._bridge.render(to_js(data), width, height, mime, quality)
        return bytes(out.to_bytes())


class ChromeCapture:
    """The visible part of the active tab of the last focused normal window (the one whose
    side panel was clicked; the popup-window fallback is not a normal window)."""

    async def capture(self) -> Capture:
        from js import chrome
        from pyodide.ffi import JsException

        try:
            window = await chrome.windows.getLastFocused(_js({"windowTypes": ["normal"]}))
            tabs = await chrome.tabs.query(_js({"active": True, "windowId": window.id}))
        except JsException as exc:
            raise explain_capture_failure(str(exc)) from None
        if not tabs.length:
            raise AttachmentRefused("screenshot_failed", NO_TAB)
        tab = tabs[0]
        # Title and URL are visible only with access to the tab (the grants that allow a capture).
        url = getattr(tab, "url", None)
        title = getattr(tab, "title", None)
        url, title = (url if isinstance(url, str) else ""), (title if isinstance(title, str) else "")
        try:
            shot = await chrome.tabs.captureVisibleTab(window.id, _js({"format": "png"}))
        except JsException as exc:
            raise explain_capture_failure(str(exc), url) from None
        return Capture(decode_base64(str(shot)), title, url)
