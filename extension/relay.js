// Relay between the sandboxed UI frame (postMessage) and the service worker
// (one chrome.runtime Port). Messages are JSON text and pass through untouched.
// The relay only checks where a message came from, buffers while either side
// is not there yet, reconnects when the worker was stopped, and sends a
// heartbeat so Chrome keeps the worker alive while the panel is open.
// The UI announces itself with the plain string "ui.ready" (not JSON).

const HEARTBEAT_MS = 20000;
const RECONNECT_MS = 250;

const frame = document.getElementById("ui");
let port = null;
let uiReady = false;
const toUi = []; // worker -> UI, held until the UI has said "ui.ready"
const toWorker = []; // UI -> worker, held while disconnected

function deliverToUi(text) {
  if (uiReady) frame.contentWindow.postMessage(text, "*");
  else toUi.push(text);
}

function connect() {
  try {
    port = chrome.runtime.connect({ name: "panel" });
  } catch (error) {
    // The extension was reloaded or removed: this page is orphaned.
    deliverToUi(JSON.stringify({ type: "port.closed", reason: String(error) }));
    return;
  }
  port.onMessage.addListener(deliverToUi);
  port.onDisconnect.addListener(() => {
    port = null;
    deliverToUi(JSON.stringify({ type: "port.disconnected" }));
    setTimeout(connect, RECONNECT_MS);
  });
  deliverToUi(JSON.stringify({ type: "port.connected" }));
  while (toWorker.length && port) port.postMessage(toWorker.shift());
}

window.addEventListener("message", (event) => {
  // Only our own sandboxed frame may speak to the worker through us.
  if (event.source !== frame.contentWindow || typeof event.data !== "string") return;
  if (event.data === "ui.ready") {
    // A control word, not JSON: the UI's Python has attached its listener.
    uiReady = true;
    while (toUi.length) frame.contentWindow.postMessage(toUi.shift(), "*");
    return;
  }
  if (port) port.postMessage(event.data);
  else toWorker.push(event.data);
});

setInterval(() => port?.postMessage('{"type": "heartbeat"}'), HEARTBEAT_MS);
connect();
