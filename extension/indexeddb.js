// IndexedDB, promise-based: the little the worker's databases need.
// bridges/idb.js (the vault's device keys), snapshot/store.js (the memory
// snapshot) and bridges/attachments.js (attachments) each keep a database of their own.

/**
 * A function that opens database `name` (version 1, creating object store `store`,
 * or whatever `create(db)` creates) once and hands out the same connection
 * afterwards; after a failure the next call tries again.
 */
export function opener(name, store, create = (db) => db.createObjectStore(store)) {
  let connection = null;
  return () => {
    if (connection === null) {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => create(req.result);
      connection = request(req).catch((error) => {
        connection = null; // let the next call try again
        throw error;
      });
    }
    return connection;
  };
}

/** The request's result, once it succeeds. */
export function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Resolves once the transaction has committed (so what it wrote is durable). */
export function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
  });
}
