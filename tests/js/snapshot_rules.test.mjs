// Unit tests for the snapshot rules the service worker applies before Python
// exists (extension/snapshot/rules.js) and for the site-packages bundle reader
// (extension/snapshot/bundle.js), run with Node's own runner:
//
//   node --test tests/js/
//
// The bundle test packs its input with build.py (python3), so the two sides of
// the PYFB format are checked against each other.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { readBundle, writeBundle } from "../../extension/snapshot/bundle.js";
import {
  PAGE,
  dataRuns,
  packImage,
  packedSize,
  runsReason,
  unpackImage,
} from "../../extension/snapshot/image.js";
import {
  FORMAT,
  PYODIDE_SNAPSHOT_MAGIC,
  blobsReason,
  headerBuildId,
  keyOf,
  rejectReason,
  splitPyodideSnapshot,
} from "../../extension/snapshot/rules.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BUILD_ID = "990c3b51a9722d62434de2bbc9643732658d488c1b6d467f22c1b6beba80d497";
const SITE = "/lib/python3.14/site-packages";
const SO = "pydantic_core/_pydantic_core.cpython-314-wasm32-emscripten.so";
const HEAP = 37748736; // 576 wasm pages

const INFO = Object.freeze({
  version: "0.1.0",
  pyodide: "314.0.7",
  pyodide_build_id: BUILD_ID,
  python_key: "a".repeat(64),
  boot_key: "b".repeat(64),
  site_packages: SITE,
  dylibs: { [SO]: "c".repeat(64) },
});

// Pyodide's header as pyodide.asm.mjs makeSnapshot writes it: magic, header
// length (16-aligned), JSON length, 0, the build id as 8 u32, then the JSON.
function pyodideHeader(buildId = BUILD_ID, json = '{"hiwireKeys":[],"immortalKeys":[]}') {
  const text = new TextEncoder().encode(json);
  const length = Math.ceil((48 + text.length) / 16) * 16;
  const header = new Uint8Array(length);
  const words = new Uint32Array(header.buffer);
  words.set([PYODIDE_SNAPSHOT_MAGIC, length, text.length, 0]);
  for (let i = 0; i < 8; i++) words[4 + i] = parseInt(buildId.slice(i * 8, i * 8 + 8), 16);
  header.set(text, 48);
  return header;
}

function validMeta() {
  return {
    format: FORMAT,
    key: keyOf(INFO),
    created_at: 1795630000000,
    header: pyodideHeader(),
    image_bytes: HEAP,
    image_runs: [[0, 10 * PAGE], [20 * PAGE, HEAP]],
    bundle_bytes: 7000000,
    dylibs: {
      libs: [{ name: `${SITE}/${SO}`, sha256: "c".repeat(64), handles: [1234], tableBase: 14175 }],
      heapLength: HEAP,
      tableLength: 20000,
    },
  };
}

describe("snapshot key", () => {
  test("is made of the extension, Pyodide, Python bundle and boot JS versions", () => {
    assert.deepEqual(keyOf({ ...INFO, extra: "ignored" }), {
      version: "0.1.0",
      pyodide: "314.0.7",
      python_key: "a".repeat(64),
      boot_key: "b".repeat(64),
    });
  });

  test("a snapshot made by this build is accepted", () => {
    assert.equal(rejectReason(validMeta(), INFO), null);
  });

  for (const part of ["version", "pyodide", "python_key", "boot_key"]) {
    test(`a new ${part} makes the snapshot stale`, () => {
      assert.equal(rejectReason(validMeta(), { ...INFO, [part]: "changed" }), `stale: ${part} changed`);
    });
  }

  test("a key missing a part is stale", () => {
    const meta = validMeta();
    delete meta.key.boot_key;
    assert.equal(rejectReason(meta, INFO), "stale: boot_key changed");
  });
});

describe("stored record", () => {
  test("nothing stored", () => {
    assert.equal(rejectReason(undefined, INFO), "none stored");
    assert.equal(rejectReason(null, INFO), "none stored");
  });

  test("a meta record that is not an object", () => {
    assert.equal(rejectReason("garbage", INFO), "meta record unreadable");
  });

  test("another container format", () => {
    const meta = { ...validMeta(), format: FORMAT + 1 };
    assert.equal(rejectReason(meta, INFO), `format ${FORMAT + 1}, expected ${FORMAT}`);
  });

  test("a restore of this snapshot that never finished is not tried again", () => {
    const meta = validMeta();
    assert.equal(rejectReason(meta, INFO, meta.created_at), "its last restore never finished");
    assert.equal(rejectReason(meta, INFO, meta.created_at - 1), null); // an older snapshot's attempt
    assert.equal(rejectReason(meta, INFO, undefined), null);
  });
});

describe("Pyodide header", () => {
  test("build id round-trips", () => {
    assert.equal(headerBuildId(pyodideHeader()), BUILD_ID);
  });

  test("from another Pyodide build", () => {
    const meta = { ...validMeta(), header: pyodideHeader("0".repeat(64)) };
    assert.equal(rejectReason(meta, INFO), "Pyodide build id differs");
  });

  test("missing or not bytes", () => {
    assert.equal(rejectReason({ ...validMeta(), header: undefined }, INFO), "header unreadable");
    assert.equal(rejectReason({ ...validMeta(), header: [1, 2, 3] }, INFO), "header unreadable");
    assert.equal(rejectReason({ ...validMeta(), header: new Uint8Array(16) }, INFO), "header unreadable");
  });

  test("wrong magic", () => {
    const header = pyodideHeader();
    header[0] ^= 0xff;
    assert.equal(rejectReason({ ...validMeta(), header }, INFO), "header magic wrong");
  });

  test("truncated", () => {
    const header = pyodideHeader().slice(0, 48); // JSON cut off
    assert.equal(rejectReason({ ...validMeta(), header }, INFO), "header truncated");
  });

  test("split from makeMemorySnapshot's output", () => {
    const header = pyodideHeader();
    const whole = new Uint8Array(header.length + 65536);
    whole.set(header);
    whole[header.length] = 7;
    const { header: h, image } = splitPyodideSnapshot(whole);
    assert.deepEqual(h, header);
    assert.equal(image.byteLength, 65536);
    assert.equal(image[0], 7);
  });
});

describe("heap image and shared libraries", () => {
  test("an image size that is not whole wasm pages", () => {
    const meta = { ...validMeta(), image_bytes: HEAP + 1 };
    assert.equal(rejectReason(meta, INFO), "image size unreadable");
  });

  test("dylib record missing", () => {
    assert.equal(rejectReason({ ...validMeta(), dylibs: undefined }, INFO), "dylib record unreadable");
  });

  test("dylib record of another heap", () => {
    const meta = validMeta();
    meta.dylibs.heapLength = HEAP - 65536;
    assert.equal(rejectReason(meta, INFO), "dylib record does not match the image");
  });

  test("a shared library this build does not ship", () => {
    const meta = validMeta();
    meta.dylibs.libs[0].name = "/lib/libfoo.so";
    assert.equal(rejectReason(meta, INFO), "dylib /lib/libfoo.so not in this build");
  });

  test("a shared library that changed", () => {
    const info = { ...INFO, dylibs: { [SO]: "d".repeat(64) } };
    assert.equal(rejectReason(validMeta(), info), `dylib ${SO} changed`);
  });

  test("image runs that do not fit the heap", () => {
    const check = (image_runs) => rejectReason({ ...validMeta(), image_runs }, INFO);
    assert.equal(check(undefined), "image runs unreadable");
    assert.equal(check([[0, 100]]), "image runs unreadable"); // not whole pages
    assert.equal(check([[PAGE, 2 * PAGE], [0, PAGE]]), "image runs out of order");
    assert.equal(check([[0, HEAP + PAGE]]), "image runs out of order");
    assert.equal(check([]), null); // an all-zero heap stores nothing
  });

  test("image and bundle blobs of the recorded sizes", () => {
    const meta = { ...validMeta(), image_bytes: 2 * PAGE, image_runs: [[PAGE, 2 * PAGE]], bundle_bytes: 4 };
    const image = new Blob([new Uint8Array(PAGE)]);
    const bundle = new Blob([new Uint8Array(4)]);
    assert.equal(blobsReason(meta, image, bundle), null);
    assert.equal(blobsReason(meta, undefined, bundle), "image or bundle record missing");
    assert.equal(blobsReason(meta, new Uint8Array(PAGE), bundle), "image or bundle record missing");
    assert.equal(blobsReason(meta, image.slice(0, 4), bundle), `image truncated (4 of ${PAGE} bytes)`);
    assert.equal(blobsReason(meta, image, bundle.slice(1)), "bundle truncated (3 of 4 bytes)");
  });
});

describe("heap image without its zero pages", () => {
  // pages: 0 data, 1-2 zero, 3-4 data, 5 zero
  const heap = () => {
    const h = new Uint8Array(6 * PAGE);
    h[5] = 1;
    h[3 * PAGE + 7] = 2;
    h[5 * PAGE - 1] = 3;
    return h;
  };

  test("runs cover the pages holding data, merged", () => {
    assert.deepEqual(dataRuns(heap()), [[0, PAGE], [3 * PAGE, 5 * PAGE]]);
    assert.deepEqual(dataRuns(new Uint8Array(2 * PAGE)), []);
    assert.equal(packedSize(dataRuns(heap())), 3 * PAGE);
  });

  test("pack, then unpack into dirty memory, gives the heap back", async () => {
    const original = heap();
    const runs = dataRuns(original);
    const packed = new Uint8Array(await packImage(original, runs).arrayBuffer());
    assert.equal(packed.byteLength, 3 * PAGE);
    const memory = new Uint8Array(6 * PAGE).fill(0xee); // a fresh module's memory is not all zero
    unpackImage(memory, packed, runs);
    assert.deepEqual(memory, original);
  });

  test("a whole heap as one run is copied as is", () => {
    const original = heap();
    const memory = new Uint8Array(6 * PAGE).fill(0xee);
    unpackImage(memory, original, [[0, original.byteLength]]);
    assert.deepEqual(memory, original);
  });

  test("runs are validated against the heap size", () => {
    assert.equal(runsReason([[0, PAGE], [3 * PAGE, 5 * PAGE]], 6 * PAGE), null);
    assert.equal(runsReason([[0, PAGE], [PAGE / 2, 2 * PAGE]], 6 * PAGE), "image runs unreadable");
    assert.equal(runsReason([[0, 2 * PAGE], [PAGE, 3 * PAGE]], 6 * PAGE), "image runs out of order");
    assert.equal(runsReason("0-65536", 6 * PAGE), "image runs unreadable");
  });
});

describe("site-packages bundle", () => {
  const packed = () => {
    const python = process.env.PYTHON ?? "python3";
    const code =
      "import sys, build; sys.stdout.buffer.write(build.pack_bundle(" +
      "{'pkg/__init__.py': b'', 'pkg/sub/mod.py': b'x = 1\\n', 'top.py': b'print(2)\\n'}))";
    return new Uint8Array(execFileSync(python, ["-c", code], { cwd: REPO }));
  };

  test("reads what build.py packs", () => {
    const bundle = readBundle(packed());
    assert.deepEqual(bundle.dirs, ["pkg", "pkg/sub"]);
    const text = Object.fromEntries([...bundle.files].map(([p, d]) => [p, new TextDecoder().decode(d)]));
    assert.deepEqual(text, { "pkg/__init__.py": "", "pkg/sub/mod.py": "x = 1\n", "top.py": "print(2)\n" });
  });

  test("writes parents before children", () => {
    const calls = [];
    const FS = {
      mkdir: (p) => calls.push(["mkdir", p]),
      writeFile: (p, d, o) => calls.push(["write", p, d.length, o.canOwn]),
    };
    writeBundle(FS, SITE, readBundle(packed()));
    assert.deepEqual(calls, [
      ["mkdir", `${SITE}/pkg`],
      ["mkdir", `${SITE}/pkg/sub`],
      ["write", `${SITE}/pkg/__init__.py`, 0, true],
      ["write", `${SITE}/pkg/sub/mod.py`, 6, true],
      ["write", `${SITE}/top.py`, 9, true],
    ]);
  });

  test("rejects another format and a truncated file", () => {
    assert.throws(() => readBundle(new TextEncoder().encode("PK\x03\x04 a zip")), /not a PYFB bundle/);
    const bytes = packed();
    assert.throws(() => readBundle(bytes.subarray(0, bytes.length - 1)), /top\.py is truncated/);
  });
});
