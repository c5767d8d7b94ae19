"""Benchmark: how long the service worker takes to wake and answer, in a real Chromium.

    python bench/boot.py [--wakes 10] [--json out.json]

One run measures, side by side, N forced wakes (CDP ``ServiceWorker.stopAllWorkers``,
then a ping from an extension page; snapshot and cold wakes alternate) of:

* snapshot: SidePy restoring the memory snapshot its first boot stored;
* cold: SidePy with the stored snapshot deleted before each wake (it boots,
  imports, snapshots and restores, as on first install or after an update);
* JS-only floor: a worker that answers the same ping in JavaScript.

For each: wake -> Python ready (the worker's own boot record, ms since the worker
started) and wake -> first pong (wall time from sending the ping to the reply),
p50 / p95, and the p50 of every boot phase. Also: first install (fresh profile ->
first pong), the size of dist-dev/ (the developer build) and of the snapshot (raw and gzip), and how long
reading the snapshot image takes raw vs gzip-inflated (DecompressionStream), read
from an extension page (same origin and storage as the worker).
Figures are measurements of this machine at this moment; nothing is asserted.
"""

from __future__ import annotations

import argparse
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

JS_ONLY_MANIFEST = {
    "manifest_version": 3,
    "name": "js-only floor",
    "version": "1.0",
    "background": {"service_worker": "background.js", "type": "module"},
}
JS_ONLY_WORKER = """
const started = performance.now();
chrome.runtime.onMessage.addListener((text, _s, reply) => {
  const msg = JSON.parse(text);
  reply(JSON.stringify({type: "pong", id: msg.id, boot: {phases: [["ready", started]]}}));
});
"""

# The worker's snapshot store (extension/snapshot/store.js), opened from a page.
OPEN_STORE = """
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open("sidepy-snapshot");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const run = (mode, fn) => new Promise((resolve, reject) => {
    const req = fn(db.transaction("snapshot", mode).objectStore("snapshot"));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
"""
DELETE_SNAPSHOT = f"async () => {{ {OPEN_STORE} await run('readwrite', (s) => s.clear()); db.close(); }}"
# Sizes, and read times of the image as stored (raw Blob) and gzip-compressed.
STORAGE_JS = f"""async (reps) => {{
  {OPEN_STORE}
  const meta = await run("readonly", (s) => s.get("meta"));
  const image = await run("readonly", (s) => s.get("image"));
  const bundle = await run("readonly", (s) => s.get("bundle"));
  const gzip = await new Response(image.stream().pipeThrough(new CompressionStream("gzip"))).blob();
  await run("readwrite", (s) => s.put(gzip, "bench-gzip"));
  const raw = [], inflated = [];
  for (let i = 0; i < reps; i++) {{
    let t = performance.now();
    const a = await (await run("readonly", (s) => s.get("image"))).arrayBuffer();
    raw.push(performance.now() - t);
    t = performance.now();
    const z = await run("readonly", (s) => s.get("bench-gzip"));
    const b = await new Response(z.stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
    inflated.push(performance.now() - t);
    if (a.byteLength !== b.byteLength) throw new Error("gzip round trip changed the size");
  }}
  await run("readwrite", (s) => s.delete("bench-gzip"));
  db.close();
  return {{ heap_bytes: meta.image_bytes, image_bytes: image.size, gzip_bytes: gzip.size,
            bundle_bytes: bundle.size, raw, inflated }};
}}"""


def js_only_extension() -> Path:
    out = Path(tempfile.mkdtemp(prefix="sidepy-jsonly-"))
    (out / "manifest.json").write_text(json.dumps(JS_ONLY_MANIFEST))
    (out / "background.js").write_text(JS_ONLY_WORKER)
    (out / "page.html").write_text("<!doctype html><title>page</title>")
    return out


class Browser:
    """A fresh profile with one extension, a page of it and a CDP session."""

    def __init__(self, pw: Any, ext: Path, page_path: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="sidepy-bench-")
        self.t0 = time.perf_counter()
        self.context: BrowserContext = pw.chromium.launch_persistent_context(
            self.profile, executable_path=CHROMIUM, headless=True, args=chromium_args(ext)
        )
        workers = self.context.service_workers
        worker = workers[0] if workers else self.context.wait_for_event("serviceworker")
        self.page: Page = self.context.new_page()
        self.page.goto(f"chrome-extension://{worker.url.split('/')[2]}/{page_path}")
        self.cdp: CDPSession = self.context.new_cdp_session(self.page)
        self.cdp.send("ServiceWorker.enable")
        self.sent = 0

    def ping(self) -> tuple[float, dict[str, Any]]:
        self.sent += 1
        t = self.page.evaluate(
            """async (n) => {
                const t0 = performance.now();
                const reply = await chrome.runtime.sendMessage(JSON.stringify({type: "ping", id: n}));
                return [performance.now() - t0, reply];
            }""",
            self.sent,
        )
        return float(t[0]), json.loads(t[1])

    def wake(self) -> dict[str, Any]:
        self.cdp.send("ServiceWorker.stopAllWorkers")
        time.sleep(0.3)
        rtt, reply = self.ping()
        boot = reply.get("boot") or {}
        return {"pong_ms": rtt, "mode": boot.get("mode"), "phases": boot.get("phases", [])}

    def wait_saved(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            save = self.ping()[1]["boot"].get("save")
            if save != "saving":
                if save not in ("saved", None):
                    raise RuntimeError(f"the worker did not save its snapshot: {save}")
                return
            time.sleep(0.2)
        raise RuntimeError("the snapshot was still saving after 60 s")

    def close(self) -> None:
        self.context.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def measure_sidepy(pw: Any, wakes: int) -> dict[str, Any]:
    browser = Browser(pw, DIST, "dev.html")
    try:
        _, first = browser.ping()
        install = {"launch_to_pong_ms": (time.perf_counter() - browser.t0) * 1000,
                   "mode": first["boot"]["mode"], "phases": first["boot"]["phases"]}
        version = browser.cdp.send("Browser.getVersion")["product"]
        snapshot, cold = [], []
        for _ in range(wakes):  # alternated, so a busy spell on the machine hits both
            browser.wait_saved()  # the last cold boot's snapshot is stored
            snapshot.append(browser.wake())
            browser.page.evaluate(DELETE_SNAPSHOT)
            cold.append(browser.wake())
        browser.wait_saved()
        storage = browser.page.evaluate(STORAGE_JS, wakes)
        return {"browser": version, "install": install, "snapshot": snapshot, "cold": cold,
                "storage": storage}
    finally:
        browser.close()


def measure_floor(pw: Any, wakes: int) -> dict[str, Any]:
    ext = js_only_extension()
    browser = Browser(pw, ext, "page.html")
    try:
        _, first = browser.ping()
        install = {"launch_to_pong_ms": (time.perf_counter() - browser.t0) * 1000,
                   "phases": first["boot"]["phases"]}
        return {"install": install, "wakes": [browser.wake() for _ in range(wakes)]}
    finally:
        browser.close()
        shutil.rmtree(ext, ignore_errors=True)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def p50_p95(values: list[float]) -> str:
    return f"{pct(values, .5):.0f} / {pct(values, .95):.0f}"


def ready_ms(row: dict[str, Any]) -> float:
    return float(dict(row["phases"])["ready"])


def phase_table(title: str, rows: list[dict[str, Any]]) -> list[str]:
    """p50 of each phase (ms since the worker started), in boot order."""
    names = [name for name, _ in rows[0]["phases"]]
    same = [r for r in rows if [n for n, _ in r["phases"]] == names]
    cells = [f"{statistics.median(dict(r['phases'])[n] for r in same):.0f}" for n in names]
    runs = f"p50 of {len(same)} wakes" if len(same) > 1 else "one boot"
    return [f"{title} ({runs}, ms since the worker started):", "",
            "| " + " | ".join(names) + " |", "|" + "---|" * len(names), "| " + " | ".join(cells) + " |", ""]


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.suffix != ".inputs")


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores ({model}), load average {load}"


def report(side: dict[str, Any], floor: dict[str, Any], wakes: int, started: str, before: str) -> str:
    mb = 1e6
    rows = {"SidePy, snapshot boot": side["snapshot"], "SidePy, cold boot (no snapshot)": side["cold"],
            "JS-only floor": floor["wakes"]}
    modes = {name: sorted({str(r.get("mode") or "-") for r in rs}) for name, rs in rows.items()}
    st = side["storage"]
    install = side["install"]
    lines = [
        f"{started}, {side['browser']}, headless; machine: {before} at the start, "
        f"{machine().split(', load average ')[1]} at the end",
        "",
        f"Worker wakes, {wakes} forced stops each (ms; p50 / p95):",
        "",
        "| worker | wake -> Python ready | wake -> first pong | modes seen |",
        "|---|---|---|---|",
    ]
    for name, rs in rows.items():
        lines.append(f"| {name} | {p50_p95([ready_ms(r) for r in rs])} "
                     f"| {p50_p95([r['pong_ms'] for r in rs])} | {', '.join(modes[name])} |")
    lines += [
        "",
        f"First install (fresh profile, browser launch -> first pong): SidePy "
        f"{install['launch_to_pong_ms']:.0f} ms (worker start -> ready "
        f"{dict(install['phases'])['ready']:.0f} ms, {install['mode']}); "
        f"JS-only floor {floor['install']['launch_to_pong_ms']:.0f} ms",
        "",
        *phase_table("First install phases", [install]),
        *phase_table("Snapshot wake phases", side["snapshot"]),
        *phase_table("Cold wake phases", side["cold"]),
        f"Sizes (MB = 10^6 bytes): dist-dev/ {dir_size(DIST) / mb:.1f} MB (python/site.pyfb "
        f"{(DIST / 'python' / 'site.pyfb').stat().st_size / mb:.1f} MB); snapshot: heap "
        f"{st['heap_bytes'] / mb:.1f} MB, stored without its zero pages {st['image_bytes'] / mb:.1f} MB raw "
        f"({st['gzip_bytes'] / mb:.1f} MB if gzipped) + bundle {st['bundle_bytes'] / mb:.1f} MB",
        f"Reading the heap image from IndexedDB (extension page, {len(st['raw'])} reads, p50 / p95): "
        f"raw Blob {p50_p95(st['raw'])} ms, gzip Blob + DecompressionStream {p50_p95(st['inflated'])} ms",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wakes", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not (DIST / "manifest.json").exists():
        print("bench/boot.py: build first (python build.py --dev)", file=sys.stderr)
        return 1
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    before = machine()
    with sync_playwright() as pw:
        side = measure_sidepy(pw, args.wakes)
        floor = measure_floor(pw, args.wakes)
    print(report(side, floor, args.wakes, started, before))
    if args.json:
        args.json.write_text(json.dumps({"sidepy": side, "floor": floor}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
