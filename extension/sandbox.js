// Loaded first by the sandboxed pages (ui.html, options-ui.html).
// PyScript creates an IndexedDB-backed store when its module loads; a sandboxed
// page has an opaque origin, so the browser refuses IndexedDB with a SecurityError
// that would surface as an uncaught error. We never use that store (MicroPython
// keeps nothing there), so that one refusal is expected and silenced; every other
// error still surfaces.
window.addEventListener("unhandledrejection", (event) => {
  const reason = event.reason;
  if (reason?.name === "SecurityError" && /IDBFactory/.test(String(reason.message))) {
    event.preventDefault();
  }
});
