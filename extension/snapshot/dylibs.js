// Shared libraries in a memory snapshot (pydantic_core's .so), for Pyodide 314.
//
// A Pyodide memory snapshot is the wasm linear memory. A shared library loaded
// with dlopen also lives outside it: its own wasm instance, its slice of the
// indirect function table, its GOT entries and Emscripten's LDSO bookkeeping.
// Restoring the memory alone leaves C code calling table slots that do not exist
// ("table index is out of bounds"). So before the heap is copied back, we
// re-instantiate every recorded library, in load order, at the memory and table
// base it had, and register it under the same dlopen handles. We do NOT run its
// data relocations or constructors: their effects are in the restored heap.
// Post-checks (table length, a fingerprint of the library table slots, a hash of
// the GOT) turn any mismatch into an error, and the caller into a cold boot.
//
// Only names exported by Pyodide's Emscripten module are used (M.LDSO, M.GOT,
// M.wasmTable, M.getDylinkMetadata, M.newDSO, ...); pyodide.asm.mjs is not patched.
// The technique is the one Cloudflare's Python Workers use for their snapshots.

// Fields of Emscripten's `struct dso` (system/lib/libc/dynlink.h, wasm32) that
// loadWebAssemblyModule fills in: where the library's memory and table slice are.
const DSO_MEM_ADDR = 12;
const DSO_MEM_SIZE = 16;
const DSO_TABLE_ADDR = 20;
const DSO_TABLE_SIZE = 24;

function fnv1a(text, hash = 0x811c9dc5) {
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

// For a wasm function, `.name` is its index inside the defining module, so this
// catches "same table length, different contents".
function tableFingerprint(M, from, to) {
  let hash = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    const fn = M.wasmTable.get(i);
    hash = fnv1a(fn ? `${fn.name};` : "-;", hash);
  }
  return hash;
}

// GOT values in insertion order (the order implies the symbol names).
function gotFingerprint(M) {
  let hash = 0x811c9dc5;
  let count = 0;
  for (const name in M.GOT) {
    hash = Math.imul(hash ^ (M.GOT[name].value | 0), 0x01000193) >>> 0;
    count++;
  }
  return { count, hash };
}

/**
 * Record what must be replayed on restore: every dlopen'ed library with its
 * handles and bases, plus fingerprints for the post-checks. `sha256Of(name)`
 * gives the library's hash from build-info.json (throws for unknown files).
 */
export function recordDylibs(M, sha256Of) {
  if (M.freeTableIndexes.length) {
    // Freed slots are reused in a JS-side order the snapshot cannot reproduce.
    throw new Error("function table has freed slots");
  }
  const byName = new Map();
  for (const [key, dso] of Object.entries(M.LDSO.loadedLibsByHandle)) {
    const handle = Number(key);
    if (handle === 0) continue; // the main module
    let lib = byName.get(dso.name);
    if (!lib) {
      lib = {
        name: dso.name,
        sha256: sha256Of(dso.name),
        handles: [],
        memoryBase: M.HEAPU32[(handle + DSO_MEM_ADDR) >>> 2],
        memorySize: M.HEAP32[(handle + DSO_MEM_SIZE) >>> 2],
        tableBase: M.HEAPU32[(handle + DSO_TABLE_ADDR) >>> 2],
        tableSize: M.HEAP32[(handle + DSO_TABLE_SIZE) >>> 2],
        global: Boolean(dso.global),
        refcount: dso.refcount === Infinity ? "Infinity" : dso.refcount,
      };
      byName.set(dso.name, lib);
    }
    lib.handles.push(handle);
  }
  for (const name of Object.keys(M.LDSO.loadedLibsByName)) {
    if (name !== "__main__" && !byName.has(name)) {
      // A DT_NEEDED dependency has no handle, so its bases are unknown.
      throw new Error(`${name} was loaded without dlopen`);
    }
  }
  // Table slices are handed out in load order: replay in that order.
  const libs = [...byName.values()].sort((a, b) => a.tableBase - b.tableBase || a.memoryBase - b.memoryBase);
  const tableLength = M.wasmTable.length;
  const firstTableBase = Math.min(tableLength, ...libs.map((lib) => lib.tableBase || tableLength));
  return {
    libs,
    tableLength,
    firstTableBase,
    tableHash: tableFingerprint(M, firstTableBase, tableLength),
    got: gotFingerprint(M),
    heapLength: M.HEAP8.length,
  };
}

// Emscripten's loadWebAssemblyModule() minus memory allocation, data relocations
// and constructors: instantiate `wasmModule` at the recorded bases.
async function instantiateAt(M, wasmModule, lib) {
  const md = M.getDylinkMetadata(wasmModule);
  if (md.neededDynlibs.length || md.tlsExports.size) {
    throw new Error(`${lib.name}: libraries with DT_NEEDED or TLS exports are not supported`);
  }
  if (md.memorySize !== lib.memorySize || md.tableSize !== lib.tableSize) {
    throw new Error(`${lib.name}: not the library recorded in the snapshot`);
  }
  const memoryBase = md.memorySize ? lib.memoryBase : 0;
  if (memoryBase % 2 ** md.memoryAlign || memoryBase + md.memorySize > M.HEAP8.length) {
    throw new Error(`${lib.name}: recorded memory base does not fit`);
  }
  const tableBase = md.tableSize ? M.wasmTable.length : 0;
  if (md.tableSize && tableBase !== lib.tableBase) {
    throw new Error(`${lib.name}: table base ${tableBase}, snapshot has ${lib.tableBase}`);
  }
  if (md.tableSize) M.wasmTable.grow(md.tableSize);

  // Imports resolve like Emscripten's: the module's own bases, then global
  // symbols, then lazy stubs for symbols defined later (or by the module itself).
  let moduleExports;
  const env = new Proxy({}, {
    get(stubs, name) {
      if (name === "__memory_base") return memoryBase;
      if (name === "__table_base") return tableBase;
      const sym = M.resolveGlobalSymbol(name).sym;
      if (sym) return sym;
      if (!(name in stubs)) {
        let resolved;
        stubs[name] = (...args) => {
          resolved ||= M.resolveGlobalSymbol(name).sym || moduleExports[name];
          if (!resolved) throw new Error(`dynamic linking error: cannot resolve ${String(name)}`);
          return resolved(...args);
        };
      }
      return stubs[name];
    },
  });
  const got = new Proxy(md.weakImports, M.GOTHandler);
  const imports = { "GOT.mem": got, "GOT.func": got, env, wasi_snapshot_preview1: env };
  const instance = await WebAssembly.instantiate(wasmModule, imports);
  M.updateTableMap(tableBase, md.tableSize);
  moduleExports = M.relocateExports(instance.exports, memoryBase);
  M.updateGOT(moduleExports);
  M.reportUndefinedSymbols();
  for (const name of Object.keys(moduleExports)) {
    if (name === "__start_em_asm" || name.startsWith("__em_js__")) {
      throw new Error(`${lib.name}: EM_ASM/EM_JS code is not supported`);
    }
  }
  return moduleExports;
}

/**
 * Recreate the recorded shared-library state on a fresh Emscripten module whose
 * heap has not been restored yet. `compiled(name)` gives (a promise of) the
 * library's WebAssembly.Module, compiled from the site-packages bundle.
 */
export async function replayDylibs(M, dylibs, compiled) {
  if (M.HEAP8.length < dylibs.heapLength) M.growMemory(dylibs.heapLength);
  if (M.HEAP8.length !== dylibs.heapLength) {
    throw new Error(`wasm memory is ${M.HEAP8.length} bytes, snapshot needs ${dylibs.heapLength}`);
  }
  const modules = await Promise.all(dylibs.libs.map((lib) => compiled(lib.name)));
  for (const [i, lib] of dylibs.libs.entries()) {
    const exports = await instantiateAt(M, modules[i], lib);
    const dso = M.newDSO(lib.name, undefined, exports);
    dso.global = lib.global;
    dso.refcount = lib.refcount === "Infinity" ? Infinity : lib.refcount;
    for (const handle of lib.handles) M.LDSO.loadedLibsByHandle[handle] = dso;
    if (lib.global) M.mergeLibSymbols(exports, lib.name);
  }
  if (M.wasmTable.length !== dylibs.tableLength) {
    throw new Error(`function table has ${M.wasmTable.length} slots, snapshot had ${dylibs.tableLength}`);
  }
  if (tableFingerprint(M, dylibs.firstTableBase, dylibs.tableLength) !== dylibs.tableHash) {
    throw new Error("function table differs from the snapshot's");
  }
  const got = gotFingerprint(M);
  if (got.count !== dylibs.got.count || got.hash !== dylibs.got.hash) {
    throw new Error(`GOT differs from the snapshot's (${got.count} vs ${dylibs.got.count} entries)`);
  }
}
