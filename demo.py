"""Try SidePy without an API key: the mock Responses server plays the model.

    python3 demo.py              # a browser window when there is a display, else --headless
    python3 demo.py --headless   # no window: saves a screenshot of the panel instead
    python3 demo.py --chart      # a page with a chart: the first message carries a screenshot of it

It builds dist-dev/ (the developer build; a no-op when up to date), starts the mock Responses API on 127.0.0.1
with a demo model, and starts Debian's Chromium with the built extension and a fresh
profile. Through the service worker it points SidePy at the mock server
(``settings.set``) with a dummy key (``key.set``), opens a local article in a tab and
the side panel page in a window beside it (a narrow popup, as SidePy does where a
browser has no side panel; the toolbar button opens the real side panel), and sends a
demo message. The demo model answers it with a showcase of what the panel renders
(headings, a highlighted code block, math, a table), then echoes whatever you send.

With ``--chart`` the tab shows a bar chart instead, and the first message is "What's
wrong with this chart?" with a screenshot of the tab: the demo invokes SidePy on the
tab as the toolbar button does (which gives the activeTab grant a screenshot needs),
clicks the panel's Screenshot button and sends; the demo model answers with a canned
reading of that chart.

Headless, it waits for the reply and saves a screenshot of the panel (light theme,
420x800) to docs/screenshot.png (``--chart``: docs/screenshot-attachments.png; or
``--screenshot PATH``). With a window, it runs until you close the browser or press Ctrl+C.

Needs Playwright (in the dev virtualenv: ``./test.sh setup`` makes ``.venv``); run with
any Python and it re-runs itself with ``.venv/bin/python`` when that has it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

try:
    from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
except ImportError:  # not in the dev virtualenv: use it if it is there
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parents[1].resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    sys.exit("demo.py needs Playwright: run ./test.sh setup (it makes .venv), then .venv/bin/python demo.py")

for entry in (str(REPO / "py"), str(REPO)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from mockapi import MockServerThread, openai_rate_limit_headers, text_reply  # noqa: E402
from tests.e2e.conftest import CHROMIUM, DIST, chromium_args  # noqa: E402

KEY = "sk-demo-not-a-real-key-0000"
MODEL = "demo-model"
SIZE = {"width": 420, "height": 800}
SCREENSHOT = REPO / "docs" / "screenshot.png"
CHART_SCREENSHOT = REPO / "docs" / "screenshot-attachments.png"
TIMEOUT_MS = 60_000

PROMPT = "Binary search: code, math and a table?"
REPLY = r"""## Binary search in brief

Halve a **sorted** list until only the target is left:
$\lceil \log_2 n \rceil$ steps at most.

```python
def bisect(items: list[int], target: int) -> int:
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo
```

$$T(n) = T\left(\tfrac{n}{2}\right) + O(1) = O(\log n)$$

| items | linear scan | binary search |
|---:|---:|---:|
| 1,000 | 1,000 | 10 |
| 1,000,000 | 1,000,000 | 20 |

> *Demo model*: add an API key in Settings for real answers.
"""

ARTICLE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Binary search - a short history</title>
<style>body { font: 17px/1.6 Georgia, serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; }</style>
</head><body><main><article>
<h1>Binary search: a short history</h1>
<p>The idea of halving a sorted list to find an entry is old: John Mauchly described it in 1946,
in the Moore School Lectures, the first published discussion of non-numerical programming.</p>
<p>Getting it right took longer. The first binary search that works for lists of every length
was published in 1960 by Derrick Henry Lehmer, and in 1986 Jon Bentley reported that most
professional programmers he asked could not write a correct one in two hours.</p>
<p>Open SidePy and ask about this page, or choose "Summarize this page".</p>
</article></main></body></html>"""


CHART_PROMPT = "What's wrong with this chart?"
CHART_REPLY = r"""The **Q4 bar does not match its label**: it is drawn as the tallest bar, about
twice the height of Q2, yet it is labelled **95 k€**, less than every other quarter.

- If 95 k€ is right, Q4's bar should be the **shortest** (about half of Q1's).
- If the bar is right, the label should read about **330 k€**.

The axis also stops at 200 k€, so a 330 k€ bar would not fit: check the data behind Q4.

> *Demo model*: a canned answer about this chart. Add an API key in Settings for real answers.
"""

CHART = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quarterly revenue 2026</title>
<style>body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
text { font: 13px system-ui, sans-serif; }</style>
</head><body><main>
<h1>Quarterly revenue 2026</h1>
<p>Revenue per quarter, in thousands of euros.</p>
<svg width="560" height="380" role="img" aria-label="Bar chart of revenue per quarter">
  <line x1="50" y1="340" x2="540" y2="340" stroke="#333"/>
  <line x1="50" y1="20" x2="50" y2="340" stroke="#333"/>
  <text x="8" y="344">0</text><text x="8" y="184">100</text><text x="8" y="24">200</text>
  <rect x="80" y="148" width="80" height="192" fill="#1a73e8"/><text x="104" y="140">120</text>
  <rect x="200" y="52" width="80" height="288" fill="#1a73e8"/><text x="224" y="44">180</text>
  <rect x="320" y="100" width="80" height="240" fill="#1a73e8"/><text x="344" y="92">150</text>
  <rect x="440" y="30" width="80" height="310" fill="#1a73e8"/><text x="468" y="24">95</text>
  <text x="108" y="362">Q1</text><text x="228" y="362">Q2</text><text x="348" y="362">Q3</text>
  <text x="468" y="362">Q4</text>
</svg>
</main></body></html>"""


def serve_article(page: str = ARTICLE) -> tuple[ThreadingHTTPServer, str]:
    body = page.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_port}/binary-search"


def extension_id(context: BrowserContext) -> str:
    workers = context.service_workers
    worker = workers[0] if workers else context.wait_for_event("serviceworker", timeout=TIMEOUT_MS)
    return worker.url.split("/")[2]


def send(context: BrowserContext, ext_id: str, message: dict[str, Any]) -> dict[str, Any]:
    """A one-shot message to the worker from an extension page (waits for Python to be up)."""
    page = context.new_page()
    try:
        page.goto(f"chrome-extension://{ext_id}/dev.html")
        reply = page.evaluate("(m) => chrome.runtime.sendMessage(JSON.stringify(m))", message)
    finally:
        page.close()
    return json.loads(reply)  # type: ignore[no-any-return]


def open_panel(context: BrowserContext, ext_id: str) -> Page:
    """sidepanel.html in a narrow popup window (the article stays the active tab)."""
    helper = context.new_page()
    try:
        helper.goto(f"chrome-extension://{ext_id}/dev.html")
        with context.expect_page() as opened:
            helper.evaluate(
                "([url, w, h]) => chrome.windows.create({url, type: 'popup', width: w, height: h})",
                [f"chrome-extension://{ext_id}/sidepanel.html", SIZE["width"], SIZE["height"] + 80],
            )
        panel = opened.value
    finally:
        helper.close()
    panel.set_viewport_size(SIZE)
    panel.wait_for_load_state()
    return panel


def invoke_on(context: BrowserContext, ext_id: str, page: Page) -> None:
    """What a click on SidePy's toolbar button does on ``page``'s tab: Chrome runs the action
    (the side panel opens) and grants activeTab, which the screenshot needs (CDP
    ``Extensions.triggerAction``, as the e2e tests do)."""
    assert context.browser is not None
    cdp = context.browser.new_browser_cdp_session()
    try:
        targets = cdp.send("Target.getTargets", {"filter": [{"type": "tab"}]})["targetInfos"]
        tab = next(t for t in targets if t["url"] == page.url)
        cdp.send("Extensions.triggerAction", {"id": ext_id, "targetId": tab["targetId"]})
    finally:
        cdp.detach()


def run(headless: bool, screenshot: Path | None, chart: bool = False) -> None:
    subprocess.run([sys.executable, str(REPO / "build.py"), "--dev"], check=True)
    if not Path(CHROMIUM).exists():
        sys.exit(f"Chromium not found at {CHROMIUM} (set SIDEPY_CHROMIUM, or apt-get install chromium)")
    profile = Path(tempfile.mkdtemp(prefix="sidepy-demo-"))
    httpd, article_url = serve_article(CHART if chart else ARTICLE)
    headers = openai_rate_limit_headers(limit_requests=500, remaining_requests=498, reset_requests="4m48s",
                                        limit_tokens=200_000, remaining_tokens=196_554, reset_tokens="38s")
    try:
        with MockServerThread(api_key=KEY) as server, sync_playwright() as pw:
            # The first message gets the showcase; later ones are echoed, as the mock does.
            first = text_reply(CHART_REPLY if chart else REPLY, delta_delay_ms=12)
            server.enqueue(first.with_options(headers=headers))
            server.set_default(text_reply(None, delta_delay_ms=12).with_options(times=None, headers=headers))
            print(f"mock Responses API on {server.base_url} (model {MODEL!r}, key {KEY!r})")
            context = pw.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=headless, args=chromium_args(DIST),
                color_scheme="light", viewport=None if not headless else {"width": 1100, "height": 800},
            )
            try:
                ext_id = extension_id(context)
                settings = {"provider": "compatible", "base_url": server.base_url, "model": MODEL,
                            "models": [MODEL, "demo-model-mini"]}
                for message in ({"type": "settings.set", "id": 1, "patch": settings},
                                {"type": "key.set", "id": 2, "key": KEY}):
                    answer = send(context, ext_id, message)
                    if answer.get("type") != "settings":
                        sys.exit(f"demo.py: {message['type']} failed: {answer}")
                for page in context.pages:  # the demo set SidePy up: the welcome tab is not needed
                    if "/options.html#welcome" in page.url:
                        page.close()
                article = context.pages[0] if context.pages else context.new_page()
                article.goto(article_url)
                panel = open_panel(context, ext_id)
                ui = panel.frame_locator("#ui")
                expect(ui.get_by_test_id("status")).to_have_text("Ready", timeout=TIMEOUT_MS)
                if chart:  # the toolbar button on the chart's tab, then the panel's Screenshot button
                    article.bring_to_front()
                    invoke_on(context, ext_id, article)
                    ui.get_by_test_id("attach-screenshot").click()
                    chip = ui.locator("[data-testid=attachment-chip] img")
                    expect(chip).to_have_count(1, timeout=TIMEOUT_MS)
                ui.get_by_test_id("composer").fill(CHART_PROMPT if chart else PROMPT)
                ui.get_by_test_id("composer").press("Enter")
                reply = ui.get_by_test_id("message-assistant").last
                expect(reply).to_contain_text("for real answers", timeout=TIMEOUT_MS)
                expect(ui.locator("article.msg.assistant").last).not_to_have_class("streaming")
                expect(ui.get_by_test_id("send")).to_be_visible()
                if screenshot is not None:
                    shoot(panel, screenshot)
                if not headless:
                    print("SidePy is open: chat in the panel window, or click the SidePy toolbar button "
                          "on the article for the real side panel. Close the browser (or Ctrl+C) to end.")
                    with contextlib.suppress(KeyboardInterrupt):
                        context.wait_for_event("close", timeout=0)
            finally:
                with contextlib.suppress(Exception):
                    context.close()
    finally:
        httpd.shutdown()
        shutil.rmtree(profile, ignore_errors=True)


def shoot(panel: Page, path: Path) -> None:
    """The panel from the top of the conversation, once fonts (KaTeX) are in."""
    handle = panel.locator("#ui").element_handle()
    frame = handle.content_frame() if handle is not None else None
    assert frame is not None
    frame.evaluate("() => document.fonts.ready.then(() => true)")
    frame.evaluate("() => { document.getElementById('scroller').scrollTop = 0; "
                   "document.activeElement?.blur(); }")
    time.sleep(0.3)  # one more frame for the scroll and the status line
    path.parent.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(path))
    print(f"screenshot: {path} ({path.stat().st_size:,} bytes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--headless", action="store_true",
                        help="no browser window: save a screenshot instead (default without a display)")
    parser.add_argument("--chart", action="store_true",
                        help="a page with a chart; the first message carries a screenshot of it")
    parser.add_argument("--screenshot", type=Path, default=None,
                        help=f"save a screenshot here (headless default: {SCREENSHOT.relative_to(REPO)}, "
                             f"with --chart {CHART_SCREENSHOT.relative_to(REPO)})")
    args = parser.parse_args(argv)
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    headless = args.headless or not has_display
    default = CHART_SCREENSHOT if args.chart else SCREENSHOT
    screenshot = args.screenshot or (default if headless else None)
    run(headless, screenshot, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
