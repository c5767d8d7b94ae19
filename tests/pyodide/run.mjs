// Run the unit suite inside Pyodide (Python 3.14, WebAssembly) under Node.
//
//   node tests/pyodide/run.mjs WHEEL... -- PYTEST_ARGS...
//
// The checkout is mounted at the same path inside Pyodide, so the tests find py/
// and tests/ (the corpus included) exactly where CPython finds them.
// Wheels (pytest, hypothesis, pydantic, ...) are unpacked into site-packages;
// tests/pyodide/run.py fetches and hash-checks them first.

import { loadPyodide } from "pyodide";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const sep = process.argv.indexOf("--");
const wheels = process.argv.slice(2, sep === -1 ? undefined : sep);
const pytestArgs = sep === -1 ? ["tests/unit"] : process.argv.slice(sep + 1);

const t0 = performance.now();
// -B: no 3.14 .pyc files in the checkout.
const pyodide = await loadPyodide({ args: ["-B"] });
const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
for (const wheel of wheels) {
  pyodide.unpackArchive(new Uint8Array(readFileSync(wheel)), "zip", { extractDir: sitePackages });
}
// Mount the checkout at its own path.
pyodide.FS.mkdirTree(repo);
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: repo }, repo);
console.log(`pyodide ${pyodide.version} ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

pyodide.globals.set("REPO", repo);
pyodide.globals.set("PYTEST_ARGS", pyodide.toPy(pytestArgs));
const code = pyodide.runPython(`
import os, sys
os.chdir(REPO)
sys.path[:0] = [REPO + "/py", REPO]
import pytest
int(pytest.main(["-p", "no:cacheprovider", *PYTEST_ARGS]))
`);
process.exit(code);
