"""Benchmark: bytes -> SSE -> ``ResponseEvent`` speed, on CPython and in the worker, with baselines.

    .venv/bin/python bench/sse.py [--events 100000] [--chunk 16384] [--repeat 5] [--json out.json]
                                  [--no-build] [--no-browser]

One run measures the same bytes (``background.dev.diag.sample_stream``: a Responses
stream of ``--events`` SSE events, mostly ``response.output_text.delta``, ~244 B
each) fed in ``--chunk``-byte pieces, best of ``--repeat`` runs:

* CPython (this interpreter): ours, ``SSEDecoder`` alone and ``SSEDecoder`` +
  ``ResponseStreamParser``; the ``openai`` SDK's ``SSEDecoder.iter_bytes``
  (decoding only, the fair baseline), and the SDK's decoding + ``sse.json()``.
* Pyodide in the extension's service worker, in Debian's Chromium (headless):
  the same two of ours, through the ``diag.bench_sse`` message (the code times
  itself with ``time.perf_counter``; see py/background/dev/diag.py).
* JavaScript in the same worker: the npm ``eventsource-parser`` behind a
  streaming ``TextDecoder``, alone and + ``JSON.parse`` of each event's data,
  timed with ``performance.now()``. It must not ship, so the browser loads a
  temporary copy of dist-dev/ whose service worker is ``bench-worker.js``: it
  imports the real ``background.js`` and a vendored copy of the parser. The JS
  side fetches its bytes from a loopback server; the SHA-256 of every side's
  input is compared.
* Memory over the stream: ``tracemalloc`` during one decoder+parser run
  (CPython and Pyodide) sampled every tenth of the stream, and the size of
  Pyodide's WebAssembly heap before and after.

dist-dev/ (the developer build: ``diag.bench_sse``) is rebuilt first (``build.py --dev``;
incremental) unless ``--no-build``.
Figures are measurements of this machine at this moment; nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Worker, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "py")]

from background.dev.diag import sample_stream, sse_memory, time_sse  # noqa: E402
from tests.e2e.conftest import CHROMIUM, DIST, chromium_args  # noqa: E402

PARSER_PACKAGE = REPO / "node_modules" / "eventsource-parser"
BOOT_TIMEOUT_S = 60.0

# The bench-only service worker: the product's worker plus a timing function for
# eventsource-parser that bench/sse.py calls with Playwright's worker.evaluate().
# Service workers forbid dynamic import(), hence the static imports.
BENCH_WORKER_JS = """\
// Written by bench/sse.py into a temporary copy of dist-dev/; never shipped.
import "./background.js";
import { createParser } from "./vendor/eventsource-parser/index.js";

function run(chunks, parseJson) {
  let count = 0;
  const onEvent = parseJson ? (e) => { JSON.parse(e.data); count++; } : () => { count++; };
  const started = performance.now();
  const decoder = new TextDecoder();
  const parser = createParser({ onEvent });
  for (const chunk of chunks) parser.feed(decoder.decode(chunk, { stream: true }));
  parser.feed(decoder.decode());
  return [performance.now() - started, count];
}

globalThis.sidepyBenchSSE = async ({ url, chunk, repeat }) => {
  const response = await fetch(url);
  const body = new Uint8Array(await response.arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  const chunks = [];
  for (let i = 0; i < body.length; i += chunk) chunks.push(body.subarray(i, i + chunk));
  const out = {
    bytes: body.length,
    chunks: chunks.length,
    sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
    user_agent: navigator.userAgent,
    parser_ms: [],
    json_ms: [],
  };
  for (let i = 0; i < repeat; i++) {
    const [ms, n] = run(chunks, false);
    out.parser_ms.push(ms);
    out.events = n;
  }
  for (let i = 0; i < repeat; i++) out.json_ms.push(run(chunks, true)[0]);
  return out;
};
"""


# ------------------------------------------------------------------------- CPython


def openai_sdk_run(chunks: list[bytes], *, parse_json: bool) -> tuple[float, int]:
    """The openai SDK's SSE decoding (what ``Stream`` runs) over the same chunks."""
    import gc

    from openai._streaming import SSEDecoder as SdkDecoder

    gc.collect()
    count = 0
    started = time.perf_counter()
    for sse in SdkDecoder().iter_bytes(iter(chunks)):
        if parse_json:
            sse.json()
        count += 1
    return time.perf_counter() - started, count


def measure_cpython(chunks: list[bytes], events: int, repeat: int) -> dict[str, Any]:
    runs: dict[str, list[tuple[float, int]]] = {
        "ours_decoder": [time_sse(chunks, parse=False) for _ in range(repeat)],
        "ours_parser": [time_sse(chunks, parse=True) for _ in range(repeat)],
        "openai_decoder": [openai_sdk_run(chunks, parse_json=False) for _ in range(repeat)],
        "openai_json": [openai_sdk_run(chunks, parse_json=True) for _ in range(repeat)],
    }
    return {
        "seconds": {name: [s for s, _ in r] for name, r in runs.items()},
        "events_out": {name: r[0][1] for name, r in runs.items()},
        "memory": sse_memory(chunks, every=max(1, events // 10)),
    }


# ------------------------------------------------------------------------- browser


@contextmanager
def serve(body: bytes) -> Iterator[str]:
    """Serve ``body`` at http://127.0.0.1:PORT/stream.sse while the block runs."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stream.sse"
    finally:
        server.shutdown()
        server.server_close()


def bench_extension() -> Path:
    """A temporary copy of dist-dev/ whose worker also exposes ``sidepyBenchSSE``."""
    out = Path(tempfile.mkdtemp(prefix="sidepy-bench-sse-ext-")) / "ext"
    shutil.copytree(DIST, out)
    vendor = out / "vendor" / "eventsource-parser"
    vendor.mkdir(parents=True)
    shutil.copy2(PARSER_PACKAGE / "dist" / "index.js", vendor / "index.js")
    (out / "bench-worker.js").write_text(BENCH_WORKER_JS)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["background"]["service_worker"] = "bench-worker.js"
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def wait_booted(worker: Worker) -> dict[str, Any]:
    """Wait for Python to be ready and a cold boot's snapshot save to settle."""
    state = worker.evaluate(
        """async (deadline) => {
            const t0 = Date.now();
            while (Date.now() - t0 < deadline) {
                const b = globalThis.sidepyBoot;
                if (b && b.state === "failed") break;
                if (b && b.state === "ready" && b.save !== "saving") break;
                await new Promise(r => setTimeout(r, 50));
            }
            return JSON.stringify(globalThis.sidepyBoot ?? null);
        }""",
        BOOT_TIMEOUT_S * 1000,
    )
    boot = json.loads(state) or {}
    if boot.get("state") != "ready":
        raise SystemExit(f"bench/sse.py: Python did not boot in the worker: {boot}")
    return boot


def measure_worker(url: str, events: int, chunk: int, repeat: int) -> dict[str, Any]:
    ext = bench_extension()
    profile = Path(tempfile.mkdtemp(prefix="sidepy-bench-sse-profile-"))
    try:
        with sync_playwright() as pw:
            context: BrowserContext = pw.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=True, args=chromium_args(ext)
            )
            try:
                workers = context.service_workers
                worker = workers[0] if workers else context.wait_for_event("serviceworker")
                boot = wait_booted(worker)
                page = context.new_page()
                page.goto(f"chrome-extension://{worker.url.split('/')[2]}/dev.html")
                message = {"type": "diag.bench_sse", "id": 1, "events": events, "chunk": chunk,
                           "repeat": repeat, "memory": True}
                reply = json.loads(
                    page.evaluate("(m) => chrome.runtime.sendMessage(JSON.stringify(m))", message)
                )
                if reply.get("type") != "diag.bench_sse.done":
                    raise SystemExit(f"bench/sse.py: diag.bench_sse failed in the worker: {reply}")
                js = worker.evaluate(
                    "(o) => sidepyBenchSSE(o)", {"url": url, "chunk": chunk, "repeat": repeat}
                )
            finally:
                context.close()
    finally:
        shutil.rmtree(ext.parent, ignore_errors=True)
        shutil.rmtree(profile, ignore_errors=True)
    return {"boot": {k: boot.get(k) for k in ("mode", "save", "python")}, "pyodide": reply, "js": js}


# -------------------------------------------------------------------------- report


def chromium_version() -> str:
    try:
        out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return "not found"
    return out.strip().splitlines()[0] if out.strip() else "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def source_state() -> str:
    """The commit measured, and whether the measured packages had local changes."""
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "py/modelclient", "py/background")
    return f"{head} + local changes in py/" if dirty else head


def environment(worker: dict[str, Any] | None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "source": source_state(),
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "os": platform.platform(),
        "cpython": platform.python_version(),
        "openai": dist_version("openai"),
        "eventsource_parser": json.loads((PARSER_PACKAGE / "package.json").read_text())["version"],
    }
    if worker is not None:
        reply = worker["pyodide"]
        env |= {
            "pyodide": reply.get("pyodide"),
            "pyodide_python": reply.get("python"),
            "chromium": chromium_version(),
            "user_agent": worker["js"].get("user_agent"),
            "worker_boot": worker["boot"].get("mode"),
        }
    return env


Row = dict[str, Any]


def row(runtime: str, impl: str, work: str, seconds: list[float], events: int, size: int) -> Row:
    best, median = min(seconds), statistics.median(seconds)
    return {
        "runtime": runtime,
        "implementation": impl,
        "work": work,
        "us_per_event": best / events * 1e6,
        "us_per_event_median": median / events * 1e6,
        "events_per_s": events / best,
        "mb_per_s": size / best / 1e6,
    }


def rows(cpython: dict[str, Any], worker: dict[str, Any] | None, events: int, size: int) -> list[Row]:
    py = f"CPython {platform.python_version()}"
    s = cpython["seconds"]
    out = [
        row(py, "ours: SSEDecoder", "bytes → SSE", s["ours_decoder"], events, size),
        row(py, "ours: SSEDecoder + ResponseStreamParser", "bytes → ResponseEvent", s["ours_parser"],
            events, size),
        row(py, f"openai {dist_version('openai')} SSEDecoder.iter_bytes", "bytes → SSE",
            s["openai_decoder"], events, size),
        row(py, "openai SSEDecoder + sse.json()", "bytes → dict", s["openai_json"], events, size),
    ]
    if worker is not None:
        reply, js = worker["pyodide"], worker["js"]
        pyo = f"Pyodide {reply['pyodide']} (worker)"
        jsr = "JS (same worker)"
        parser = f"eventsource-parser {environment(None)['eventsource_parser']}"
        out += [
            row(pyo, "ours: SSEDecoder", "bytes → SSE", reply["decoder_s"], events, size),
            row(pyo, "ours: SSEDecoder + ResponseStreamParser", "bytes → ResponseEvent", reply["parser_s"],
                events, size),
            row(jsr, f"TextDecoder + {parser}", "bytes → event", [ms / 1000 for ms in js["parser_ms"]],
                events, size),
            row(jsr, f"TextDecoder + {parser} + JSON.parse", "bytes → object",
                [ms / 1000 for ms in js["json_ms"]], events, size),
        ]
    return out


def table(result_rows: list[Row]) -> str:
    lines = [
        "| runtime | implementation | work | µs/event (best) | µs/event (median) | events/s | MB/s |",
        "|---|---|---|--:|--:|--:|--:|",
    ]
    for r in result_rows:
        lines.append(
            f"| {r['runtime']} | {r['implementation']} | {r['work']} | {r['us_per_event']:.2f} "
            f"| {r['us_per_event_median']:.2f} | {r['events_per_s']:,.0f} | {r['mb_per_s']:.1f} |"
        )
    return "\n".join(lines)


def kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def memory_lines(name: str, memory: dict[str, Any]) -> list[str]:
    samples = memory["samples"]
    first, last = samples[0], samples[-1]
    held = [b for _, b in samples]
    return [
        f"{name}: tracemalloc over {memory['events']:,} events, sampled every {memory['every']:,}: "
        f"held {kib(first[1])} after {first[0]:,} events, {kib(last[1])} after {last[0]:,} "
        f"(min {kib(min(held))}, max {kib(max(held))}); "
        f"peak {kib(memory['peak_first'])} in the first {first[0]:,}, {kib(memory['peak_rest'])} after",
    ]


def report(result: dict[str, Any]) -> str:
    env = result["environment"]
    events, size, chunk = result["events"], result["bytes"], result["chunk"]
    lines = [
        f"SSE parsing: {events:,} events, {size / 1e6:.1f} MB, {chunk:,} B chunks "
        f"({result['chunks']:,} feeds), best of {result['repeat']}",
        "",
        table(result["rows"]),
        "",
        "Memory (decoder + parser, input bytes excluded):",
    ]
    lines += memory_lines(f"- CPython {env['cpython']}", result["cpython"]["memory"])
    worker = result.get("worker")
    if worker is not None:
        reply = worker["pyodide"]
        lines += memory_lines(f"- Pyodide {reply['pyodide']}", reply["memory"])
        heap = ", ".join(f"{stage} {size / 2**20:.0f} MiB" for stage, size in reply["wasm_heap"])
        lines.append(f"- Pyodide WebAssembly heap: {heap}")
        same = {reply["sha256"], worker["js"]["sha256"], result["sha256"]}
        lines.append(f"- input SHA-256 identical on all three sides: {'yes' if len(same) == 1 else 'NO'}")
    lines += ["", "Environment: " + "; ".join(f"{k}: {v}" for k, v in env.items())]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main


def build_dist() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "build.py"), "--dev"], cwd=REPO, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench/sse.py: build.py failed:\n{proc.stdout}{proc.stderr}")
    bundle = DIST / "python" / "site.pyfb"
    if b"diag.bench_sse" not in bundle.read_bytes():
        raise SystemExit("bench/sse.py: dist-dev/ has no diag.bench_sse handler: rebuild with build.py --dev")


def step(what: str) -> None:
    print(f"... {what}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=100_000, help="SSE events in the stream (default 100000)")
    ap.add_argument("--chunk", type=int, default=16_384, help="bytes per feed (default 16384)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs of each kind; best is reported")
    ap.add_argument("--json", type=Path, help="also write every measurement to this file")
    ap.add_argument("--no-build", action="store_true", help="use dist-dev/ as it is")
    ap.add_argument("--no-browser", action="store_true", help="CPython only")
    args = ap.parse_args(argv)

    body = sample_stream(args.events)
    chunks = [body[i : i + args.chunk] for i in range(0, len(body), args.chunk)]
    step("CPython")
    cpython = measure_cpython(chunks, args.events, args.repeat)
    worker = None
    if not args.no_browser:
        if not args.no_build:
            step("build.py")
            build_dist()
        step("Chromium worker (Pyodide + eventsource-parser)")
        with serve(body) as url:
            worker = measure_worker(url, args.events, args.chunk, args.repeat)
    result: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "bench/sse.py", *(sys.argv[1:] if argv is None else argv)]),
        "events": args.events,
        "bytes": len(body),
        "chunk": args.chunk,
        "chunks": len(chunks),
        "repeat": args.repeat,
        "sha256": hashlib.sha256(body).hexdigest(),
        "environment": environment(worker),
        "rows": rows(cpython, worker, args.events, len(body)),
        "cpython": cpython,
        "worker": worker,
    }
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
