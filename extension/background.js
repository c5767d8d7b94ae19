// SidePy service worker: register every Chrome listener synchronously (Chrome
// only wakes a worker for events whose listeners exist after the first turn of
// the script), then hand each event to Python once it has booted. Events that
// arrive during the boot wait on the same one-flight promise, in order.

import { bootPython, bootState } from "./boot.js";
import { attachments } from "./bridges/attachments.js";
import { idb } from "./bridges/idb.js";
import { images } from "./bridges/images.js";

const ports = new Map(); // port id -> chrome.runtime.Port
let nextPortId = 1;

// What Python may call back into. Messages are JSON text end to end.
const host = {
  boot: bootState,
  idb, // the key vault's IndexedDB store of non-extractable CryptoKeys (bridges/idb.js)
  attachments, // screenshots, images and files, in IndexedDB (bridges/attachments.js)
  images, // the browser's image decoder and canvas (bridges/images.js)
  // WebCrypto for the vault, handed over as a value: Pyodide's js module cannot
  // read the worker's global getters (crypto, indexedDB, self: "Illegal invocation").
  crypto: globalThis.crypto,
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

// The toolbar button opens the panel from action.onClicked below, not through
// openPanelOnActionClick: a panel Chrome opens by itself comes without the activeTab
// grant, and that grant is what lets the panel's camera button take a screenshot of
// the tab (chrome.tabs.captureVisibleTab). The behaviour is stored by Chrome, so it
// is turned off explicitly (an older SidePy turned it on).
chrome.sidePanel
  ?.setPanelBehavior({ openPanelOnActionClick: false })
  .catch((error) => console.error(error));

// sidePanel.open() is allowed only synchronously inside a user-gesture handler,
// so the panel is opened here, before anything is awaited; Python gets the event
// afterwards and pushes the selection to the panel. Browsers without a side
// panel get the same page in a popup window.
let popupId = null;
function openPanel(tab) {
  if (chrome.sidePanel?.open) {
    if (tab?.windowId !== undefined) {
      chrome.sidePanel.open({ windowId: tab.windowId }).catch((error) => console.error(error));
    }
    return;
  }
  const create = () =>
    chrome.windows
      .create({ url: "sidepanel.html", type: "popup", width: 420, height: 720 })
      .then((win) => (popupId = win.id));
  if (popupId === null) create();
  else chrome.windows.update(popupId, { focused: true }).catch(create);
}

chrome.action.onClicked.addListener((tab) => openPanel(tab));

chrome.contextMenus?.onClicked.addListener((info, tab) => {
  if (info.menuItemId !== "sidepy-selection") return;
  openPanel(tab);
  const page = { selection: info.selectionText ?? "", title: tab?.title ?? "", url: info.pageUrl ?? tab?.url ?? "" };
  app().then((py) => py.on_menu_click(JSON.stringify({ ...page, tab_id: tab?.id ?? null })), () => {});
});

chrome.commands?.onCommand.addListener((command, tab) => {
  if (command !== "open-panel") return;
  openPanel(tab);
  app().then((py) => py.on_command(command, JSON.stringify({ tab_id: tab?.id ?? null })), () => {});
});

// The key vault's auto-lock (docs/security.md): an alarm wakes the worker even
// if it was stopped; Python decides whether the vault has been idle long enough.
chrome.alarms?.onAlarm.addListener((alarm) => {
  app()
    .then((py) => py.on_alarm(alarm.name))
    .catch((error) => console.error(error));
});

// Start booting right away: the worker usually woke for a reason.
app().catch(() => {});
