// The heap image as stored: its all-zero 64 KiB pages left out. A fresh wasm
// heap holds about 10 MB of zeros in one run (of ~38 MB), and every byte not
// stored is a byte neither read from IndexedDB nor copied on each wake.
// Pure functions; tested under Node (tests/js/).

export const PAGE = 65536; // one wasm page

/** [start, end) byte ranges of `heap`, in whole pages, holding any non-zero byte. */
export function dataRuns(heap) {
  const words = new Uint32Array(heap.buffer, heap.byteOffset, heap.byteLength >>> 2);
  const perPage = PAGE / 4;
  const runs = [];
  for (let from = 0; from < words.length; from += perPage) {
    const to = Math.min(from + perPage, words.length);
    let zero = true;
    for (let i = from; i < to && zero; i++) zero = words[i] === 0;
    if (zero) continue;
    const last = runs.at(-1);
    if (last && last[1] === from * 4) last[1] = to * 4;
    else runs.push([from * 4, to * 4]);
  }
  return runs;
}

/** What is stored: the runs' bytes back to back. */
export function packImage(heap, runs) {
  return new Blob(runs.map(([start, end]) => heap.subarray(start, end)));
}

/** Bytes a packed image of `runs` holds. */
export const packedSize = (runs) => runs.reduce((sum, [start, end]) => sum + end - start, 0);

/** Reason `runs` cannot describe a heap of `bytes` bytes, or null. */
export function runsReason(runs, bytes) {
  if (!Array.isArray(runs)) return "image runs unreadable";
  let previous = 0;
  for (const run of runs) {
    const [start, end] = Array.isArray(run) ? run : [];
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start % PAGE || end % PAGE) {
      return "image runs unreadable";
    }
    if (start < previous || end <= start || end > bytes) return "image runs out of order";
    previous = end;
  }
  return null;
}

/** Write a packed image into `heap` (the wasm memory) and zero everything between its runs. */
export function unpackImage(heap, packed, runs) {
  let at = 0;
  let previous = 0;
  for (const [start, end] of runs) {
    heap.fill(0, previous, start);
    heap.set(packed.subarray(at, at + end - start), start);
    at += end - start;
    previous = end;
  }
  heap.fill(0, previous);
}
