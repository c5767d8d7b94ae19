"""Benchmark: from the server's bytes to text painted in the side panel, beside a JS-only page.

    python bench/paint.py [--runs 9] [--long-runs 5] [--json out.json]

The mock Responses server streams the same script to two clients in the same headless
Chromium, one after the other, alternating:

* **panel**: SidePy's side panel page (in a 420x800 popup window), sending with Enter:
  worker (Pyodide: fetch, SSE, modelclient, 16 ms batching) -> Port -> relay ->
  sandboxed UI (MicroPython: state, markdown block renderer, once per frame);
* **baseline**: a plain HTML page served from 127.0.0.1 (same 420x800 viewport) that
  ``fetch``es the same stream from the mock server, splits the SSE events and appends
  each ``response.output_text.delta`` to one text node (``Text.appendData``), the floor
  for "bytes in, text on screen".

Two replies: **short** (~300 word-sized deltas of markdown at 100 deltas/s, a typical
model speed) and **long** (10,000 deltas, ≈ 10k tokens of markdown with headings,
lists, code, tables and math, at ~1,000 deltas/s: the panel under load).

How the times are taken (one machine, one wall clock):

* server side: steps in the script record ``time.time()`` right after the first
  delta's bytes and the last delta's bytes were written to the socket, and after
  ``response.completed`` (the mock server does not time its writes itself);
* page side: the first delta carries a marker word and the last one another; a loop
  in the page (in the panel: in its UI frame) runs a check after every rendering
  update (``requestAnimationFrame`` posts to a ``MessageChannel``, whose task runs
  after that frame's paint) and records ``performance.timeOrigin + performance.now()``
  when the marker is first in the DOM: "first paint", "last paint" (and, for the
  panel, "final render": the reply lost its ``streaming`` state, i.e. ``turn.done``
  was painted with the final markdown);
* the page clock is mapped to ``time.time()`` before every run: the smallest of five
  ``evaluate`` round trips, offset taken at its midpoint (uncertainty ±half of it,
  reported);
* send -> first text: from the Enter key's event time in the panel's UI frame (the
  baseline: its ``start()`` call), on the page's clock; also from the harness asking
  for the key press ("harness": Playwright locating and focusing the composer first,
  ~5-10 ms that no user waits for);
* long tasks: a ``PerformanceObserver`` for ``longtask`` in the panel's UI frame (and
  in the baseline page), from the send to the final render; also the longest gap
  between two rendering updates.

Reported: p50 (and max) over the runs, after one discarded warm-up run per reply and
client. Figures describe this machine at this moment; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Frame, Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "py"), str(REPO)]

from mockapi import MockServerThread, Script, Turn, split_deltas  # noqa: E402
from tests.e2e.chatkit import ARTICLE_HTML, Panel, WebServer, configure, open_panel_window  # noqa: E402
from tests.e2e.conftest import DIST, Extension  # noqa: E402

KEY = "sk-bench-paint-0123456789"
FIRST = "Alpha7f3a"
LAST = "Omega7f3a"
VIEWPORT = {"width": 420, "height": 800}


@dataclass(frozen=True)
class Mark:
    """A script step that records when the stream got to it (``time.time()``)."""

    name: str
    marks: dict[str, float] = field(hash=False, compare=False)

    async def run(self, sink: Any) -> None:
        self.marks[self.name] = time.time()


def short_markdown() -> str:
    parts = [f"{FIRST} here is the short answer.", "", "## What to check", ""]
    parts += [f"- item {i}: the tide, the wind and the **fuel** before you leave" for i in range(8)]
    parts += ["", "```python", "def high_tide(hour: int) -> bool:", "    return hour % 12 == 6", "```", ""]
    for i in range(8):
        parts.append(f"Paragraph {i}: the ferry leaves at nine, returns at five, and takes the long "
                     "way round when the wind is from the east, which it usually is in spring.")
        parts.append("")
    parts.append(f"That is all, {LAST}.")
    return "\n".join(parts)


def long_markdown(deltas: int = 10_000) -> str:
    parts = [f"{FIRST} opens a long reply.", ""]
    words = 0
    k = 0
    while words < deltas:
        k += 1
        block = [f"## Section {k}", "",
                 " ".join(f"word{k}x{i}" for i in range(50)) + f" with math $x_{{{k}}}^2 + y^2$.", ""]
        block += [f"- point {i} of section {k}, with `code` and **bold** text" for i in range(5)]
        block.append("")
        if k % 3 == 0:
            code = [f"value_{k}_{i} = compute({i}, scale={k})  # step {i}" for i in range(8)]
            block += ["```python", *code, "```", ""]
        if k % 5 == 0:
            block += ["| n | square | cube |", "|--:|--:|--:|",
                      *(f"| {i} | {i * i} | {i ** 3} |" for i in range(6)), ""]
        words += len(split_deltas("\n".join(block)))
        parts += block
    parts.append(f"The end, {LAST}.")
    return "\n".join(parts)


def script(text: str, delay_ms: float, marks: dict[str, float]) -> Script:
    deltas = split_deltas(text)
    turn = Turn(deltas=deltas, delta_delay_ms=delay_ms,
                interleave={1: (Mark("first", marks),), len(deltas): (Mark("last", marks),)})  # type: ignore[dict-item]
    return Script((turn, Mark("end", marks)), label="paint")  # type: ignore[arg-type]


# Installed in the page (or the panel's UI frame) before each run. `target()` finds the
# element the reply is painted into; `final()` says the reply is finished on screen.
PROBE = """([first, last, target, final]) => {
  const find = new Function("return " + target);
  const done = new Function("el", "return " + final);
  const P = window.__paint = {sent: null, first: null, last: null, final: null, longtasks: [], gap: 0,
                              frames: 0};
  // The send, on the page's clock: the Enter key's event time (the panel; the baseline's
  // start() records its own), so the harness's own driving (Playwright finding and
  // focusing the composer before it presses) is not counted.
  if (!window.__paintKeys) {
    window.__paintKeys = true;
    document.addEventListener("keydown", (e) => {
      const P = window.__paint;
      if (P && P.sent === null && e.key === "Enter") P.sent = performance.timeOrigin + e.timeStamp;
    }, true);
  }
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) P.longtasks.push([performance.timeOrigin + e.startTime, e.duration]);
  });
  try { obs.observe({type: "longtask"}); P.observing = true; } catch (e) { P.observing = String(e); }
  const ch = new MessageChannel();
  let prev = 0;
  ch.port1.onmessage = () => {
    const now = performance.timeOrigin + performance.now();
    if (prev) P.gap = Math.max(P.gap, now - prev);
    prev = now;
    P.frames++;
    const el = find();
    if (el) {
      const text = el.textContent;
      if (P.first === null && text.includes(first)) P.first = now;
      if (P.last === null && text.includes(last)) P.last = now;
      if (P.last !== null && P.final === null && done(el)) P.final = now;
    }
    if (P.final === null) requestAnimationFrame(() => ch.port2.postMessage(0));
    else obs.disconnect();
  };
  requestAnimationFrame(() => ch.port2.postMessage(0));
}"""

PANEL_TARGET = "[...document.querySelectorAll('[data-testid=message-assistant]')].pop()"
PANEL_FINAL = "!el.closest('article').classList.contains('streaming')"
BASELINE_TARGET = "document.getElementById('out')"

BASELINE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>JS-only baseline</title>
<style>body { font: 14px/1.5 system-ui, sans-serif; margin: 12px; }
#out { white-space: pre-wrap; overflow-wrap: anywhere; }</style></head>
<body><div id="out"></div>
<script>
async function start(url, key, body) {
  if (window.__paint) window.__paint.sent = performance.timeOrigin + performance.now();
  const out = document.getElementById("out");
  const node = document.createTextNode("");
  out.replaceChildren(node);
  const res = await fetch(url, {method: "POST", body,
    headers: {"Content-Type": "application/json", "Authorization": "Bearer " + key}});
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buf += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buf.indexOf("\\n\\n")) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of event.split("\\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = JSON.parse(line.slice(6));
        if (data.type === "response.output_text.delta") node.appendData(data.delta);
      }
    }
  }
}
</script></body></html>"""


def clock_offset(target: Page | Frame) -> tuple[float, float]:
    """(page clock - time.time(), uncertainty), both in ms, from the best of five round trips."""
    best: tuple[float, float] | None = None
    for _ in range(5):
        t0 = time.time()
        page_ms = target.evaluate("() => performance.timeOrigin + performance.now()")
        t1 = time.time()
        half = (t1 - t0) * 500
        offset = page_ms - (t0 + t1) * 500
        if best is None or half < best[1]:
            best = (offset, half)
    assert best is not None
    return best


def wait_final(target: Page | Frame, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = target.evaluate("() => window.__paint")
        if state and state["final"] is not None:
            time.sleep(0.3)  # late long-task entries are delivered asynchronously
            return target.evaluate("() => window.__paint")  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise TimeoutError(f"not painted within {timeout_s}s: {target.evaluate('() => window.__paint')}")


def measure(target: Page | Frame, marks: dict[str, float], started: float, offset: tuple[float, float],
            state: dict[str, Any], deltas: int) -> dict[str, Any]:
    def wall(page_ms: float) -> float:
        return page_ms - offset[0]  # ms on time.time()'s clock

    longtasks = [duration for _, duration in state["longtasks"]]
    # Where they fell: ms after the first delta was sent, for each long task.
    at = [round(wall(start) - marks["first"] * 1000) for start, _ in state["longtasks"]]
    return {
        "first_ms": wall(state["first"]) - marks["first"] * 1000,
        "last_ms": wall(state["last"]) - marks["last"] * 1000,
        "final_ms": wall(state["final"]) - marks["end"] * 1000,
        "stream_s": marks["end"] - marks["first"],
        "send_to_first_ms": wall(state["first"]) - started * 1000,
        "page_send_to_first_ms": state["first"] - state["sent"],
        "longtasks": len(longtasks),
        "longtasks_after_last": sum(1 for t in at if t > (marks["last"] - marks["first"]) * 1000),
        "longtask_at_ms": at,
        "longtask_durations_ms": [round(d) for d in longtasks],
        "longtask_max_ms": max(longtasks, default=0.0),
        "blocking_ms": sum(max(0.0, d - 50) for d in longtasks),
        "observing": state.get("observing"),
        "frame_gap_ms": state["gap"],
        "frames": state["frames"],
        "clock_uncertainty_ms": offset[1],
        "deltas": deltas,
    }


class Bench:
    def __init__(self, pw: Any, server: MockServerThread, web: WebServer) -> None:
        self.server = server
        self.ext = Extension(pw, Path(tempfile.mkdtemp(prefix="sidepy-paint-")))
        self.ext.close_welcome()  # the article must be the active tab
        boot = self.ext.wait_ready()
        assert boot["state"] == "ready", boot
        configure(self.ext, server, KEY)
        self.ext.context.pages[0].goto(web.url("/article"))
        self.panel = Panel(open_panel_window(self.ext, **VIEWPORT))
        self.panel.wait_ready()
        self.baseline = self.ext.context.new_page()
        self.baseline.set_viewport_size(VIEWPORT)
        self.baseline.goto(web.url("/baseline.html"))
        self.sent = 0

    def run_panel(self, text: str, delay_ms: float) -> dict[str, Any]:
        panel = self.panel
        panel.wait_idle()
        panel.new_chat()
        frame = panel.frame
        marks: dict[str, float] = {}
        self.server.enqueue(script(text, delay_ms, marks))
        offset = clock_offset(frame)
        frame.evaluate(PROBE, [FIRST, LAST, PANEL_TARGET, PANEL_FINAL])
        self.sent += 1
        panel.composer.fill(f"Paint run {self.sent}")
        started = time.time()
        panel.composer.press("Enter")
        state = wait_final(frame)
        return measure(frame, marks, started, offset, state, len(split_deltas(text)))

    def run_baseline(self, text: str, delay_ms: float) -> dict[str, Any]:
        page = self.baseline
        marks: dict[str, float] = {}
        self.server.enqueue(script(text, delay_ms, marks))
        page.evaluate("() => document.getElementById('out').replaceChildren()")  # the last run's text
        offset = clock_offset(page)
        page.evaluate(PROBE, [FIRST, LAST, BASELINE_TARGET, "true"])
        body = json.dumps({"model": "mock-model", "stream": True,
                           "input": [{"role": "user", "content": "paint"}]})
        started = time.time()
        page.evaluate("([u, k, b]) => { start(u, k, b); }", [f"{self.server.base_url}/responses", KEY, body])
        state = wait_final(page)
        return measure(page, marks, started, offset, state, len(split_deltas(text)))

    def close(self) -> None:
        self.ext.close()


def p50(values: list[float]) -> float:
    return statistics.median(values)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("first_ms", "last_ms", "final_ms", "send_to_first_ms", "page_send_to_first_ms", "stream_s",
            "longtasks", "longtasks_after_last", "longtask_max_ms", "blocking_ms", "frame_gap_ms",
            "clock_uncertainty_ms")
    return {k: {"p50": p50([r[k] for r in runs]), "max": max(r[k] for r in runs)} for k in keys}


def fmt(stat: dict[str, float], digits: int = 0) -> str:
    return f"{stat['p50']:.{digits}f} / {stat['max']:.{digits}f}"


def report(results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"{meta['when']}, {meta['browser']}, headless; {meta['cpus']} CPUs; load average "
        f"{meta['load_start']} at the start, {meta['load_end']} at the end",
        "",
        "p50 / max over the runs, ms. first, last: that delta's bytes sent -> its text painted; "
        "final: response.completed sent -> the reply painted as finished; send -> first text: from "
        "the Enter key's event (the panel) or the start() call (the baseline) in the page, and "
        "(harness) from the harness asking for it (Playwright's locate-and-focus included)",
        "",
        "| reply | client | runs | first delta | last delta | final render | send -> first text "
        "| (harness) | long tasks | longest task | blocking time | longest frame gap |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for reply in ("short", "long"):
        for client in ("panel", "baseline"):
            key = f"{reply}/{client}"
            if key not in results:
                continue
            s = results[key]["summary"]
            runs = results[key]["runs"]
            rate = runs[0]["deltas"] / s["stream_s"]["p50"]
            label = f"{reply}: {runs[0]['deltas']:,} deltas, {s['stream_s']['p50']:.1f} s ({rate:,.0f}/s)"
            final = fmt(s["final_ms"]) if client == "panel" else "-"
            lines.append(
                f"| {label} | {client} | {len(runs)} | {fmt(s['first_ms'])} | {fmt(s['last_ms'])} | "
                f"{final} | {fmt(s['page_send_to_first_ms'])} | {fmt(s['send_to_first_ms'])} | "
                f"{fmt(s['longtasks'])} | "
                f"{fmt(s['longtask_max_ms'])} | {fmt(s['blocking_ms'])} | {fmt(s['frame_gap_ms'])} |"
            )
    every = [r for v in results.values() for r in v["runs"]]
    after = sum(r["longtasks_after_last"] for r in every)
    unc = max(r["clock_uncertainty_ms"] for r in every)
    observing = {str(r["observing"]) for r in every}
    lines += ["", f"long tasks (>= 50 ms) starting after the last delta was sent, all runs: {after}; "
              f"clock mapping uncertainty <= {unc:.2f} ms; longtask observer: {', '.join(sorted(observing))}"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="short reply runs per client (default 9)")
    parser.add_argument("--long-runs", type=int, default=5, help="10k reply runs per client (default 5)")
    parser.add_argument("--short-delay-ms", type=float, default=10, help="pause between deltas, short reply")
    parser.add_argument("--long-delay-ms", type=float, default=1, help="pause between deltas, long reply")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    args = parser.parse_args()
    if not (DIST / "manifest.json").exists():
        print("bench/paint.py: build first (python build.py --dev)", file=sys.stderr)
        return 1
    meta: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(), "load_start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "machine": platform.platform(),
    }
    results: dict[str, dict[str, Any]] = {}
    web = WebServer({"/article": ARTICLE_HTML, "/baseline.html": BASELINE_HTML})
    try:
        with sync_playwright() as pw, MockServerThread(api_key=KEY) as server:
            bench = Bench(pw, server, web)
            meta["browser"] = bench.ext.context.browser.version if bench.ext.context.browser else "?"
            meta["browser"] = f"Chromium {meta['browser']}"
            try:
                plans = (("short", short_markdown(), args.short_delay_ms, args.runs),
                         ("long", long_markdown(), args.long_delay_ms, args.long_runs))
                for reply, text, delay, runs in plans:
                    if not runs:
                        continue
                    bench.run_panel(text, delay)  # warm-up, discarded
                    bench.run_baseline(text, delay)
                    for client in ("panel", "baseline"):
                        results[f"{reply}/{client}"] = {"runs": []}
                    for i in range(runs):
                        for client, run in (("panel", bench.run_panel), ("baseline", bench.run_baseline)):
                            figures = run(text, delay)
                            results[f"{reply}/{client}"]["runs"].append(figures)
                            tasks = list(zip(figures["longtask_at_ms"], figures["longtask_durations_ms"],
                                             strict=True))
                            print(f"{reply} {client} run {i + 1}: first {figures['first_ms']:.0f} ms, "
                                  f"last {figures['last_ms']:.0f} ms, final {figures['final_ms']:.0f} ms, "
                                  f"long tasks (at, ms) {tasks}", file=sys.stderr)
            finally:
                bench.close()
    finally:
        web.close()
    meta["load_end"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    for value in results.values():
        value["summary"] = summarize(value["runs"])
    print(report(results, meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
