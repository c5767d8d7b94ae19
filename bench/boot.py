"""Benchmark: how long the service worker takes to wake and answer, in a real Chromium.

    python bench/boot.py [--wakes 10] [--json out.json]

For each extension it forces N worker stops (CDP ``ServiceWorker.stopAllWorkers``)
and wakes the worker with a ping from an extension page, recording:

* wake -> Python ready: the worker's own boot record (ms since the worker started);
* wake -> first pong: wall time from sending the ping to receiving the answer;
* each boot phase (start, runtime, packages, import, ready).

A JavaScript-only worker that answers the same ping is measured beside it as the
floor. Also reported: first install (fresh profile -> ready) and the size of dist/.
Figures are measurements of this machine at this moment; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, sync_playwright

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


def js_only_extension() -> Path:
    out = Path(tempfile.mkdtemp(prefix="sidepy-jsonly-"))
    (out / "manifest.json").write_text(json.dumps(JS_ONLY_MANIFEST))
    (out / "background.js").write_text(JS_ONLY_WORKER)
    (out / "page.html").write_text("<!doctype html><title>page</title>")
    return out


def launch(pw: object, ext: Path) -> tuple[BrowserContext, str, float]:
    profile = tempfile.mkdtemp(prefix="sidepy-bench-")
    t0 = time.perf_counter()
    context = pw.chromium.launch_persistent_context(  # type: ignore[attr-defined]
        profile, executable_path=CHROMIUM, headless=True, args=chromium_args(ext)
    )
    workers = context.service_workers
    worker = workers[0] if workers else context.wait_for_event("serviceworker")
    return context, worker.url.split("/")[2], t0


def ping(page: Page, n: int) -> tuple[float, dict[str, object]]:
    t = page.evaluate(
        """async (n) => {
            const t0 = performance.now();
            const reply = await chrome.runtime.sendMessage(JSON.stringify({type: "ping", id: n}));
            return [performance.now() - t0, reply];
        }""",
        n,
    )
    return float(t[0]), json.loads(t[1])


def phases(reply: dict[str, object]) -> dict[str, float]:
    boot = reply.get("boot") or {}
    return {name: float(ms) for name, ms in boot.get("phases", [])}  # type: ignore[union-attr]


def measure(pw: object, ext: Path, wakes: int, page_path: str) -> dict[str, object]:
    context, ext_id, t0 = launch(pw, ext)
    try:
        page = context.new_page()
        page.goto(f"chrome-extension://{ext_id}/{page_path}")
        _, first = ping(page, 0)
        install_ms = (time.perf_counter() - t0) * 1000
        cdp = context.new_cdp_session(page)
        cdp.send("ServiceWorker.enable")
        rows = []
        for i in range(1, wakes + 1):
            cdp.send("ServiceWorker.stopAllWorkers")
            time.sleep(0.3)
            rtt, reply = ping(page, i)
            rows.append({"pong_ms": rtt, **phases(reply)})
        return {"install_ms": install_ms, "install_phases": phases(first), "wakes": rows}
    finally:
        context.close()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def report(results: dict[str, dict[str, object]], wakes: int) -> str:
    lines = [
        f"Worker wake, {wakes} forced stops each (ms; p50 / p95)",
        "",
        "| worker | wake -> Python ready | wake -> first pong | install -> ready |",
        "|---|---|---|---|",
    ]
    for name, res in results.items():
        rows = res["wakes"]
        ready = [r["ready"] for r in rows]  # type: ignore[index]
        pong = [r["pong_ms"] for r in rows]  # type: ignore[index]
        lines.append(
            f"| {name} | {pct(ready, .5):.0f} / {pct(ready, .95):.0f} "
            f"| {pct(pong, .5):.0f} / {pct(pong, .95):.0f} | {res['install_ms']:.0f} |"
        )
    sidepy = results.get("sidepy")
    if sidepy:
        names = [k for k in sidepy["wakes"][0] if k != "pong_ms"]  # type: ignore[index]
        lines += ["", "SidePy boot phases on wake (ms since the worker started; p50):", ""]
        lines.append("| " + " | ".join(names) + " |")
        lines.append("|" + "---|" * len(names))
        lines.append("| " + " | ".join(
            f"{statistics.median(r[n] for r in sidepy['wakes']):.0f}" for n in names  # type: ignore[index,union-attr]
        ) + " |")
    lines += ["", f"dist/ size: {dir_size(DIST) / 1e6:.1f} MB"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wakes", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not (DIST / "manifest.json").exists():
        print("bench/boot.py: build first (python build.py)", file=sys.stderr)
        return 1
    floor = js_only_extension()
    try:
        with sync_playwright() as pw:
            results = {
                "sidepy": measure(pw, DIST, args.wakes, "build-info.json"),
                "js-only floor": measure(pw, floor, args.wakes, "page.html"),
            }
    finally:
        shutil.rmtree(floor, ignore_errors=True)
    print(report(results, args.wakes))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
