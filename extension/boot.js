// Boot Pyodide inside the service worker and hand control to py/background.
//
// Chrome stops an idle worker after 30 s and every wake starts Python again, so
// the app always runs in a Python restored from a memory snapshot that already
// imported what the first message needs (py/background/preload.py):
//
//   snapshot  start, snapshot-read, module, heap, runtime, ready
//     The snapshot stored in IndexedDB passes the checks of snapshot/rules.js.
//     A fresh Pyodide is instantiated (module); pydantic_core's .so is replayed
//     at its recorded bases (snapshot/dylibs.js) and the heap copied in (heap);
//     Pyodide finishes its bootstrap (runtime); main() binds the JS bridges.
//   cold      start, [rejected], python, packages, import, snapshot, module, heap, runtime, ready
//     No usable snapshot (none, stale, corrupt, or restoring it threw); one log
//     line says why. A _makeSnapshot Pyodide boots (python), site-packages are
//     written (packages), preload.load() runs (import) and the heap is
//     snapshotted (snapshot). That instance only makes snapshots: it sees
//     globalThis through a recording Proxy, which breaks accessors such as
//     `crypto` ("Illegal invocation"). So it is dropped and the new snapshot is
//     restored from memory as above, which also proves it restores; it is saved
//     to IndexedDB once the app is up, never before "ready".
//   plain     start, ..., runtime, packages, import, ready
//     The new snapshot could not be made or restored: a plain Pyodide boots
//     (mode "cold", save "failed: ..."), so the worker still works.
//
// Service workers forbid dynamic import(), so both Pyodide modules are imported
// statically and createPyodideModule is passed to loadPyodide. Every phase is
// timed (ms since the worker started) and the whole boot races a timeout: a CSP
// mistake makes loadPyodide wait forever without an error.

import { loadPyodide } from "./vendor/pyodide/pyodide.mjs";
import createPyodideModule from "./vendor/pyodide/pyodide.asm.mjs";
import { readBundle, writeBundle } from "./snapshot/bundle.js";
import { recordDylibs, replayDylibs } from "./snapshot/dylibs.js";
import { dataRuns, packImage, unpackImage } from "./snapshot/image.js";
import { FORMAT, blobsReason, keyOf, rejectReason, splitPyodideSnapshot } from "./snapshot/rules.js";
import * as store from "./snapshot/store.js";

export const BOOT_TIMEOUT_MS = 30000;

// Shared with tests (worker.evaluate("sidepyBoot")) and with Python (host.boot).
export const bootState = {
  started_at: Math.round(performance.timeOrigin), // epoch ms: identifies this worker instance
  state: "idle", // idle | starting | ready | failed
  mode: null, // snapshot | cold
  rejected: null, // cold: why the stored snapshot was not used ("none stored", ...)
  save: null, // cold: the new snapshot is saving | saved | failed: <reason>
  phases: [], // [name, ms since worker start]
  error: null,
  python: null,
};
globalThis.sidepyBoot = bootState;

function mark(name) {
  bootState.phases.push([name, Math.round(performance.now() * 10) / 10]);
}

const message = (error) => String(error?.message ?? error);

function withTimeout(promise, ms, text) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(text)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function fetchBytes(path) {
  const response = await fetch(chrome.runtime.getURL(path));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const pyodideOptions = () => ({
  indexURL: chrome.runtime.getURL("vendor/pyodide/"),
  createPyodideModule,
  stdout: (line) => console.log("[py]", line),
  stderr: (line) => console.warn("[py]", line),
});

// ---------------------------------------------------------------------- restoring

// A fresh Pyodide from a snapshot: `meta`, the heap `image` holding the byte
// ranges `runs` (zeros between them), and `bundle` (site-packages).
async function restore({ meta, image, runs, bundle }, info) {
  const files = readBundle(bundle);
  // Compile the shared libraries while Pyodide's own wasm compiles.
  const root = `${info.site_packages}/`;
  const compile = (lib) => WebAssembly.compile(files.files.get(lib.name.slice(root.length)));
  const libs = new Map(meta.dylibs.libs.map((lib) => [lib.name, compile(lib)]));
  for (const compiling of libs.values()) compiling.catch(() => {}); // awaited by replayDylibs
  const pyodide = await loadPyodide({
    ...pyodideOptions(),
    // Pyodide's own header only (build id, JS reference table): the heap is
    // copied in by the hook below, after the shared libraries are back.
    _loadSnapshot: meta.header,
    createPyodideModule: async (settings) => {
      const M = await createPyodideModule(settings);
      mark("module");
      writeBundle(M.FS, info.site_packages, files); // the FS is not in the heap
      await replayDylibs(M, meta.dylibs, (name) => libs.get(name));
      unpackImage(M.HEAP8, image, runs);
      mark("heap");
      return M;
    },
  });
  mark("runtime");
  return pyodide;
}

// A restore that hangs or kills the worker must not be retried on every wake:
// chrome.storage.session (kept across worker restarts, gone with the browser)
// holds the snapshot's created_at from the attempt until the app is up.
const RESTORING = "sidepy.snapshot.restoring";

// The stored snapshot restored, or null and the reason it could not be used.
async function restoreStored(info) {
  try {
    // One transaction; the Blobs' bytes are only read once meta has passed.
    const [{ meta, image, bundle }, session] = await Promise.all([
      store.read(),
      chrome.storage.session.get(RESTORING),
    ]);
    const reason = rejectReason(meta, await info, session[RESTORING]);
    if (reason !== null) return { pyodide: null, reason };
    const attempt = chrome.storage.session.set({ [RESTORING]: meta.created_at });
    const bad = blobsReason(meta, image, bundle);
    if (bad) return { pyodide: null, reason: bad };
    const [packed, bundleBytes] = await Promise.all([image.arrayBuffer(), bundle.arrayBuffer(), attempt]);
    mark("snapshot-read");
    const snapshot = { meta, image: new Uint8Array(packed), runs: meta.image_runs };
    snapshot.bundle = new Uint8Array(bundleBytes);
    return { pyodide: await restore(snapshot, await info), reason: null };
  } catch (error) {
    mark("rejected");
    return { pyodide: null, reason: `restore failed: ${message(error)}` };
  }
}

// ---------------------------------------------------------------------- cold boot

// Boot Pyodide, write site-packages and import what the first message needs.
async function bootAndImport(info, bundle, options) {
  const pyodide = await loadPyodide({ ...pyodideOptions(), ...options });
  mark(options._makeSnapshot ? "python" : "runtime");
  // Only now: files present while a _makeSnapshot instance boots leave a JS
  // reference behind that makeMemorySnapshot refuses ("Unexpected hiwire entry").
  writeBundle(pyodide.FS, info.site_packages, readBundle(await bundle));
  pyodide.runPython("import importlib; importlib.invalidate_caches()");
  mark("packages");
  pyodide.runPython("from background.preload import load; load(); del load");
  mark("import");
  return pyodide;
}

// Must run before main() hands any JS object to Python: the snapshot can only
// name JS objects by their path from globalThis.
function takeSnapshot(pyodide, info, bundle) {
  const root = `${info.site_packages}/`;
  const dylibs = recordDylibs(pyodide._module, (name) => {
    const sha256 = name.startsWith(root) ? info.dylibs[name.slice(root.length)] : undefined;
    if (!sha256) throw new Error(`${name} is not in build-info.json`);
    return sha256;
  });
  const { header, image } = splitPyodideSnapshot(pyodide.makeMemorySnapshot());
  const meta = {
    format: FORMAT,
    key: keyOf(info),
    created_at: Date.now(),
    header,
    image_bytes: image.byteLength,
    bundle_bytes: bundle.byteLength,
    dylibs,
  };
  return { meta, image, runs: [[0, image.byteLength]], bundle };
}

// Make a snapshot and restore it; fall back to a plain boot if either fails.
async function coldBoot(info) {
  const bundle = fetchBytes("python/site.pyfb"); // while Pyodide boots
  bundle.catch(() => {}); // awaited in bootAndImport
  try {
    const maker = await bootAndImport(info, bundle, { _makeSnapshot: true });
    const snapshot = takeSnapshot(maker, info, await bundle);
    mark("snapshot");
    return { pyodide: await restore(snapshot, info), snapshot };
  } catch (error) {
    bootState.save = `failed: ${message(error)}`;
    console.warn(`SidePy: no snapshot (${message(error)}); plain boot, the next wake boots cold again`);
    return { pyodide: await bootAndImport(info, bundle, {}), snapshot: null };
  }
}

function saveSnapshot({ meta, image, bundle }) {
  bootState.save = "saving";
  const t0 = performance.now();
  const runs = dataRuns(image); // ~10 ms, after "ready"
  const packed = packImage(image, runs);
  store.save({ ...meta, image_runs: runs }, { image: packed, bundle: new Blob([bundle]) }).then(
    () => {
      bootState.save = "saved";
      const mb = (packed.size / 1e6).toFixed(1);
      console.info(`SidePy: snapshot saved (${mb} MB, ${Math.round(performance.now() - t0)} ms)`);
    },
    (error) => {
      bootState.save = `failed: ${message(error)}`;
      console.warn(`SidePy: snapshot not saved (${message(error)}); the next wake boots cold again`);
    },
  );
}

// --------------------------------------------------------------------------- boot

async function boot(host) {
  bootState.state = "starting";
  mark("start");
  const info = fetchBytes("build-info.json").then((b) => JSON.parse(new TextDecoder().decode(b)));
  info.catch(() => {}); // awaited below
  let { pyodide, reason } = await restoreStored(info);
  let snapshot = null;
  if (pyodide) {
    bootState.mode = "snapshot";
  } else {
    chrome.storage.session.remove(RESTORING).catch(() => {});
    bootState.mode = "cold";
    bootState.rejected = reason;
    if (reason === "none stored") {
      console.info("SidePy: no stored snapshot; cold boot");
    } else {
      console.warn(`SidePy: snapshot rejected (${reason}); cold boot`);
      store.clear().catch(() => {}); // never try it again, even if no new one gets saved
    }
    ({ pyodide, snapshot } = await coldBoot(await info));
  }
  // A fatal error (a C stack overflow, say) leaves this Python dead for good and every
  // later call throws. Forget it at once, so the next event boots a fresh one rather
  // than talking to a dead interpreter while a panel's heartbeat keeps the worker alive.
  let reject;
  fatal = { promise: new Promise((_, r) => (reject = r)) };
  fatal.reject = reject;
  fatal.promise.catch(() => {}); // awaited by the calls in flight, if any
  pyodide._api.on_fatal = (error) => forgetAfterFatal(error);
  bootState.python = pyodide.runPython("import sys; sys.version.split()[0]");
  // main() binds the JS bridges (host, chrome.*): in a restored Python, this is
  // where it meets this worker's JS objects for the first time.
  const app = pyodide.pyimport("background.main").main(host, (await info).version);
  mark("ready");
  bootState.state = "ready";
  if (bootState.mode === "snapshot") chrome.storage.session.remove(RESTORING).catch(() => {});
  // Saving starts after the messages that waited for the boot have their app.
  if (snapshot) setTimeout(() => saveSnapshot(snapshot), 0);
  return app;
}

let booting = null;
let fatal = null; // the Python in use dies: {promise, reject}

// `promise` (a call into Python), or a rejection if that Python dies first: a call
// cut short by a fatal error would otherwise never settle.
export function untilFatal(promise) {
  return fatal ? Promise.race([promise, fatal.promise]) : promise;
}

function forgetAfterFatal(error) {
  fatal?.reject(new Error(`Python stopped after a fatal error: ${message(error)}`));
  fatal = null;
  booting = null;
  bootState.state = "failed";
  bootState.error = `Python stopped after a fatal error (${message(error)}); the next event starts it again`;
  mark("fatal");
  console.error("SidePy: Python suffered a fatal error; it will be started again:", error);
}

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
      bootState.error = message(error);
      mark("failed");
      console.error("SidePy: Python failed to start:", error);
      booting = null;
      throw error;
    });
  }
  return booting;
}
