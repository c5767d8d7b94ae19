// Boot Pyodide inside the service worker and hand control to py/background.
//
// Service workers forbid dynamic import(), so both Pyodide modules are imported
// statically and createPyodideModule is passed to loadPyodide. Every phase is
// timed (ms since the worker started) and the whole boot races a timeout: a CSP
// mistake makes loadPyodide wait forever without an error.

import { loadPyodide } from "./vendor/pyodide/pyodide.mjs";
import createPyodideModule from "./vendor/pyodide/pyodide.asm.mjs";

export const BOOT_TIMEOUT_MS = 30000;

// Shared with tests (worker.evaluate("sidepyBoot")) and with Python (host.boot).
export const bootState = {
  started_at: Math.round(performance.timeOrigin), // epoch ms: identifies this worker instance
  state: "idle", // idle | starting | ready | failed
  phases: [], // [name, ms since worker start]
  error: null,
  python: null,
};
globalThis.sidepyBoot = bootState;

function mark(name) {
  bootState.phases.push([name, Math.round(performance.now() * 10) / 10]);
}

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function fetchBytes(path) {
  const response = await fetch(chrome.runtime.getURL(path));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function boot(host) {
  bootState.state = "starting";
  mark("start");
  const [info, siteZip, pyodide] = await Promise.all([
    fetchBytes("build-info.json").then((b) => JSON.parse(new TextDecoder().decode(b))),
    fetchBytes("python/site.zip"),
    loadPyodide({
      indexURL: chrome.runtime.getURL("vendor/pyodide/"),
      createPyodideModule,
      stdout: (line) => console.log("[py]", line),
      stderr: (line) => console.warn("[py]", line),
    }),
  ]);
  mark("runtime");
  pyodide.unpackArchive(siteZip, "zip", { extractDir: info.site_packages });
  mark("packages");
  const mainModule = pyodide.pyimport("background.main");
  mark("import");
  bootState.python = pyodide.runPython("import sys; sys.version.split()[0]");
  const app = mainModule.main(host, info.version);
  mark("ready");
  bootState.state = "ready";
  return app;
}

let booting = null;

// One flight: the first caller starts the boot, everyone else awaits the same
// promise. A failed boot is retried by the next event rather than left broken.
export function bootPython(host) {
  if (booting === null) {
    booting = withTimeout(
      boot(host),
      BOOT_TIMEOUT_MS,
      `Python did not start within ${BOOT_TIMEOUT_MS / 1000} s (is 'wasm-unsafe-eval' in the ` +
        "manifest's extension_pages CSP? loadPyodide hangs silently without it)",
    ).catch((error) => {
      bootState.state = "failed";
      bootState.error = String(error?.message ?? error);
      mark("failed");
      console.error("SidePy: Python failed to start:", error);
      booting = null;
      throw error;
    });
  }
  return booting;
}
