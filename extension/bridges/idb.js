// The key vault's device key store: one IndexedDB object store, promise-based.
//
// It exists because chrome.storage can only hold JSON, while the vault's data
// key is a non-extractable CryptoKey: IndexedDB stores it by structured clone,
// which keeps it non-extractable (JavaScript can use it, never read its bytes).
// Python (background/webcrypto.py) calls these through host.idb. Values pass
// through untouched; nothing here knows what a key is.
//
// Database "sidepy-vault" (the worker's snapshot lives apart, in "sidepy-snapshot").

import { committed, opener } from "../indexeddb.js";

const STORE = "keys";
const open = opener("sidepy-vault", STORE);

// One request in its own transaction; resolves once the transaction has
// committed, so a put is durable before Python goes on.
async function run(mode, use) {
  const tx = (await open()).transaction(STORE, mode);
  const req = use(tx.objectStore(STORE));
  await committed(tx);
  return req.result;
}

export const idb = {
  get: (name) => run("readonly", (store) => store.get(name)), // undefined when absent
  put: (name, value) => run("readwrite", (store) => store.put(value, name)),
  delete: (name) => run("readwrite", (store) => store.delete(name)),
  clear: () => run("readwrite", (store) => store.clear()),
};
