// Where the worker keeps its memory snapshot: IndexedDB database "sidepy-snapshot",
// object store "snapshot", three records written in one transaction:
//   "meta"   - small: key, Pyodide's header, dylib state (see rules.js)
//   "image"  - the wasm heap without its all-zero pages (image.js), ~27 MB, a raw Blob
//   "bundle" - python/site.pyfb (site-packages, ~7 MB) as a Blob: the restored
//              heap needs its files again, and Chrome reads a Blob from here
//              several times faster than it fetches it from the extension
// Blobs because Chrome reads them back 2.5x faster than the same bytes stored as
// an ArrayBuffer; raw because decompressing a gzip image costs far more than
// reading the raw one (both measured in bench/boot.py, docs/benchmarks.md).
// Extension pages share the worker's origin, so tests and the benchmark open
// the same database to corrupt or delete a snapshot.

import { committed, opener, request } from "../indexeddb.js";

export const DB_NAME = "sidepy-snapshot";
export const STORE = "snapshot";

const open = opener(DB_NAME, STORE);

/**
 * The three records, read in one transaction: {meta (undefined when none is
 * stored), image, bundle} (Blobs: their bytes are read only when asked for;
 * rules.rejectReason and rules.blobsReason check what came back).
 */
export async function read() {
  const store = (await open()).transaction(STORE).objectStore(STORE);
  const names = ["meta", "image", "bundle"];
  const [meta, image, bundle] = await Promise.all(names.map((name) => request(store.get(name))));
  return { meta, image, bundle };
}

/** Replace the stored snapshot (image, bundle: Blobs); all records or none. */
export async function save(meta, { image, bundle }) {
  const tx = (await open()).transaction(STORE, "readwrite");
  tx.objectStore(STORE).put(image, "image");
  tx.objectStore(STORE).put(bundle, "bundle");
  tx.objectStore(STORE).put(meta, "meta");
  return committed(tx);
}

/** Forget the stored snapshot (a rejected one must not be tried again). */
export async function clear() {
  const tx = (await open()).transaction(STORE, "readwrite");
  tx.objectStore(STORE).clear();
  return committed(tx);
}
