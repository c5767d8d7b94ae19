"""Attachments in Chromium, from the panel: the screenshot button, paste, drop, the picker.

The screenshot needs Chrome's activeTab grant on the tab, which the user gives by
invoking SidePy there (the toolbar button). The tests invoke it the way the click
does, through DevTools' ``Extensions.triggerAction`` on the article's tab: Chrome
runs the action (``action.onClicked``, which opens the side panel) and grants
activeTab. Paste and drop are the browser's own events, dispatched on the panel's
composer with a ``DataTransfer`` holding a real ``File``; the picker is the file
input Playwright fills. What the model receives is read from the mock server.
"""

from __future__ import annotations

import base64
import io
import re
import time
from typing import Any

from PIL import Image, ImageDraw
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from background.attachments.capture import SCREENSHOT_DENIED
from background.attachments.imaging import BUDGET
from mockapi import MockServerThread, http_error
from tests.e2e.chatkit import MODEL, TIMEOUT_MS, ChatBrowser, Panel, chart_png, stop_worker

KEY = "sk-attach-0123456789abcdefWXYZ"


def invoke_on(browser: ChatBrowser, page: Page) -> None:
    """What the user's click on the toolbar button does on ``page``'s tab (activeTab)."""
    assert browser.ext.context.browser is not None
    cdp = browser.ext.context.browser.new_browser_cdp_session()
    try:
        targets = cdp.send("Target.getTargets", {"filter": [{"type": "tab"}]})["targetInfos"]
        [tab] = [t for t in targets if t["url"] == page.url]
        cdp.send("Extensions.triggerAction", {"id": browser.ext.id, "targetId": tab["targetId"]})
    finally:
        cdp.detach()


def wait_for_request(server: MockServerThread, count: int = 1, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        requests = server.requests_to("responses")
        if len(requests) >= count:
            assert requests[count - 1].json is not None
            return requests[count - 1].json
        time.sleep(0.1)
    raise AssertionError("the model server got no request")


def user_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    users = [item for item in body["input"] if item.get("role") == "user"]
    return users[-1]["content"]  # type: ignore[no-any-return]


def image_of(part: dict[str, Any]) -> Image.Image:
    assert part["type"] == "input_image" and part["image_url"].startswith("data:image/"), part
    data = base64.b64decode(part["image_url"].split(",", 1)[1])
    assert len(data) <= BUDGET.max_bytes
    return Image.open(io.BytesIO(data))


def test_without_the_grant_the_screenshot_button_says_how_to_allow_it(
    browser: ChatBrowser, panel: Panel
) -> None:
    fresh = browser.ext.context.new_page()  # a tab SidePy was never invoked on, in front
    try:
        fresh.goto(browser.article.url + "?fresh")
        panel.get("attach-screenshot").click()
        expect(panel.banner).to_contain_text(SCREENSHOT_DENIED, timeout=TIMEOUT_MS)
        expect(panel.get("attachment-chip")).to_have_count(0)
    finally:
        fresh.close()


def test_the_screenshot_button_sends_the_tab_as_input_image_with_the_text(
    browser: ChatBrowser, panel: Panel, server: MockServerThread
) -> None:
    browser.article.bring_to_front()
    invoke_on(browser, browser.article)
    panel.get("attach-screenshot").click()
    panel.attachments_ready()
    thumb = panel.get("attachment-chip").locator("img")
    expect(thumb).to_have_attribute("src", re.compile(r"^data:image/jpeg;base64,"))
    panel.send("What's wrong with this chart?")
    parts = user_parts(wait_for_request(server))
    image = image_of(parts[0])
    assert image.width * image.height <= BUDGET.max_pixels and max(image.size) <= BUDGET.max_side
    assert any(low != high for low, high in image.convert("RGB").getextrema())  # the page, not a blank frame
    assert parts[-1] == {"type": "input_text", "text": "What's wrong with this chart?"}
    # The user's message shows the screenshot; the composer is empty again.
    expect(panel.articles("user").last.get_by_test_id("message-attachments").locator("img")).to_have_count(1)
    expect(panel.get("attachment-chip")).to_have_count(0)
    panel.reply("Echo: What's wrong with this chart?")


class Script:
    """Runs JavaScript in the panel's UI frame (or its extension page) as a script there
    would: without a user gesture. Playwright's own evaluations and locators carry one,
    which activates the page, so this one reaches the frame through CDP alone."""

    def __init__(self, panel: Panel, *, in_frame: bool) -> None:
        context = panel.page.context
        self.params: dict[str, Any] = {"returnByValue": True, "awaitPromise": True, "userGesture": False}
        if not in_frame:
            self.cdp = context.new_cdp_session(panel.page)
            return
        [frame] = [f for f in panel.page.frames if f.url.endswith("/ui.html")]
        try:  # a sandboxed frame runs in a process of its own (its own CDP target)...
            self.cdp = context.new_cdp_session(frame)
        except PlaywrightError:  # ...or in the page's, as one of its execution contexts
            self.cdp = context.new_cdp_session(panel.page)
            contexts: list[dict[str, Any]] = []
            self.cdp.on("Runtime.executionContextCreated", lambda event: contexts.append(event["context"]))
            self.cdp.send("Runtime.enable")
            tree = self.cdp.send("Page.getFrameTree")["frameTree"]
            [ui] = [f["frame"]["id"] for f in tree.get("childFrames", [])
                    if f["frame"]["url"].endswith("/ui.html")]
            [found] = [c["id"] for c in contexts
                       if c.get("auxData", {}).get("frameId") == ui and c.get("auxData", {}).get("isDefault")]
            self.params["contextId"] = found

    def run(self, expression: str) -> Any:
        result = self.cdp.send("Runtime.evaluate", {**self.params, "expression": expression})
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")


def test_a_script_in_the_panel_cannot_take_a_screenshot_without_the_user_s_click(
    browser: ChatBrowser, panel: Panel
) -> None:
    browser.article.bring_to_front()
    invoke_on(browser, browser.article)  # the tab's grant is there: only the click is missing
    page, frame = Script(panel, in_frame=False), Script(panel, in_frame=True)
    try:
        time.sleep(5.5)  # the activation of Playwright's own clicks and evaluations has run out
        assert page.run("navigator.userActivation.isActive") is False
        # What a sanitizer bypass in model output runs in the frame: the request itself, and
        # the relay's word.
        answers = frame.run("""new Promise((resolve) => {
            const got = [];
            addEventListener("message", (event) => {
                let msg = null;
                try { msg = JSON.parse(event.data); } catch { return; }
                if (msg && (msg.id === 90001 || msg.id === 90002) && got.push(msg) === 2) resolve(got);
            });
            const request = (id) => JSON.stringify({ type: "attach.screenshot", id });
            parent.postMessage(request(90001), "*");
            parent.postMessage("ui.screenshot " + request(90002), "*");
        })""")
        assert page.run("navigator.userActivation.isActive") is False
    finally:
        page.cdp.detach()
        frame.cdp.detach()
    assert sorted((a["id"], a["type"], a.get("code")) for a in answers) == [
        (90001, "error", "gesture_required"), (90002, "error", "gesture_required")], answers
    assert "click the screenshot button" in answers[0]["message"]
    expect(panel.get("attachment-chip")).to_have_count(0)


def small_image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (200, 40, 40)).save(out, fmt)
    return out.getvalue()


def test_pasted_images_go_with_the_message_and_chips_open_and_go(
    panel: Panel, server: MockServerThread
) -> None:
    panel.paste_file(chart_png(), "image.png", "image/png")
    panel.paste_file(small_image("GIF"), "dot.gif", "image/gif")
    panel.paste_file(small_image("WEBP"), "dot.webp", "image/webp")
    panel.attachments_ready(3)
    # A chip opens in the viewer (Escape closes it) and × takes it away.
    panel.get("attachment-chip").first.get_by_role("button", name="Open image.png").click()
    viewer = panel.get("attachment-viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator("img")).to_have_attribute("src", re.compile(r"^(data|blob):"), timeout=TIMEOUT_MS)
    panel.page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    panel.get("attachment-chip").nth(2).get_by_role("button", name="Remove dot.webp").click()
    panel.attachments_ready(2)
    panel.send("Is the last bar right?")
    parts = user_parts(wait_for_request(server))
    assert [part["type"] for part in parts] == ["input_image", "input_image", "input_text"]
    assert image_of(parts[0]).size == (640, 400)  # within the budget: kept as it was
    gif = image_of(parts[1])
    assert (gif.format, gif.size) == ("PNG", (48, 32))  # a GIF is drawn again, as PNG
    assert parts[-1]["text"] == "Is the last bar right?"
    expect(panel.articles("user").last.get_by_test_id("message-attachments").locator("img")).to_have_count(2)


def test_the_browser_s_decoder_turns_photos_keeps_transparency_and_a_gif_s_first_frame(
    panel: Panel, server: MockServerThread
) -> None:
    """What extension/bridges/images.js does with Chromium's own decoder and canvas (the
    integration tests run the same plan through Pillow, a stand-in)."""
    photo = Image.linear_gradient("L").resize((2400, 1800)).convert("RGB")  # over the budget: drawn again
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90° clockwise to show it
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90, exif=exif)
    panel.paste_file(out.getvalue(), "IMG_0001.jpg", "image/jpeg")
    logo = Image.new("RGBA", (3000, 3000), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((500, 500, 2500, 2500), fill=(220, 40, 40, 255))
    out = io.BytesIO()
    logo.save(out, "PNG")
    panel.paste_file(out.getvalue(), "logo.png", "image/png")
    frames = [Image.new("RGB", (400, 300), color) for color in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    panel.paste_file(out.getvalue(), "anim.gif", "image/gif")
    panel.attachments_ready(3)
    panel.send("Three images")
    turned, transparent, first = (image_of(part) for part in user_parts(wait_for_request(server))[:3])
    assert turned.format == "JPEG" and turned.height > turned.width  # portrait once turned
    assert transparent.format == "PNG" and transparent.mode == "RGBA"
    middle = (transparent.width // 2, transparent.height // 2)
    assert transparent.getpixel((0, 0))[3] == 0 and transparent.getpixel(middle)[3] == 255
    assert first.format == "PNG" and first.size == (400, 300)
    assert first.convert("RGB").getpixel((10, 10)) == (255, 0, 0)


def test_a_small_phone_photo_goes_upright_without_its_camera_or_gps_position(
    panel: Panel, server: MockServerThread
) -> None:
    """Within the budget, yet drawn again by Chromium's canvas: its EXIF (make, model, GPS,
    a 90° turn) is not sent, and the turn is applied to the pixels."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "Pixel", 6
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.6), "E", (2.0, 17.0, 40.2)
    out = io.BytesIO()
    Image.linear_gradient("L").resize((1024, 768)).convert("RGB").save(out, "JPEG", quality=85, exif=exif)
    assert b"Exif" in out.getvalue() and len(out.getvalue()) < BUDGET.max_bytes
    panel.paste_file(out.getvalue(), "PXL_0001.jpg", "image/jpeg")
    panel.attachments_ready()
    panel.send("Where was this?")
    [sent] = [image_of(part) for part in user_parts(wait_for_request(server))[:1]]
    assert sent.format == "JPEG" and sent.size == (768, 1024)  # upright
    assert not sent.getexif()  # no make, no orientation, no GPS


def test_a_file_over_the_limit_is_refused_in_a_sentence(panel: Panel) -> None:
    panel.drop_file(b"x" * (2 * 1024 * 1024), "huge.log", "text/plain")
    expect(panel.banner).to_contain_text("“huge.log” is 2 MB; SidePy takes text files up to 1 MB.",
                                         timeout=TIMEOUT_MS)
    expect(panel.get("attachment-chip")).to_have_count(0)


def test_a_dropped_text_file_goes_as_input_file_with_its_name(panel: Panel, server: MockServerThread) -> None:
    text = "month,total\nJan,120\nFeb,180\n"
    panel.drop_file(text.encode(), "totals.csv", "text/csv")
    panel.attachments_ready()
    expect(panel.get("attachment-chip")).to_contain_text("totals.csv")
    panel.send("Sum the totals")
    parts = user_parts(wait_for_request(server))
    assert parts[0] == {"type": "input_file", "filename": "totals.csv",
                        "file_data": "data:text/csv;base64," + base64.b64encode(text.encode()).decode()}


def test_a_model_that_cannot_read_images_reads_as_a_sentence(panel: Panel, server: MockServerThread) -> None:
    server.enqueue(http_error("invalid_request", message="Invalid image."))
    panel.paste_file(chart_png(), "image.png", "image/png")
    panel.attachments_ready()
    panel.send("What is this?")
    expect(panel.banner).to_contain_text(f"“{MODEL}” cannot read images.", timeout=TIMEOUT_MS)
    expect(panel.banner).to_contain_text("remove the images")
    expect(panel.banner.get_by_role("button", name="Choose another model")).to_be_visible()
    assert "{" not in panel.banner.inner_text().split("Details")[0]


def test_a_worker_restart_between_attaching_and_sending_loses_nothing_and_regenerate_keeps_it(
    browser: ChatBrowser, panel: Panel, server: MockServerThread
) -> None:
    notes = b"# Notes\nthe last bar is wrong\n"
    panel.ui.locator("#attach-input").set_input_files(
        files=[{"name": "notes.md", "mimeType": "text/markdown", "buffer": notes}]
    )
    panel.attachments_ready()
    stop_worker(browser.ext)  # Chrome stops the idle worker; the chip keeps its id
    panel.send("Check my notes")
    parts = user_parts(wait_for_request(server))
    assert parts[0]["filename"] == "notes.md"
    assert base64.b64decode(parts[0]["file_data"].split(",", 1)[1]) == notes
    panel.reply("Echo: Check my notes")
    # Regenerate asks again with the same file.
    panel.get("regenerate").click()
    again = user_parts(wait_for_request(server, 2))
    assert again == parts
    panel.reply("Echo: Check my notes")

