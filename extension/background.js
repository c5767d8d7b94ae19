// SidePy service worker: register every Chrome listener synchronously (Chrome
// only wakes a worker for events whose listeners exist after the first turn of
// the script), then hand each event to Python once it has booted. Events that
// arrive during the boot wait on the same one-flight promise, in order.

import { bootPython, bootState } from "./boot.js";

const ports = new Map(); // port id -> chrome.runtime.Port
let nextPortId = 1;

// What Python may call back into. Messages are JSON text end to end.
const host = {
  boot: bootState,
  post(portId, text) {
    const port = ports.get(portId);
    if (!port) return false;
    try {
      port.postMessage(text);
      return true;
    } catch {
      return false; // the panel went away mid-send; Python treats it as closed
    }
  },
};

const app = () => bootPython(host);

function bootStatus() {
  return JSON.stringify({
    type: "boot.status",
    state: bootState.state,
    elapsed_ms: Math.round(performance.now()),
    phases: bootState.phases,
    error: bootState.error,
  });
}

chrome.runtime.onConnect.addListener((port) => {
  const id = nextPortId++;
  ports.set(id, port);
  // Tell the panel at once how the boot is going; Python answers when ready.
  port.postMessage(bootStatus());
  const ready = app().then(
    (py) => py.on_port_connect(id, port.name),
    () => port.postMessage(bootStatus()),
  );
  port.onMessage.addListener((text) => {
    ready.then(() => app()).then((py) => py.on_port_message(id, text), () => {});
  });
  port.onDisconnect.addListener(() => {
    ports.delete(id);
    ready.then(() => app()).then((py) => py.on_port_disconnect(id), () => {});
  });
});

// One-shot messages (options page, tests): answered by Python asynchronously.
chrome.runtime.onMessage.addListener((text, _sender, sendResponse) => {
  app()
    .then((py) => py.on_runtime_message(typeof text === "string" ? text : JSON.stringify(text)))
    .then(sendResponse, (error) =>
      sendResponse(JSON.stringify({ type: "error", message: String(error?.message ?? error) })),
    );
  return true; // keep the channel open for the async answer
});

chrome.runtime.onInstalled.addListener((details) => {
  app().then((py) => py.on_installed(details.reason), () => {});
});

// Opening the panel from the toolbar button is browser wiring, set on every start.
chrome.sidePanel
  ?.setPanelBehavior({ openPanelOnActionClick: true })
  .catch((error) => console.error(error));

// Start booting right away: the worker usually woke for a reason.
app().catch(() => {});
