"""Benchmark: open the side panel and type at once, beside a JavaScript-only panel.

    python bench/panel.py [--runs 10] [--json out.json] [--against OTHER_DIST]

What a user feels when they open the panel is not the worker's boot alone but the
panel page's own start (MicroPython, the panel's modules, the markdown stack) and the
worker's wake, together. One run opens, in the same headless Chromium build and
alternating run by run:

* **SidePy**: ``dist-dev/``'s side-panel page (the developer build) (``sidepanel.html``, which holds the relay
  and the sandboxed ``ui.html`` running MicroPython);
* **baseline**: a JavaScript-only extension whose side-panel page has a composer
  (a plain ``<textarea>``) and a status line, connects a Port to its worker at once
  and says "Ready" when the worker answers its ``hello``: the floor for "open the
  panel and talk to the worker".

each in two conditions:

* **worker stopped** (the usual case: Chrome stops an idle worker 30 s after the panel
  closes): CDP ``ServiceWorker.stopAllWorkers`` from a control page, then open;
* **worker running**: a ping from the control page first (it answers, so the worker is
  up), then open.

The panel page is opened as a tab (the side panel itself cannot be opened without a
user gesture); it is the same document. An init script in every frame of the panel
checks after every paint and records ``performance.timeOrigin + performance.now()`` (epoch ms,
one clock for every frame and process) the first time

* the composer (``[data-testid=composer]``) is visible, enabled and not read-only, and
  then also that typing into it works (a character typed with the keyboard lands in its
  value; checked once by the harness after the poll saw it usable),
* the status line (``[data-testid=status]``) reads "Ready";

times are reported from the panel page's navigation start (its ``timeOrigin``). The
panel's own boot phases are taken in its UI frame from outside the product (Chrome
keeps no Resource Timing for ``chrome-extension://`` loads): when each script and
stylesheet finished loading, each ``fetch`` (MicroPython's wasm, the panel's modules)
from call to response, the wasm compile, the
first paint, and the ``performance.mark`` calls named ``sidepy:…`` that the panel sets;
reported as p50 ms from navigation start.

``--against`` adds a third extension, another build of SidePy (say, ``main``'s
``dist/``), measured in the same run: an A/B of a change on a noisy machine.

Reported: p50 / p95 over the runs, after one discarded warm-up per extension and
condition, and each target of the instant-panel work as a ratio to the baseline's
open -> worker answers time measured in the same run. Figures describe this machine
at this moment; nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, CDPSession, Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, DIST, chromium_args  # noqa: E402

# A JS-only extension with the same shape: a worker that answers hello, a side-panel
# page whose composer and status are plain markup and whose script connects at once.
BASELINE_MANIFEST = {
    "manifest_version": 3,
    "name": "js-only panel baseline",
    "version": "1.0",
    "background": {"service_worker": "background.js", "type": "module"},
    "side_panel": {"default_path": "sidepanel.html"},
    "permissions": ["sidePanel"],
}
BASELINE_WORKER = """
chrome.runtime.onConnect.addListener((port) => {
  port.onMessage.addListener((text) => {
    const msg = JSON.parse(text);
    if (msg.type === "hello") port.postMessage(JSON.stringify({type: "hello", id: msg.id, v: 1}));
  });
});
chrome.runtime.onMessage.addListener((text, _s, reply) => {
  reply(JSON.stringify({type: "pong", id: JSON.parse(text).id}));
});
"""
BASELINE_PANEL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>baseline</title>
<style>body{font:14px system-ui;margin:0;display:flex;flex-direction:column;height:100vh}
main{flex:1}textarea{margin:8px}</style></head>
<body><header><span data-testid="status">Connecting…</span></header><main></main>
<textarea data-testid="composer" rows="2" placeholder="Message" autofocus></textarea>
<script type="module" src="panel.js"></script></body></html>
"""
BASELINE_PANEL_JS = """
const status = document.querySelector('[data-testid="status"]');
const port = chrome.runtime.connect({name: "panel"});
port.onMessage.addListener((text) => {
  if (JSON.parse(text).type === "hello") status.textContent = "Ready";
});
port.postMessage(JSON.stringify({type: "hello", id: 1, v: 1}));
"""

# Runs in every frame of every page before its scripts. Only the frames that have the
# hooks record anything; the page that opened is told apart by the harness.
POLL = """
(() => {
  const marks = (window.__sidepyBench = {});
  const now = () => performance.timeOrigin + performance.now();
  const usable = (el) => {
    if (!el || el.disabled || el.readOnly) return false;
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
  };
  // Checked after every paint (requestAnimationFrame posts to a MessageChannel, whose task
  // runs once that frame is painted): a mark is the end of the first frame that showed it.
  const check = () => {
    const composer = document.querySelector('[data-testid="composer"]');
    if (composer) marks.has_composer = true;
    if (!marks.composer && usable(composer)) marks.composer = now();
    const status = document.querySelector('[data-testid="status"]');
    if (!marks.ready && status && status.textContent.trim() === "Ready") marks.ready = now();
    return marks.composer && marks.ready;
  };
  const channel = new MessageChannel();
  const afterPaint = () => requestAnimationFrame(() => channel.port2.postMessage(0));
  channel.port1.onmessage = () => { if (!check()) afterPaint(); };
  afterPaint();

  // Phases, from outside the product: Chrome keeps no Resource Timing for
  // chrome-extension:// loads, so fetches, wasm compiles and script loads are timed
  // here. Each phase is [start, end] in epoch ms (end null: a point).
  const phases = (marks.phases = {});
  const path = (url) => new URL(String(url), location.href).pathname.slice(1);
  const span = (name, start) => { if (!(name in phases)) phases[name] = [start, now()]; };
  const fetch0 = window.fetch;
  window.fetch = function (input, init) {
    const start = now();
    const name = "fetch " + path(input?.url ?? input);
    return fetch0.call(this, input, init).then((r) => { span(name, start); return r; });
  };
  for (const fn of ["compileStreaming", "instantiateStreaming", "compile", "instantiate"]) {
    const orig = WebAssembly[fn];
    if (!orig) continue;
    WebAssembly[fn] = function (...args) {
      const start = now();
      return orig.apply(this, args).then((r) => { span("wasm " + fn, start); return r; });
    };
  }
  document.addEventListener("load", (e) => {
    const el = e.target;
    if (el?.src || el?.href) span("loaded " + path(el.src || el.href), null);
  }, true);
  document.addEventListener("DOMContentLoaded", () => span("DOMContentLoaded", null));
})();
"""

PHASES_JS = """() => {
  const out = {};
  for (const [name, [start, end]] of Object.entries(window.__sidepyBench.phases)) {
    out[name] = start === null ? [end, null] : [start, end];
  }
  for (const m of performance.getEntriesByType("paint")) {
    out[m.name] = [performance.timeOrigin + m.startTime, null];
  }
  for (const m of performance.getEntriesByType("mark")) {
    if (m.name.startsWith("sidepy:")) out[m.name] = [performance.timeOrigin + m.startTime, null];
  }
  return out;
}"""


CONDITIONS = (("stopped", "after the worker was stopped"), ("running", "while the worker runs"))


def baseline_extension() -> Path:
    out = Path(tempfile.mkdtemp(prefix="sidepy-panel-baseline-"))
    (out / "manifest.json").write_text(json.dumps(BASELINE_MANIFEST))
    (out / "background.js").write_text(BASELINE_WORKER)
    (out / "sidepanel.html").write_text(BASELINE_PANEL)
    (out / "panel.js").write_text(BASELINE_PANEL_JS)
    (out / "control.html").write_text("<!doctype html><title>control</title>")
    return out


class Browser:
    """A fresh profile with one extension, a control page of it and a CDP session."""

    def __init__(self, pw: Any, ext: Path, control_path: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="sidepy-bench-panel-")
        self.context: BrowserContext = pw.chromium.launch_persistent_context(
            self.profile, executable_path=CHROMIUM, headless=True, args=chromium_args(ext),
            viewport={"width": 400, "height": 800},
        )
        self.context.add_init_script(POLL)
        workers = self.context.service_workers
        worker = workers[0] if workers else self.context.wait_for_event("serviceworker")
        self.id = worker.url.split("/")[2]
        self.control: Page = self.context.new_page()
        self.control.goto(self.url(control_path))
        self.cdp: CDPSession = self.context.new_cdp_session(self.control)
        self.cdp.send("ServiceWorker.enable")

    def url(self, path: str) -> str:
        return f"chrome-extension://{self.id}/{path}"

    def ping(self) -> None:
        self.control.evaluate("() => chrome.runtime.sendMessage(JSON.stringify({type: 'ping', id: 0}))")

    def stop_worker(self) -> None:
        self.cdp.send("ServiceWorker.stopAllWorkers")
        time.sleep(0.3)

    def open_panel(self, timeout_s: float = 30) -> dict[str, Any]:
        """Open the panel page, type as soon as a composer shows, wait for "Ready" and the text.

        Times are ms from the panel page's navigation start, and (``*_req``) from the moment
        the harness asked the browser for the page (tab creation included).
        """
        requested = time.time() * 1000
        page = self.context.new_page()
        try:
            page.goto(self.url("sidepanel.html"), wait_until="commit")
            deadline = time.monotonic() + timeout_s
            typed = False
            marks: dict[str, Any] = {}
            while time.monotonic() < deadline:
                seen = self._marks(page)
                marks = {key: min((m[key] for m in seen.values() if m.get(key)), default=None)
                         for key in ("composer", "ready")}
                if marks["composer"] and not typed:
                    # Type at once, as a user would into the composer that has the focus: it
                    # must not be lost when the panel's Python takes over.
                    page.keyboard.type("x")
                    typed = True
                if marks["composer"] and marks["ready"]:
                    break
                time.sleep(0.005)
            else:
                raise RuntimeError(f"the panel did not get ready in {timeout_s} s: {marks}")
            # Where the user's text ends up once the panel is up: the frame that says "Ready".
            ready_frame = next(f for f, m in self._marks(page).items() if m.get("ready") == marks["ready"])
            composer = ready_frame.locator('[data-testid="composer"]')
            kept = False
            end = time.monotonic() + 2
            while time.monotonic() < end and not kept:
                with contextlib.suppress(Exception):
                    kept = composer.input_value(timeout=500) == "x"
                time.sleep(0 if kept else 0.02)
            origin = page.evaluate("() => performance.timeOrigin")
            ui = next((f for f in page.frames if f.name == "ui" or f.url.endswith("/ui.html")), ready_frame)
            phases = {name: [(a - origin) if a else None, (b - origin) if b else None]
                      for name, (a, b) in ui.evaluate(PHASES_JS).items()}
            return {"composer_ms": marks["composer"] - origin, "ready_ms": marks["ready"] - origin,
                    "composer_req": marks["composer"] - requested, "ready_req": marks["ready"] - requested,
                    "typed": kept, "phases": phases}
        finally:
            page.close()

    @staticmethod
    def _marks(page: Page) -> dict[Any, dict[str, Any]]:
        """Each frame's marks (frames that have a composer or a status line only)."""
        out = {}
        for f in page.frames:
            try:
                m = f.evaluate("() => window.__sidepyBench ?? null")
            except Exception:  # the frame navigated or went away; look again next time
                continue
            if m and (m.get("has_composer") or m.get("ready")):
                out[f] = m
        return out

    def close(self) -> None:
        self.context.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def console_page(dist: Path) -> str:
    """The page that pings: the developer build's console (its sender kind may), or in a build
    from before sender kinds, any page of the extension."""
    return "dev.html" if (dist / "dev.html").exists() else "build-info.json"


def measure(pw: Any, runs: int, against: Path | None) -> dict[str, dict[str, list[dict[str, Any]]]]:
    baseline_dir = baseline_extension()
    browsers = {"sidepy": Browser(pw, DIST, console_page(DIST)),
                "baseline": Browser(pw, baseline_dir, "control.html")}
    if against is not None:
        browsers["against"] = Browser(pw, against, console_page(against))
    out: dict[str, dict[str, list[dict[str, Any]]]] = {
        name: {"stopped": [], "running": []} for name in browsers}
    try:
        for b in browsers.values():  # first install and snapshot save happen here, unmeasured
            b.ping()
            b.open_panel(timeout_s=120)
        for name in ("sidepy", "against"):
            if name in browsers:
                wait_snapshot_saved(browsers[name])
        for i in range(runs + 1):  # run 0 is a warm-up, dropped
            for name, b in browsers.items():
                b.stop_worker()
                stopped = b.open_panel()
                b.ping()
                running = b.open_panel()
                if i:
                    out[name]["stopped"].append(stopped)
                    out[name]["running"].append(running)
    finally:
        for b in browsers.values():
            b.close()
        shutil.rmtree(baseline_dir, ignore_errors=True)
    return out


def wait_snapshot_saved(b: Browser, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reply = json.loads(b.control.evaluate(
            "() => chrome.runtime.sendMessage(JSON.stringify({type: 'ping', id: 1}))"))
        if (reply.get("boot") or {}).get("save") != "saving":
            return
        time.sleep(0.2)
    raise RuntimeError("the worker's snapshot was still saving")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores ({model}), load average {load}"


def phase_rows(rows: list[dict[str, Any]]) -> list[str]:
    """p50 (ms since navigation start) of each phase seen in every run, in time order."""
    names = set(rows[0]["phases"])
    for r in rows[1:]:
        names &= set(r["phases"])
    table = []
    for name in names:
        starts = [r["phases"][name][0] for r in rows]
        ends = [r["phases"][name][1] for r in rows if r["phases"][name][1] is not None]
        table.append((statistics.median(starts), name, statistics.median(ends) if ends else None))
    lines = ["| phase | starts | ends |", "|---|--:|--:|"]
    for start, name, end in sorted(table):
        lines.append(f"| {name} | {start:.0f} | {'' if end is None else f'{end:.0f}'} |")
    return lines


def report(data: dict[str, Any], runs: int, started: str, before: str) -> str:
    def p(name: str, cond: str, key: str, q: float = 0.5) -> float:
        return pct([r[key] for r in data[name][cond]], q)

    lines = [f"{started}; machine: {before} at the start, {machine().split(', load average ')[1]} at the end"]
    for ref, suffix, what in (("navigation start", "_ms", "the panel page's navigation start"),
                              ("open request", "_req", "the harness asking the browser for the page, "
                                                       "tab creation included")):
        floor = p("baseline", "stopped", "ready" + suffix)
        lines += [
            "",
            f"Open the panel, {runs} runs each, ms from {what} (p50 / p95):",
            "",
            "| open the panel… | | composer visible and enabled | status \"Ready\" | typed at once, kept |",
            "|---|---|--:|--:|--:|",
        ]
        for cond, label in CONDITIONS:
            for name, who in (("sidepy", "SidePy"), ("against", "SidePy, --against build"),
                              ("baseline", "JS-only baseline")):
                if name not in data:
                    continue
                typed = sum(r["typed"] for r in data[name][cond])
                cells = [f"{p(name, cond, key + suffix):.0f} / {p(name, cond, key + suffix, .95):.0f}"
                         for key in ("composer", "ready")]
                kept = f"{typed}/{len(data[name][cond])}"
                lines.append(f"| {label} | {who} | {cells[0]} | {cells[1]} | {kept} |")
        targets = [
            ("composer visible and accepting typed text", p("sidepy", "stopped", "composer" + suffix), 1.5),
            ("\"Ready\" after the worker was stopped", p("sidepy", "stopped", "ready" + suffix), 3.5),
            ("\"Ready\" while the worker runs", p("sidepy", "running", "ready" + suffix), 2.0),
        ]
        lines += ["", f"Targets (from {ref}), as multiples of the baseline's open -> worker answers after a "
                  f"stop ({floor:.0f} ms p50):", "", "| target | SidePy p50 | ratio | target ratio | met |",
                  "|---|--:|--:|--:|---|"]
        for label, value, want in targets:
            ratio = value / floor
            met = "yes" if ratio <= want else "no"
            lines.append(f"| {label} | {value:.0f} ms | {ratio:.2f} | ≤ {want} | {met} |")
    for cond in ("stopped", "running"):
        lines += ["", f"SidePy panel phases in its UI frame, worker {cond} (p50 ms from navigation start):",
                  "", *phase_rows(data["sidepy"][cond])]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--against", type=Path, help="another built dist/ to measure beside this one")
    args = parser.parse_args()
    if not (DIST / "manifest.json").exists():
        print("bench/panel.py: build first (python build.py --dev)", file=sys.stderr)
        return 1
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    before = machine()
    with sync_playwright() as pw:
        data = measure(pw, args.runs, args.against.resolve() if args.against else None)
    print(report(data, args.runs, started, before))
    if args.json:
        args.json.write_text(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
