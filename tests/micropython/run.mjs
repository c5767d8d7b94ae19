// Run the panel's unit tests inside MicroPython (WebAssembly) under Node: the same
// build the extension ships to the side panel (its MicroPython build).
//
//   node tests/micropython/run.mjs [TEST_FILE[::TEST_NAME]...]   (default: tests/unit/panel/test_*.py)
//
// This MicroPython build only has MEMFS (no NODEFS), so the files are copied in:
// py/panel/**.py, each test file's folder (*.py, for helper modules) and runner.py,
// under /repo with the checkout's layout. Python then runs with /repo as its working
// folder, so tracebacks name files as pytest does ("tests/unit/panel/test_state.py").
// tests/micropython/runner.py does the collecting, running and reporting.

import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ROOT = "/repo"; // the checkout's place inside MicroPython's filesystem

// Test arguments as repo-relative POSIX paths, "::name" suffix kept.
function relArg(arg) {
  const [file, ...rest] = arg.split("::");
  const rel = path.relative(repo, path.resolve(file)).split(path.sep).join("/");
  if (rel.startsWith("../")) throw new Error(`${arg} is outside the repository`);
  return [rel, ...rest].join("::");
}
let tests = process.argv.slice(2).map(relArg);
if (tests.length === 0) {
  const dir = "tests/unit/panel";
  tests = readdirSync(path.join(repo, dir))
    .filter((f) => /^test_.*\.py$/.test(f))
    .sort()
    .map((f) => `${dir}/${f}`);
}

const t0 = performance.now();
const mp = await loadMicroPython({
  // Same heap and Python stack as in the panel: panel-boot.js passes no sizes, so these
  // are loadMicroPython's defaults (1 MiB heap, 2048-slot pystack), spelled out.
  heapsize: 1024 * 1024,
  pystack: 2048,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

// Copy repo-relative `rel` (a .py file, or a folder: its .py files, recursively).
function copyIn(rel) {
  const src = path.join(repo, rel);
  if (statSync(src).isDirectory()) {
    for (const name of readdirSync(src).sort()) {
      const child = `${rel}/${name}`;
      if (name === "__pycache__") continue;
      if (name.endsWith(".py") || statSync(path.join(repo, child)).isDirectory()) copyIn(child);
    }
    return;
  }
  mp.FS.mkdirTree(path.posix.dirname(`${ROOT}/${rel}`));
  mp.FS.writeFile(`${ROOT}/${rel}`, readFileSync(src));
}
copyIn("py/panel");
copyIn("tests/micropython/runner.py");
for (const folder of new Set(tests.map((t) => path.posix.dirname(t.split("::")[0])))) {
  for (const name of readdirSync(path.join(repo, folder))) {
    if (name.endsWith(".py")) copyIn(`${folder}/${name}`);
  }
}

mp.runPython(`
import os, sys
os.chdir("${ROOT}")
sys.path[:0] = ["py", "tests/micropython"]
print("%s %s (wasm) on Node ${process.version}, ready in ${Math.round(performance.now() - t0)} ms"
      % (sys.implementation.name, ".".join(str(v) for v in sys.implementation.version[:3])))
`);

let code;
try {
  code = mp.pyimport("runner").main(tests);
} catch (err) {
  // The runner itself broke (tests' own exceptions are caught inside it).
  console.error(`tests/micropython/run.mjs: runner crashed:\n${err.message ?? err}`);
  code = 3;
}
console.log(`total ${((performance.now() - t0) / 1000).toFixed(2)} s (load + copy + tests)`);
process.exit(code);
