"""Benchmark: what the side panel's frame layout costs before the user can type, in three JS-only shapes.

    python bench/frames.py [--runs 10] [--json out.json]

SidePy's panel is an extension page (``sidepanel.html``, the relay that holds the Port to the
worker) with the UI in a manifest-sandbox iframe (``ui.html``). This measures what that shape
costs by itself, without MicroPython or any of SidePy's code, and what the inverted shape
(sandboxed UI on top, relay inside) would cost instead. Three minimal extensions, written from
the strings below into a temporary directory, share bench/panel.py's JS-only worker (it answers
a Port's ``hello`` at once) and its baseline panel's markup (a status line and a composer):

* **baseline**: bench/panel.py's baseline itself: one extension page holds the composer and
  the status, and its module script connects and says "Ready" when the worker answers;
* **iframe_sandbox** (SidePy's shape): ``sidepanel.html`` connects the Port from a classic
  script in ``<head>``, before its iframe exists, and keeps the answer; ``ui.html`` (in
  ``sandbox.pages``, with SidePy's sandbox CSP read from ``manifest.json``) says ``hello`` to
  its parent when its script runs, gets the answer relayed and says "Ready". Each side accepts
  messages only from the other's window;
* **top_sandbox** (inverted): the side panel's ``default_path`` is the sandboxed ``ui.html``,
  which embeds a hidden ``relay.html`` (an ordinary extension page) that connects at once and
  posts the answer to its parent. It needs two things SidePy's manifest does not have: the
  sandbox CSP's ``frame-src 'self'`` (SidePy has ``'none'``), and ``relay.html`` listed in
  ``web_accessible_resources`` (Chromium refuses to load it into the opaque-origin page
  otherwise; any entry does, so it is listed for a host that cannot exist).

Each extension runs in its own fresh headless Chromium profile, all three open for the whole
run, with bench/panel.py's harness: a 400x800 viewport, a control page, and in every round, for
each extension in turn, two opens of the panel page as a tab (the side panel itself cannot be
opened without a user gesture; it is the same document):

* **worker stopped**: CDP ``ServiceWorker.stopAllWorkers`` from the control page, then open;
* **worker running**: a ping from the control page first (it answers, so the worker is up),
  then open.

One unmeasured open follows each launch, and round 0 is dropped. bench/panel.py's init script
checks every frame after every paint and records ``performance.timeOrigin + performance.now()``
the first time the composer (``[data-testid=composer]``) is visible and enabled and the first
time the status (``[data-testid=status]``) reads "Ready"; the harness reads the frames every
5 ms (that polling is load of its own). Reported, in ms from the top page's navigation start
(its ``timeOrigin``):

* p50 / p95 of composer visible and "Ready", per shape and condition;
* the paired differences, taken within one round (the three shapes are opened one after another,
  which takes out most of the machine's drift): top_sandbox - iframe_sandbox (p50 [p5..p95], and
  in how many rounds top_sandbox was earlier), and each sandboxed shape - baseline (p50);
* each frame's navigation start and first contentful paint (p50; the harness waits up to 2 s
  after "Ready" for the paint entry of the frame that holds the composer, which can come late).

Always, once at the end, the user-activation check (it takes about 7 s): SidePy lets the relay
capture a screenshot only from the user's click. For both sandboxed shapes, a fresh panel page
is opened in its browser and left untouched for 6 s (past Chromium's 5 s activation lifespan;
Playwright's ``evaluate`` itself grants activation, so nothing is read before the click); an
init script samples ``navigator.userActivation`` in every frame, puts a 120x60 button at the
top left of the frame that holds the composer and, when it is clicked, posts ``clicked`` to
the other frames. A trusted click (``page.mouse.click``) on it follows; reported is what the
relay frame saw when the message arrived (``isActive``, ``hasBeenActive``), and whether it was
active before the click (if it was, the trial proves nothing).

Figures describe this machine at this moment; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.panel import (  # noqa: E402
    BASELINE_MANIFEST,
    BASELINE_PANEL,
    BASELINE_PANEL_JS,
    BASELINE_WORKER,
    CONDITIONS,
    Browser,
    machine,
    pct,
)

SHAPES = ("baseline", "iframe_sandbox", "top_sandbox")
OPEN_PATH = {"baseline": "sidepanel.html", "iframe_sandbox": "sidepanel.html", "top_sandbox": "ui.html"}
HELLO = 'JSON.stringify({type: "hello", id: 1, v: 1})'

# bench/panel.py's baseline panel markup, for the sandboxed UIs.
UI_STYLE = """<style>body{font:14px system-ui;margin:0;display:flex;flex-direction:column;height:100vh}
main{flex:1}textarea{margin:8px}</style>"""
UI_BODY = """<header><span data-testid="status">Connecting…</span></header><main></main>
<textarea data-testid="composer" rows="2" placeholder="Message" autofocus></textarea>"""

IFRAME_SANDBOX_PANEL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>iframe_sandbox</title>
<style>body{margin:0}iframe{border:0;display:block;width:100%;height:100vh}</style>
<script src="relay.js"></script></head>
<body><iframe id="ui" src="ui.html" title="ui"></iframe></body></html>
"""
# A classic script in <head>: the Port connects before the iframe exists; the answer waits for the UI.
IFRAME_SANDBOX_RELAY = f"""
const port = chrome.runtime.connect({{name: "panel"}});
let answer = null, uiHello = false;
const ui = () => document.getElementById("ui");
const deliver = () => {{ if (answer && uiHello) ui().contentWindow.postMessage(answer, "*"); }};
port.onMessage.addListener((text) => {{
  if (JSON.parse(text).type === "hello") {{ answer = text; deliver(); }}
}});
port.postMessage({HELLO});
addEventListener("message", (event) => {{
  const frame = ui();
  if (!frame || event.source !== frame.contentWindow) return;
  if (event.data === "hello") {{ uiHello = true; deliver(); }}
}});
"""
IFRAME_SANDBOX_UI = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ui</title>{UI_STYLE}</head>
<body>{UI_BODY}
<script src="ui.js"></script></body></html>
"""
IFRAME_SANDBOX_UI_JS = """
const status = document.querySelector('[data-testid="status"]');
addEventListener("message", (event) => {
  if (event.source !== parent || typeof event.data !== "string") return;
  if (JSON.parse(event.data).type === "hello") status.textContent = "Ready";
});
parent.postMessage("hello", "*");
"""

# The listener is in <head>, so it exists before the relay frame does.
TOP_SANDBOX_UI = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>top_sandbox</title>{UI_STYLE}
<script src="ui.js"></script></head>
<body>{UI_BODY}
<iframe id="relay" src="relay.html" title="relay" hidden></iframe></body></html>
"""
TOP_SANDBOX_UI_JS = """
addEventListener("message", (event) => {
  const relay = document.getElementById("relay");
  if (!relay || event.source !== relay.contentWindow || typeof event.data !== "string") return;
  if (JSON.parse(event.data).type === "hello")
    document.querySelector('[data-testid="status"]').textContent = "Ready";
});
"""
TOP_SANDBOX_RELAY = """<!doctype html>
<meta charset="utf-8"><title>relay</title><script src="relay.js"></script>
"""
# The parent's origin is opaque: "*" is the only target origin that reaches it.
TOP_SANDBOX_RELAY_JS = f"""
const port = chrome.runtime.connect({{name: "panel"}});
port.onMessage.addListener((text) => {{
  if (JSON.parse(text).type === "hello") parent.postMessage(text, "*");
}});
port.postMessage({HELLO});
"""

FRAME_JS = """() => {
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  return [performance.timeOrigin, fcp ? performance.timeOrigin + fcp.startTime : null];
}"""

# The user-activation check's init script (see the module docstring). Times are epoch ms.
ACTIVATION_MONITOR = """
(() => {
  const log = (window.__activation = {changes: [], received: [], clicked: null});
  const now = () => performance.timeOrigin + performance.now();
  let last = null;
  const sample = () => {
    const active = navigator.userActivation.isActive;
    if (active !== last) { log.changes.push([now(), active]); last = active; }
  };
  sample();
  setInterval(sample, 10);
  addEventListener("message", (event) => {
    if (event.data && event.data.probe === "clicked")
      log.received.push({isActive: navigator.userActivation.isActive,
                         hasBeenActive: navigator.userActivation.hasBeenActive});
  }, true);
  addEventListener("click", () => {
    log.clicked = now();
    if (parent !== window) parent.postMessage({probe: "clicked"}, "*");
    for (let i = 0; i < frames.length; i++) frames[i].postMessage({probe: "clicked"}, "*");
  }, true);
  document.addEventListener("DOMContentLoaded", () => {
    if (!document.querySelector('[data-testid="composer"]')) return;
    const target = document.createElement("button");
    target.textContent = "probe";
    Object.assign(target.style, {position: "fixed", left: "0", top: "0", width: "120px", height: "60px",
                                 zIndex: "9"});
    document.body.append(target);
  });
})();
"""
CONTROL_PAGE = "<!doctype html><title>control</title>"
RELAY_FRAME = {"iframe_sandbox": "sidepanel.html", "top_sandbox": "relay.html"}


def sandbox_manifest(name: str, panel: str, frame_src: str) -> dict[str, Any]:
    """BASELINE_MANIFEST with ui.html sandboxed under SidePy's own CSPs (frame-src replaced)."""
    csp = json.loads((REPO / "manifest.json").read_text())["content_security_policy"]
    sandbox, found = re.subn(r"frame-src [^;]+", f"frame-src {frame_src}", csp["sandbox"])
    if not found:
        raise RuntimeError("manifest.json's sandbox CSP has no frame-src to replace")
    return {**BASELINE_MANIFEST, "name": name, "side_panel": {"default_path": panel},
            "sandbox": {"pages": ["ui.html"]},
            "content_security_policy": {"extension_pages": csp["extension_pages"], "sandbox": sandbox}}


def write_extensions(root: Path) -> dict[str, Path]:
    top_manifest = sandbox_manifest("top_sandbox", "ui.html", "'self'")
    top_manifest["web_accessible_resources"] = [
        {"resources": ["relay.html"], "matches": ["https://nonexistent.invalid/*"]}]
    files: dict[str, dict[str, str]] = {
        "baseline": {"manifest.json": json.dumps(BASELINE_MANIFEST), "sidepanel.html": BASELINE_PANEL,
                     "panel.js": BASELINE_PANEL_JS},
        "iframe_sandbox": {"manifest.json": json.dumps(sandbox_manifest("iframe_sandbox", "sidepanel.html",
                                                                        "'none'")),
                           "sidepanel.html": IFRAME_SANDBOX_PANEL, "relay.js": IFRAME_SANDBOX_RELAY,
                           "ui.html": IFRAME_SANDBOX_UI, "ui.js": IFRAME_SANDBOX_UI_JS},
        "top_sandbox": {"manifest.json": json.dumps(top_manifest), "ui.html": TOP_SANDBOX_UI,
                        "ui.js": TOP_SANDBOX_UI_JS, "relay.html": TOP_SANDBOX_RELAY,
                        "relay.js": TOP_SANDBOX_RELAY_JS},
    }
    out = {}
    for shape, texts in files.items():
        ext = root / shape
        ext.mkdir()
        texts = {**texts, "background.js": BASELINE_WORKER, "control.html": CONTROL_PAGE}
        for name, text in texts.items():
            (ext / name).write_text(text)
        out[shape] = ext
    return out


def frame_label(url: str, top: bool) -> str:
    return f"{url.rsplit('/', 1)[-1]} ({'top' if top else 'child'})"


def open_panel(b: Browser, path: str, timeout_s: float = 30) -> dict[str, Any]:
    """Open the panel page as a tab; ms from its navigation start to composer and "Ready", and
    each frame's navigation start and first contentful paint."""
    page = b.context.new_page()
    try:
        page.goto(b.url(path), wait_until="commit")
        deadline = time.monotonic() + timeout_s
        marks: dict[str, Any] = {}
        while time.monotonic() < deadline:
            seen = b._marks(page).values()
            marks = {key: min((m[key] for m in seen if m.get(key)), default=None)
                     for key in ("composer", "ready")}
            if marks["composer"] and marks["ready"]:
                break
            time.sleep(0.005)
        else:
            raise RuntimeError(f"{path} did not get ready in {timeout_s} s: {marks}")
        origin = page.evaluate("() => performance.timeOrigin")
        # A frame's paint timing entry can arrive after the paint the marks saw (the child
        # OOPIF's often does): wait, up to 2 s, for it in the frames that hold the composer.
        painting = {f for f, m in b._marks(page).items() if m.get("has_composer")}
        end = time.monotonic() + 2
        while True:
            timing = {f: f.evaluate(FRAME_JS) for f in page.frames if f.url.startswith("chrome-extension://")}
            if time.monotonic() > end or all(timing[f][1] is not None for f in painting):
                break
            time.sleep(0.02)
        frames = {frame_label(f.url, f.parent_frame is None): {
            "start_ms": start - origin, "fcp_ms": None if fcp is None else fcp - origin}
            for f, (start, fcp) in timing.items()}
        return {"composer_ms": marks["composer"] - origin, "ready_ms": marks["ready"] - origin,
                "frames": frames}
    finally:
        page.close()


def measure(browsers: dict[str, Browser], runs: int) -> dict[str, dict[str, list[dict[str, Any]]]]:
    out: dict[str, dict[str, list[dict[str, Any]]]] = {s: {"stopped": [], "running": []} for s in SHAPES}
    for shape, b in browsers.items():  # the first open after launch, unmeasured
        b.ping()
        open_panel(b, OPEN_PATH[shape], timeout_s=60)
    order = list(browsers.items())
    for i in range(runs + 1):  # round 0 is a warm-up, dropped
        # Alternated, so a busy spell on the machine hits all three; each round starts with
        # the next shape, so no shape always opens first (or right after another).
        for shape, b in order[i % len(order):] + order[:i % len(order)]:
            b.stop_worker()
            stopped = open_panel(b, OPEN_PATH[shape])
            b.ping()
            running = open_panel(b, OPEN_PATH[shape])
            if i:
                out[shape]["stopped"].append(stopped)
                out[shape]["running"].append(running)
    return out


def activation(browsers: dict[str, Browser]) -> dict[str, dict[str, Any]]:
    """The user-activation check for both sandboxed shapes (see the module docstring)."""
    pages = {}
    for shape in RELAY_FRAME:
        browsers[shape].context.add_init_script(ACTIVATION_MONITOR)
        pages[shape] = browsers[shape].context.new_page()
        pages[shape].goto(browsers[shape].url(OPEN_PATH[shape]), wait_until="commit")
    time.sleep(6)  # untouched: past any activation the open could have given
    out = {}
    for shape, page in pages.items():
        page.mouse.click(60, 30)
        time.sleep(0.5)
        logs = {f.url.rsplit("/", 1)[-1]: f.evaluate("() => window.__activation ?? null")
                for f in page.frames}
        target = next((name for name, log in logs.items() if log and log["clicked"]), None)
        relay = logs[RELAY_FRAME[shape]]
        # The click's time on the clicked frame's own clock (epoch ms, like the relay's samples).
        clicked = logs[target]["clicked"] if target is not None else float("inf")
        before = [active for t, active in relay["changes"] if t < clicked]
        out[shape] = {"clicked_frame": target, "relay_frame": RELAY_FRAME[shape],
                      "relay_active_before": bool(before and before[-1]),
                      "relay_on_message": relay["received"]}
        page.close()
    return out


def cell(values: list[float]) -> str:
    return f"{pct(values, .5):.0f} / {pct(values, .95):.0f}"


def signed(value: float) -> str:
    return f"{value:+.0f}"


def report(data: dict[str, Any], runs: int, started: str, before: str) -> str:
    timings, act = data["timings"], data["activation"]
    lines = [f"{started}, {data['browser']}, headless; machine: {before} at the start, "
             f"{machine().split(', load average ')[1]} at the end",
             "", f"Open the panel page, {runs} rounds, ms from the top page's navigation start "
             "(p50 / p95):", "",
             "| worker | shape | composer visible and enabled | status \"Ready\" |", "|---|---|--:|--:|"]
    for cond, _ in CONDITIONS:
        for shape in SHAPES:
            rows = timings[shape][cond]
            lines.append(f"| {cond} | {shape} | {cell([r['composer_ms'] for r in rows])} "
                         f"| {cell([r['ready_ms'] for r in rows])} |")
    lines += ["", "Paired within each round, ms (\"top earlier\": rounds in which top_sandbox was "
              "earlier than iframe_sandbox):", "",
              "| worker | mark | top_sandbox - iframe_sandbox p50 [p5..p95] | top earlier "
              "| iframe_sandbox - baseline p50 | top_sandbox - baseline p50 |", "|---|---|--:|--:|--:|--:|"]
    for cond, _ in CONDITIONS:
        for key, mark in (("composer_ms", "composer"), ("ready_ms", "Ready")):
            base, iframe, top = ([r[key] for r in timings[s][cond]] for s in SHAPES)
            top_iframe = [t - i for t, i in zip(top, iframe, strict=True)]
            earlier = sum(d < 0 for d in top_iframe)
            lines.append(
                f"| {cond} | {mark} | {signed(pct(top_iframe, .5))} [{signed(pct(top_iframe, .05))}.."
                f"{signed(pct(top_iframe, .95))}] | {earlier}/{len(top_iframe)} "
                f"| {signed(statistics.median(i - b for i, b in zip(iframe, base, strict=True)))} "
                f"| {signed(statistics.median(t - b for t, b in zip(top, base, strict=True)))} |")
    lines += ["", "Each frame, p50 ms from the top page's navigation start (first paint: "
              "first-contentful-paint; — none):", "",
              "| worker | shape | frame | navigation start | first paint |", "|---|---|---|--:|--:|"]
    for cond, _ in CONDITIONS:
        for shape in SHAPES:
            rows = timings[shape][cond]
            for frame in rows[0]["frames"]:
                seen = [r["frames"][frame] for r in rows if frame in r["frames"]]
                fcps = [s["fcp_ms"] for s in seen if s["fcp_ms"] is not None]
                fcp = f"{statistics.median(fcps):.0f}" if fcps else "—"
                start = statistics.median(s["start_ms"] for s in seen)
                lines.append(f"| {cond} | {shape} | {frame} | {start:.0f} | {fcp} |")
    lines += ["", "User activation: a trusted click on a button in the frame that holds the composer, "
              "which then posts to the relay frame (one trial each):", "",
              "| shape | clicked frame | relay frame | relay active before the click "
              "| relay on the click's message: isActive / hasBeenActive |", "|---|---|---|---|---|"]
    for shape, r in act.items():
        got = ", ".join(f"{m['isActive']} / {m['hasBeenActive']}" for m in r["relay_on_message"])
        got = got or "no message"
        lines.append(f"| {shape} | {r['clicked_frame'] or 'click not seen'} | {r['relay_frame']} "
                     f"| {r['relay_active_before']} | {got} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    before = machine()
    with tempfile.TemporaryDirectory(prefix="sidepy-bench-frames-") as tmp, sync_playwright() as pw:
        browsers: dict[str, Browser] = {}
        try:
            for shape, ext in write_extensions(Path(tmp)).items():
                browsers[shape] = Browser(pw, ext, "control.html")
            version = browsers["baseline"].cdp.send("Browser.getVersion")["product"]
            timings = measure(browsers, args.runs)
            data = {"browser": version, "timings": timings, "activation": activation(browsers)}
        finally:
            for b in browsers.values():
                b.close()
    print(report(data, args.runs, started, before))
    if args.json:
        args.json.write_text(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
