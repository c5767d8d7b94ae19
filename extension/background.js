// SidePy service worker: register every Chrome listener synchronously (Chrome
// only wakes a worker for events whose listeners exist after the first turn of
// the script), then hand each event to Python once it has booted. Events that
// arrive during the boot wait on the same one-flight promise, in order.

import { bootPython, bootState, untilFatal } from "./boot.js";
import { attachments } from "./bridges/attachments.js";
import { idb } from "./bridges/idb.js";
import { images } from "./bridges/images.js";
import { DEV } from "./build-flags.js"; // written by build.py: true only in `build.py --dev`

const ports = new Map(); // port id -> chrome.runtime.Port
let nextPortId = 1;

// What Python may call back into. Messages are JSON text end to end.
const host = {
  boot: bootState,
  dev: DEV, // a developer build: Python adds its test hooks (background.dev)
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

// Who sent a message, from what Chrome says about the sender (never from the
// message, nor a port's name): Python's router decides what each kind may send
// (py/background/router.py, docs/protocol.md "Senders and capabilities").
const EXTENSION_ORIGIN = new URL(chrome.runtime.getURL("")).origin;
const PAGES = new Map([
  [chrome.runtime.getURL("sidepanel.html"), "panel"], // also the popup window without a side panel
  [chrome.runtime.getURL("options.html"), "options"],
]);
if (DEV) PAGES.set(chrome.runtime.getURL("dev.html"), "dev"); // the developer build's test console

function senderKind(sender) {
  if (sender?.id !== chrome.runtime.id || typeof sender.url !== "string") return "unknown";
  let origin = null;
  try {
    origin = new URL(sender.url).origin;
  } catch {
    return "unknown";
  }
  // Exact URL only, less the fragment: it never changes which document runs (the welcome
  // page is options.html#welcome; the setup card opens options.html#provider=…).
  if (origin === EXTENSION_ORIGIN) return PAGES.get(sender.url.split("#", 1)[0]) ?? "unknown";
  return sender.tab ? "content" : "unknown"; // a script running in a web page's tab
}

const TRUSTED_PORTS = new Set(["panel", "options", "dev"]);

// Messages reach Python as JSON text only. A structured-cloned object is encoded
// here, where nesting cannot crash anything (V8 throws, and that is answered as
// malformed); Python's guarded decoder then applies its depth and size limits.
function asText(value) {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    return "null";
  }
}

chrome.runtime.onConnect.addListener((port) => {
  const id = nextPortId++;
  const kind = senderKind(port.sender);
  ports.set(id, port);
  // Tell our own pages at once how the boot is going; Python answers when ready.
  if (TRUSTED_PORTS.has(kind)) port.postMessage(bootStatus());
  const ready = app().then(
    (py) => py.on_port_connect(id, kind),
    () => TRUSTED_PORTS.has(kind) && port.postMessage(bootStatus()),
  );
  port.onMessage.addListener((message) => {
    const text = asText(message);
    ready.then(() => app()).then((py) => py.on_port_message(id, text), () => {});
  });
  port.onDisconnect.addListener(() => {
    ports.delete(id);
    ready.then(() => app()).then((py) => py.on_port_disconnect(id), () => {});
  });
});

// One-shot messages: answered by Python asynchronously.
chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  const kind = senderKind(sender);
  const text = asText(message);
  app()
    .then((py) => untilFatal(py.on_runtime_message(text, kind)))
    .then(sendResponse, (error) =>
      sendResponse(JSON.stringify({ type: "error", message: String(error?.message ?? error) })),
    );
  return true; // keep the channel open for the async answer
});

chrome.runtime.onInstalled.addListener((details) => {
  // A first install opens the welcome page: the settings, with the provider first.
  if (details.reason === "install") {
    chrome.tabs.create({ url: chrome.runtime.getURL("options.html#welcome") }).catch((e) => console.error(e));
  }
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
