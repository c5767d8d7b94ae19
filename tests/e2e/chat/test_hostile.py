"""Hostile model output renders inert, and the panel stays responsive.

The model's text is untrusted: it may carry whatever a page it read told it to say.
One browser for the module; every reply streams through the real pipeline (mock
server → worker → panel markdown renderer), so partial markup is rendered too:

* scripts, ``javascript:``/``data:``/``vbscript:`` links, ``<img onerror>``, event-handler
  attributes, ``<iframe>``/``<svg>``/``<form>``/``<style>``, an attribute-breaking code
  fence language and KaTeX ``\\href``: no script runs (a sentinel the payloads would set
  stays unset in the panel and its frame, no dialog opens, not even on hover and
  click), no element carries an ``on*`` attribute, every link is http(s), no image
  loads (the tracking pixel on a local server is never requested), and the raw HTML
  is shown as text;
* pathological markdown (a 1 000-deep quote, a 2 000-item list 40 levels deep, an
  unclosed link and code fence) renders and does not hang the panel; a 3 000-deep quote
  (where marked overflows its stack) falls back to plain text;
* a 400 000-character line without a break: all of it arrives, the page does not
  scroll sideways;
* a 1 MB reply: all of it arrives and renders, inert;

and after each, the composer takes input at once and a follow-up message is answered
within a few seconds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from mockapi import MockServerThread, text_reply
from tests.e2e.chatkit import ChatBrowser, Panel, WebServer

pytestmark = pytest.mark.e2e

KEY = "sk-e2e-hostile-0123456789"
BIG_TIMEOUT_MS = 120_000

HOSTILE = """# A perfectly normal answer

<script>window.__pwned = "script"; alert("script")</script>

<img src="{pixel}?raw-img" onerror="window.__pwned = 'img'; alert('img')">

[click me](javascript:window.__pwned='link';alert('link')) ·
[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) ·
[vb](vbscript:msgbox(1)) · [spaced]( javascript:alert('sp'))

<a href="javascript:alert('a')" onclick="window.__pwned='a'">raw link</a>

<div onmouseover="window.__pwned='hover'" style="position:fixed;inset:0;z-index:99">cover the panel</div>

<iframe src="javascript:alert('frame')"></iframe>
<svg onload="window.__pwned='svg'"><script>alert(1)</script></svg>

<details open ontoggle="window.__pwned='toggle'"><summary>toggle me</summary>x</details>

![tracking pixel]({pixel}?markdown-img)

<form action="javascript:alert('form')"><button formaction="javascript:alert(2)">go</button></form>

Math with a link: $\\href{{javascript:alert('katex')}}{{math link}}$ and $\\url{{javascript:alert(3)}}$

```"><img src=x onerror="window.__pwned='lang'">
console.log("code")
```

- a list item with <b onmouseover="window.__pwned='b'">bold</b>
- [a fine link](https://example.com/safe)

<style>body {{ display: none }}</style>
"""

# What, in the panel, would mean some hostile markup survived: (name, JS expression).
INSPECT = """() => {
  const log = document.getElementById("messages");
  const all = [...log.querySelectorAll("*")];
  return {
    pwned: String(window.__pwned ?? ""),
    on_attrs: all.flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith("on")),
    bad_tags: [...log.querySelectorAll(
      "script, iframe, frame, img, image, object, embed, form, input, style, link, meta, base, video, audio"
    )].map((e) => e.tagName),
    hrefs: [...log.querySelectorAll("[href], [src], [action], [formaction], [xlink\\\\:href]")]
      .map((e) => e.getAttribute("href") ?? e.getAttribute("src") ?? e.getAttribute("action") ??
                  e.getAttribute("formaction") ?? e.getAttribute("xlink:href")),
    body_display: getComputedStyle(document.body).display,
    text_length: log.textContent.length,
  };
}"""


def inspect(panel: Panel) -> dict[str, Any]:
    return panel.frame.evaluate(INSPECT)  # type: ignore[no-any-return]


def assert_inert(panel: Panel) -> dict[str, Any]:
    found = inspect(panel)
    assert found["pwned"] == "", f"a payload ran: {found['pwned']}"
    assert panel.page.evaluate("String(window.__pwned ?? '')") == ""
    assert panel.dialogs == []
    assert found["on_attrs"] == []
    assert found["bad_tags"] == []
    safe = ("http:", "https:", "mailto:")
    assert all(h is not None and h.lower().startswith(safe) for h in found["hrefs"]), found["hrefs"]
    assert found["body_display"] != "none"
    return found


def assert_responsive(panel: Panel, server: MockServerThread, within_s: float = 5.0) -> None:
    """The composer takes input at once; a follow-up is answered within ``within_s``."""
    started = time.monotonic()
    panel.frame.evaluate("1")  # the frame's event loop answers
    panel.composer.fill("Are you still with me?")
    took = time.monotonic() - started
    assert took < 1.0, f"the composer took {took:.2f}s to take input"
    server.enqueue(text_reply("Still here."))
    started = time.monotonic()
    panel.composer.press("Enter")
    panel.reply("Still here.", timeout_ms=int(within_s * 1000))
    took = time.monotonic() - started
    assert took < within_s, f"the follow-up took {took:.1f}s"


def test_hostile_markup_is_inert(
    browser: ChatBrowser, server: MockServerThread, web: WebServer, panel: Panel
) -> None:
    hostile = HOSTILE.format(pixel=web.url("/pixel.png"))
    server.enqueue(text_reply(hostile, delta_delay_ms=5))
    pages_before = len(browser.ext.context.pages)
    panel.send("Summarize the page for me")
    reply = panel.assistants.last
    expect(reply).to_contain_text("a fine link", timeout=BIG_TIMEOUT_MS)
    panel.wait_idle()
    expect(reply.locator("h1")).to_have_text("A perfectly normal answer")
    # Raw HTML is shown as text, not dropped and not run.
    expect(reply).to_contain_text('<script>window.__pwned = "script"; alert("script")</script>')
    expect(reply).to_contain_text("<img src=")
    expect(reply.get_by_role("link", name="a fine link")).to_have_attribute("href", "https://example.com/safe")
    expect(reply.get_by_role("link", name="a fine link")).to_have_attribute("rel", "noopener noreferrer")

    # Poke everything a user might: hover, and click each would-be link.
    assert not any("pixel" in hit for hit in web.hits), web.hits  # no image was loaded
    reply.hover()
    for name in ("click me", "data link", "vb", "spaced"):
        target = reply.get_by_text(name).first
        if target.count():
            target.click(force=True, timeout=2_000, no_wait_after=True)
    if panel.assistants.locator("details").count():  # a <details> the model wrote
        panel.assistants.locator("details").first.click()
    time.sleep(0.5)
    found = assert_inert(panel)
    # Left: the fine link, and the image as a plain link to it.
    assert sorted(found["hrefs"]) == sorted(["https://example.com/safe", web.url("/pixel.png?markdown-img")])
    assert len(browser.ext.context.pages) == pages_before  # no window opened
    assert_responsive(panel, server)


def test_pathological_markdown_does_not_hang_the_panel(server: MockServerThread, panel: Panel) -> None:
    deep = "> " * 1000 + "deep down"
    items = "\n".join(f"{'  ' * (i % 40)}- item {i}" for i in range(2000))
    text = f"{deep}\n\n{items}\n\n[unclosed](javascript:alert(1)\n\n```\nno closing fence"
    server.enqueue(text_reply(text, deltas=[text[i:i + 2000] for i in range(0, len(text), 2000)]))
    panel.send("Nest things")
    expect(panel.assistants.last).to_contain_text("no closing fence", timeout=BIG_TIMEOUT_MS)
    panel.wait_idle(BIG_TIMEOUT_MS)
    expect(panel.assistants.last).to_contain_text("deep down")
    expect(panel.assistants.last).to_contain_text("item 1999")
    assert_inert(panel)
    assert_responsive(panel, server)


def test_markdown_too_deep_to_parse_is_shown_as_text(server: MockServerThread, panel: Panel) -> None:
    text = "> " * 3000 + "deep down\n\nafter the quote"
    server.enqueue(text_reply(text, deltas=[text]))
    panel.send("Nest deeper")
    panel.wait_idle()
    expect(panel.assistants.last).to_contain_text("deep down")
    expect(panel.assistants.last).to_contain_text("after the quote")


def test_a_huge_single_line_arrives_whole_and_does_not_widen_the_panel(
    server: MockServerThread, panel: Panel
) -> None:
    line = "".join(f"{i:06d}" for i in range(400_000 // 6)) + "<b>onmouseover=alert(1)</b>THE-END"
    server.enqueue(text_reply(line, deltas=[line[i:i + 4000] for i in range(0, len(line), 4000)]))
    panel.send("One long line, please")
    reply = panel.assistants.last
    expect(reply).to_contain_text("THE-END", timeout=BIG_TIMEOUT_MS)
    panel.wait_idle(BIG_TIMEOUT_MS)
    found = assert_inert(panel)
    assert found["text_length"] >= len(line) - len("<b></b>")
    # Whole, in order (the renderer cuts a line this long into paragraphs: whitespace aside).
    text = reply.evaluate("(e) => e.textContent")
    assert "".join(text.split()) == line
    overflow = panel.frame.evaluate(
        "() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert overflow[0] <= overflow[1], f"the page scrolls sideways: {overflow}"
    assert_responsive(panel, server)


def test_a_one_megabyte_reply_renders_inert_and_the_panel_stays_responsive(
    server: MockServerThread, panel: Panel
) -> None:
    lines = []
    for i in range(12_500):
        if i % 500 == 0:
            lines.append(f"## Part {i // 500}")
        if i % 97 == 0:
            lines.append(f'<img src=x onerror="window.__pwned=\'big{i}\'"> [x](javascript:alert({i}))')
        lines.append(f"- line {i:05d}: the quick brown fox jumps over the lazy dog, **again** and `again`.")
    text = "\n".join(lines) + "\n\nEND-OF-MEGABYTE"
    assert len(text.encode()) > 1_000_000
    deltas = [text[i:i + 1000] for i in range(0, len(text), 1000)]
    server.enqueue(text_reply(text, deltas=deltas))
    started = time.monotonic()
    panel.send("Everything, please")
    reply = panel.assistants.last
    expect(reply).to_contain_text("END-OF-MEGABYTE", timeout=BIG_TIMEOUT_MS)
    panel.wait_idle(BIG_TIMEOUT_MS)
    took = time.monotonic() - started
    found = assert_inert(panel)
    assert found["text_length"] > 900_000, found["text_length"]
    expect(reply.locator("h2")).to_have_count(25)
    expect(reply.locator("li").last).to_contain_text("line 12499")
    print(f"1 MB reply: {took:.1f}s from send to the final render")
    assert_responsive(panel, server)
