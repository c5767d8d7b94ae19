// The worker's site-packages as one uncompressed file (python/site.pyfb, written
// by build.py): "PYFB" | u32 LE index length | index JSON | file bytes.
// index = {dirs: [...], files: [[path, offset, size], ...]}, paths relative to
// site-packages. Writing it into Emscripten's in-memory FS is a few hundred
// FS.writeFile calls on views of one buffer: no unzip, no copy (canOwn).
//
// A memory snapshot holds Python's heap, not the FS (MEMFS lives in JS), so the
// bundle is written on every boot: cold (after loadPyodide) and restored (fsInit).

const MAGIC = 0x42465950; // "PYFB" read as a little-endian u32

/** Parse a bundle: {dirs, files: Map(path -> Uint8Array view)}. Pure; throws if malformed. */
export function readBundle(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8 || view.getUint32(0, true) !== MAGIC) {
    throw new Error("python/site.pyfb is not a PYFB bundle");
  }
  const indexLength = view.getUint32(4, true);
  const index = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + indexLength)));
  const base = 8 + indexLength;
  const files = new Map();
  for (const [path, offset, size] of index.files) {
    if (base + offset + size > bytes.byteLength) throw new Error(`python/site.pyfb: ${path} is truncated`);
    files.set(path, bytes.subarray(base + offset, base + offset + size));
  }
  return { dirs: index.dirs, files };
}

/** Write a parsed bundle under `root` (site-packages) in Emscripten's FS. */
export function writeBundle(FS, root, bundle) {
  for (const dir of bundle.dirs) {
    try {
      FS.mkdir(`${root}/${dir}`);
    } catch {
      // already there (EEXIST)
    }
  }
  for (const [path, data] of bundle.files) {
    // canOwn: MEMFS keeps the view as the file's contents. Nothing writes to these
    // files, and a write could not spill out of the view (it is sized to the file).
    FS.writeFile(`${root}/${path}`, data, { canOwn: true });
  }
}
