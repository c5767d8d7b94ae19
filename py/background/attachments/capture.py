"""A screenshot of the tab the user is looking at: the bridge's contract and its sentences.

Chrome's ``tabs.captureVisibleTab`` captures the visible part of a window's active
tab when the extension holds either grant:

* **activeTab** — the user invoked SidePy on that tab: the toolbar button, the
  ``open-panel`` shortcut or the context-menu entry. The grant lasts until the
  tab navigates elsewhere or closes; no standing permission is involved.
  (The toolbar button must fire ``action.onClicked``, which opens the panel in
  ``extension/background.js``: a panel opened by ``openPanelOnActionClick``
  comes without the grant.)
* **<all_urls>** — the optional host permission the options page's "Allow screenshots of
  any tab" asks for (``*://*/*`` is not enough: Chrome wants ``<all_urls>`` itself).

With neither, Chrome refuses, and :func:`explain_capture_failure` says in one
sentence how to allow it. The capture itself runs in the worker
(``background.browser.ChromeCapture``), asked by the panel's button.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .model import AttachmentRefused

__all__ = [
    "ALL_URLS",
    "SCREENSHOT_DENIED",
    "Capture",
    "TabCapture",
    "explain_capture_failure",
    "screenshot_name",
]

#: The optional host permission that lets the capture work on any tab (nothing narrower does).
ALL_URLS = "<all_urls>"

SCREENSHOT_DENIED = (
    "To take a screenshot of this tab, open SidePy from it: click the SidePy button in the toolbar "
    "(or press Ctrl+Shift+Y) while the page is in front, then click Screenshot again (or allow "
    "screenshots of any tab in SidePy's settings)."
)
BROWSER_PAGE = (
    "SidePy cannot take screenshots of the browser's own pages or the Web Store; switch to a web page."
)
TOO_FAST = "Chrome takes at most two screenshots a second; wait a moment and try again."
NO_TAB = "No web page is open in this window to take a screenshot of."


@dataclass(frozen=True)
class Capture:
    """A captured tab: PNG bytes, and the page's title and URL when SidePy may see them."""

    data: bytes
    title: str = ""
    url: str = ""


class TabCapture(Protocol):
    """The browser side: capture the active tab of the window the user is in."""

    async def capture(self) -> Capture:
        """Raises:
        AttachmentRefused: ``screenshot_denied`` / ``screenshot_failed`` (see
            :func:`explain_capture_failure`).
        """
        ...


def explain_capture_failure(error: str, url: str | None = None) -> AttachmentRefused:
    """The refusal for a failed capture (Chrome's error text in ``error``)."""
    text = error.lower()
    lowered = (url or "").lower()
    if lowered.startswith(("chrome:", "chrome-extension:", "edge:", "about:", "devtools:")) or (
        "chrome://" in text or "webstore" in text or "extensions gallery" in text
    ):
        return AttachmentRefused("screenshot_denied", BROWSER_PAGE)
    if "activetab" in text or "<all_urls>" in text or "permission" in text or "cannot access" in text:
        return AttachmentRefused("screenshot_denied", SCREENSHOT_DENIED)
    if "max_capture_visible_tab_calls_per_second" in text:
        return AttachmentRefused("screenshot_failed", TOO_FAST)
    if "no active tab" in text or "no tab" in text or "no window" in text:
        return AttachmentRefused("screenshot_failed", NO_TAB)
    reason = error.strip() or "unknown error"
    return AttachmentRefused(
        "screenshot_failed", f"SidePy could not take a screenshot of this tab ({reason})."
    )


def screenshot_name(title: str) -> str:
    """The name a screenshot is shown with: the page's title, else ``screenshot.png``."""
    title = " ".join(title.split())[:80].strip()
    return f"{title}.png" if title else "screenshot.png"
