// When may a stored memory snapshot be restored? Pure functions (no chrome.*, no
// Pyodide), unit-tested under Node: tests/js/snapshot_rules.test.mjs.
//
// A snapshot is three IndexedDB records (see store.js): a small `meta` record,
// checked here before anything expensive starts, the heap `image` and the
// site-packages `bundle` it was made with.
//   meta = {
//     format,            // FORMAT below; bumped when the record layout changes
//     key,               // keyOf(build-info.json) when the snapshot was made
//     created_at,        // epoch ms, for the log
//     header,            // Uint8Array: Pyodide's own snapshot header (magic, build
//                        //   id, JS-reference table as JSON), without the heap
//     image_bytes,       // size of the heap (= wasm memory size)
//     image_runs,        // [start, end) ranges stored in the image Blob (image.js)
//     bundle_bytes,      // size of the bundle Blob (python/site.pyfb)
//     dylibs,            // shared-library state to replay (see dylibs.js)
//   }
// Every check returns null (usable) or a short reason for the log line
// "SidePy: snapshot rejected (<reason>); cold boot".

import { packedSize, runsReason } from "./image.js";

export const FORMAT = 1;

// Pyodide 314's snapshot header: u32 LE magic, header length, JSON length, 0,
// then the 256-bit build id as 8 u32 (pyodide.asm.mjs: makeSnapshot/restoreSnapshot).
export const PYODIDE_SNAPSHOT_MAGIC = 1886286592;
const HEADER_MIN = 48;

/**
 * What a snapshot depends on, from dist/build-info.json: the extension version,
 * the Pyodide version, the site-packages bundle (python_key: our code, pydantic,
 * pydantic_core's .so) and the worker JS that makes and restores snapshots.
 */
export function keyOf(info) {
  return {
    version: String(info.version),
    pyodide: String(info.pyodide),
    python_key: String(info.python_key),
    boot_key: String(info.boot_key),
  };
}

/** Decode the build id Pyodide wrote at bytes 16..48 of its snapshot header. */
export function headerBuildId(header) {
  const words = new Uint32Array(header.buffer, header.byteOffset + 16, 8);
  return Array.from(words, (w) => w.toString(16).padStart(8, "0")).join("");
}

/**
 * Reason the meta record cannot be used with this build, or null. `restoring` is
 * the created_at of a snapshot whose restore began and never reached "ready"
 * (boot.js keeps it in chrome.storage.session): it hung or killed the worker.
 */
export function rejectReason(meta, info, restoring = undefined) {
  if (meta === undefined || meta === null) return "none stored";
  if (typeof meta !== "object") return "meta record unreadable";
  if (restoring !== undefined && restoring === meta.created_at) return "its last restore never finished";
  if (meta.format !== FORMAT) return `format ${meta.format}, expected ${FORMAT}`;
  const want = keyOf(info);
  for (const [part, value] of Object.entries(want)) {
    if (meta.key?.[part] !== value) return `stale: ${part} changed`;
  }
  const header = meta.header;
  if (!(header instanceof Uint8Array) || header.byteLength < HEADER_MIN || header.byteLength % 4) {
    return "header unreadable";
  }
  const words = new Uint32Array(header.buffer, header.byteOffset, 3);
  if (words[0] !== PYODIDE_SNAPSHOT_MAGIC) return "header magic wrong";
  if (words[1] !== header.byteLength || words[2] > header.byteLength - HEADER_MIN) {
    return "header truncated";
  }
  if (headerBuildId(header) !== info.pyodide_build_id) return "Pyodide build id differs";
  if (!Number.isSafeInteger(meta.image_bytes) || meta.image_bytes <= 0 || meta.image_bytes % 65536) {
    return "image size unreadable";
  }
  return runsReason(meta.image_runs, meta.image_bytes) ?? dylibsReason(meta.dylibs, meta.image_bytes, info);
}

/** Every recorded shared library must be the one this build ships, unchanged. */
function dylibsReason(dylibs, imageBytes, info) {
  if (!dylibs || !Array.isArray(dylibs.libs)) return "dylib record unreadable";
  if (dylibs.heapLength !== imageBytes) return "dylib record does not match the image";
  const prefix = `${info.site_packages}/`;
  for (const lib of dylibs.libs) {
    const inSite = typeof lib.name === "string" && lib.name.startsWith(prefix);
    const rel = inSite ? lib.name.slice(prefix.length) : null;
    if (rel === null || !(rel in (info.dylibs ?? {}))) return `dylib ${lib.name} not in this build`;
    if (lib.sha256 !== info.dylibs[rel]) return `dylib ${rel} changed`;
  }
  return null;
}

/** Reason the stored image and bundle Blobs do not belong to `meta`, or null. */
export function blobsReason(meta, image, bundle) {
  if (!(image instanceof Blob) || !(bundle instanceof Blob)) return "image or bundle record missing";
  const stored = packedSize(meta.image_runs);
  if (image.size !== stored) return `image truncated (${image.size} of ${stored} bytes)`;
  if (bundle.size !== meta.bundle_bytes) {
    return `bundle truncated (${bundle.size} of ${meta.bundle_bytes} bytes)`;
  }
  return null;
}

/**
 * Split what pyodide.makeMemorySnapshot() returned into the header (kept in the
 * meta record) and the heap image (its own record, read while wasm compiles).
 */
export function splitPyodideSnapshot(snapshot) {
  const headerLength = new Uint32Array(snapshot.buffer, snapshot.byteOffset, 2)[1];
  return { header: snapshot.slice(0, headerLength), image: snapshot.subarray(headerLength) };
}
