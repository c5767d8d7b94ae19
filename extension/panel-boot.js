// Starts a sandboxed page's Python: MicroPython (WebAssembly) running the panel's
// modules, compiled to bytecode at build time and shipped as one file bundle
// (python/panel.pyfb, the worker's PYFB format). The page names its entry module on
// <html data-python="panel.main">. A failure to start is shown in the page.
import { loadMicroPython } from "./vendor/micropython/micropython.mjs";
import { readBundle, writeBundle } from "./snapshot/bundle.js";

const LIB = "/lib";
// Loaded async, so MicroPython compiles while the page is parsed; Python itself needs the
// whole page and its deferred scripts (marked, DOMPurify), which DOMContentLoaded means.
const parsed = document.readyState === "loading"
  ? new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve, { once: true }))
  : Promise.resolve();
const entry = document.documentElement.dataset.python;
const mark = (name) => performance.mark(`sidepy:${name}`);

async function start() {
  mark("boot");
  const bundle = fetch("python/panel.pyfb").then((r) => r.arrayBuffer());
  const mp = await loadMicroPython({
    url: "vendor/micropython/micropython.wasm",
    stdout: (line) => console.log(line),
    stderr: (line) => console.error(line),
  });
  mark("micropython");
  mp.FS.mkdir(LIB);
  writeBundle(mp.FS, LIB, readBundle(new Uint8Array(await bundle)));
  mark("modules");
  await parsed;
  mp.runPython(`import sys\nsys.path.insert(0, "${LIB}")\nimport ${entry}`);
  mark("ready");
}

start().catch((error) => {
  console.error(error);
  const box = document.createElement("p");
  box.className = "boot-error";
  box.textContent = `SidePy could not start its Python: ${error?.message ?? error}`;
  document.body.prepend(box);
  window.parent.postMessage("ui.failed", "*"); // the page's placeholder gives way to this
});
