"""The panel's screenshots in docs/screenshots/: first run, an error, a long answer, attachments,
at 400 px, in the light and the dark theme.

    .venv/bin/python build.py --dev && .venv/bin/python docs/make_screenshots.py [NAME ...]

(NAME: one of the scenes below, to take only those; all of them without.)

Each is taken in a fresh profile of Debian's Chromium with the developer build (dist-dev/,
whose test hooks point SidePy at the mock Responses server on 127.0.0.1), the side panel
page in a 400x800 window:

* ``first-run``: nothing set up yet: the setup card;
* ``error``: a wrong API key: the server's 401 in words, with "Open settings";
* ``long-answer``: a long reply with headings, a code block, a table and a formula;
* ``attachments``: a question sent with an image (its thumbnail in the message), and the next
  one being written with a pasted chart and a dropped CSV file as chips above the composer.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for entry in (str(REPO / "py"), str(REPO)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from playwright.sync_api import Playwright, expect, sync_playwright  # noqa: E402

from mockapi import MockServerThread, text_reply  # noqa: E402
from tests.e2e.chatkit import TIMEOUT_MS, Panel, chart_png, configure, open_panel_window  # noqa: E402
from tests.e2e.conftest import Extension  # noqa: E402

OUT = REPO / "docs" / "screenshots"
KEY = "sk-screenshots-0123456789"
SIZE = (400, 800)

LONG = r"""## Keeping a lighthouse

A keeper's day followed the lamp: **trim the wick** at dusk, *wind the clockwork* at midnight,
and log every ship that passed.

### The log, in numbers

| Year | Ships logged | Nights of fog | Oil (litres) |
|:-----|-------------:|--------------:|-------------:|
| 1909 | 1,204 | 38 | 2,310.5 |
| 1910 | 1,387 | 41 | 2,402.0 |
| 1911 | 1,156 | 57 | 2,598.25 |

### How far the light reaches

The distance to the horizon from a lamp at height $h$ (metres) is about

$$
d \approx 3.57\,\sqrt{h}\ \text{km}
$$

so a lamp 42 m up is seen from some 23 km away.

### A small program

```python
def horizon_km(height_m: float) -> float:
    return 3.57 * height_m ** 0.5

print(round(horizon_km(42), 1))  # 23.1
```

1. Trim the wick.
2. Wind the clockwork.
3. Write it all down.

> The sea does not care how tired you are; the lamp must burn anyway.
"""

CHART_REPLY = """The **last bar does not match the others' scale**: it is drawn more than twice as tall as
the first, yet nothing on the chart says why. Check the value behind it, or label the bars."""

TOTALS = "quarter,revenue_keur\nQ1,120\nQ2,180\nQ3,150\nQ4,95\n"


def shoot(pw: Playwright, name: str, dark: bool) -> Path:
    profile = Path(tempfile.mkdtemp(prefix="sidepy-shots-"))
    ext = Extension(pw, profile)
    try:
        ext.close_welcome()
        assert ext.wait_ready()["state"] == "ready"
        with MockServerThread(api_key=KEY) as server:
            if name == "error":
                configure(ext, server, "sk-wrong-key-000000000")
            elif name in ("long-answer", "attachments"):
                configure(ext, server, KEY)
            page = open_panel_window(ext, *SIZE)
            page.emulate_media(color_scheme="dark" if dark else "light")
            panel = Panel(page)
            panel.wait_ready()
            if name == "first-run":
                expect(panel.get("onboarding")).to_be_visible(timeout=TIMEOUT_MS)
            elif name == "error":
                panel.send("What is the tallest lighthouse?")
                expect(panel.banner).to_contain_text("did not accept your API key", timeout=TIMEOUT_MS)
                panel.wait_idle()
            elif name == "attachments":
                server.enqueue(text_reply(CHART_REPLY))
                panel.paste_file(chart_png(), "revenue.png", "image/png")
                panel.attachments_ready()
                panel.send("What's wrong with this chart?")
                panel.reply_done()
                panel.paste_file(chart_png(), "revenue-fixed.png", "image/png")
                panel.drop_file(TOTALS.encode(), "totals.csv", "text/csv")
                panel.attachments_ready(2)
                panel.type("Does the fixed chart match these totals?")
            else:
                server.enqueue(text_reply(LONG))
                panel.send("Tell me about keeping a lighthouse, with numbers.")
                panel.reply_done()
                expect(panel.assistants.last.locator(".katex")).to_have_count(2)
                # Read back to the table and the formula (the "jump to latest" button shows).
                heading = panel.assistants.last.locator("h3").first
                heading.evaluate("(h) => h.scrollIntoView({block: 'start'})")
                expect(panel.get("jump-latest")).to_be_visible()
            page.mouse.move(0, 0)
            path = OUT / f"{name}-{'dark' if dark else 'light'}.png"
            page.screenshot(path=str(path))
            return path
    finally:
        ext.close()
        shutil.rmtree(profile, ignore_errors=True)


SCENES = ("first-run", "error", "long-answer", "attachments")


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    unknown = [name for name in names if name not in SCENES]
    if unknown:
        sys.exit(f"unknown scene {unknown[0]!r}; scenes: {', '.join(SCENES)}")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        for name in names or SCENES:
            for dark in (False, True):
                path = shoot(pw, name, dark)
                print(f"{path.relative_to(REPO)} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
