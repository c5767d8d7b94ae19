// Attachments (screenshots, images, files) in IndexedDB, for Python
// (background/attachments/store.py decides what is stored; this only stores it).
//
// Database "sidepy-attachments", two object stores written together:
//   meta  id -> {conversation, record}: the JSON text Python wrote, indexed by conversation
//   data  id -> the bytes, as a Blob (Chrome reads a Blob back faster than an ArrayBuffer)
// Not chrome.storage: its 10 MB quota is the conversations' text.

import { committed, opener, request } from "../indexeddb.js";

const open = opener("sidepy-attachments", null, (db) => {
  db.createObjectStore("meta").createIndex("conversation", "conversation");
  db.createObjectStore("data");
});

// One write transaction over `stores`; resolves once it has committed.
async function run(stores, mode, use) {
  const tx = (await open()).transaction(stores, mode);
  use(tx);
  await committed(tx);
}

export const attachments = {
  put: (id, conversation, record, bytes) =>
    run(["meta", "data"], "readwrite", (tx) => {
      tx.objectStore("meta").put({ conversation, record }, id);
      tx.objectStore("data").put(new Blob([bytes]), id);
    }),
  // Replaces a record that exists (its bytes stay); an unknown id is left alone.
  update: (id, conversation, record) =>
    run(["meta"], "readwrite", (tx) => {
      const meta = tx.objectStore("meta");
      const found = meta.getKey(id);
      found.onsuccess = () => found.result !== undefined && meta.put({ conversation, record }, id);
    }),
  // The record texts of one conversation, or of all for null.
  records: async (conversation) => {
    const meta = (await open()).transaction("meta").objectStore("meta");
    const values = await request(conversation == null ? meta.getAll() : meta.index("conversation").getAll(conversation));
    return values.map((value) => value.record);
  },
  // One record's text, or undefined.
  record: async (id) => {
    const value = await request((await open()).transaction("meta").objectStore("meta").get(id));
    return value?.record;
  },
  // The bytes, or undefined.
  data: async (id) => {
    const blob = await request((await open()).transaction("data").objectStore("data").get(id));
    return blob === undefined ? undefined : new Uint8Array(await blob.arrayBuffer());
  },
  remove: (ids) =>
    run(["meta", "data"], "readwrite", (tx) => {
      for (const id of ids) {
        tx.objectStore("meta").delete(id);
        tx.objectStore("data").delete(id);
      }
    }),
};
