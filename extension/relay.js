// Relay between a sandboxed UI frame (postMessage) and the service worker
// (one chrome.runtime Port). Messages are JSON text and pass through untouched.
// The relay only checks where a message came from, buffers while either side
// is not there yet, reconnects when the worker was stopped, and sends a
// heartbeat so Chrome keeps the worker alive while the page is open.
//
// One relay serves both pages that host Python UIs; its <script> tag says which:
//   data-port        the Port's name ("panel" by default; "options" for the options
//                    page). Only a label: what the worker accepts is decided by the
//                    sender's page URL (background.js), never by this name
//   data-frame       the id of the sandboxed frame ("ui" by default)
//   data-permissions present: the UI may ask for host permissions (options page only)
// The UI's control words are plain strings, not JSON (docs/protocol.md):
//   "ui.ready"                 its listener exists: deliver what was held (first a
//                              relay.hello saying what the UI showed before a reload,
//                              and what was typed into the page's placeholder composer,
//                              after relay.files with the files pasted or dropped there)
//   "ui.failed"                its Python could not start: show the UI (its error)
//   "ui.options[ section]"     open the options page (a sandbox cannot), at a section
//   "ui.shown id"              the conversation on screen, restored when the page reloads
//   "ui.dirty 1|0"             unsaved changes: closing or leaving the page asks first
//   "ui.permissions [pattern]" chrome.permissions.request, answered with permission.result
//   "ui.permissions.remove [pattern]" chrome.permissions.remove, answered the same way
//   "ui.screenshot request"    a screenshot of the tab: forwarded as it is only while the
//                              user's activation is live, else as "ui.nogesture request"

const HEARTBEAT_MS = 20000;
const RECONNECT_MS = 250;
const PERMISSIONS = "ui.permissions ";
const REMOVE = "ui.permissions.remove ";
const SCREENSHOT = "ui.screenshot ";
const ALL_URLS = "<all_urls>";
const PATTERN = /^https?:\/\/[^/*\s]+\/\*$/; // one origin, every path: "https://host/*"
const SECTION = /^[a-z]+(=[a-z]+)?$/; // "provider=compatible", "welcome"
const SHOWN = "sidepy.shown." + (document.querySelector("script[data-port]")?.dataset.port ?? "panel");

const tag = document.querySelector("script[data-port]");
const portName = tag?.dataset.port ?? "panel";
const frame = document.getElementById(tag?.dataset.frame ?? "ui");
const mayRequest = tag?.hasAttribute("data-permissions") ?? false;
let port = null;
let uiReady = false;
// The placeholder the side panel page draws until the UI's Python is up (sidepanel.html).
// Enter there only notes that the user asked to send; the UI sends it. Files pasted or
// dropped there are kept (a file dropped on a page the page does not take would replace
// the panel with the file) and handed to the UI's composer with the text.
const shell = document.getElementById("shell");
const shellText = document.getElementById("shell-composer");
const shellStatus = shell?.querySelector(".shell-status");
const shellFiles = [];
let shellSend = false;
function shellSubmit() {
  if (!shellText.value.trim() && !shellFiles.length) return;
  shellSend = true;
  shellText.readOnly = true;
  shellStatus.textContent = "Starting… your message goes as soon as SidePy is ready.";
}
function keepFiles(event, list) {
  if (!shell?.isConnected || !list?.length) return;
  event.preventDefault();
  shellFiles.push(...list);
  if (!shellSend) {
    const names = shellFiles.map((f) => f.name).join(", ");
    shellStatus.textContent = `Starting… ${names} will be attached as soon as SidePy is ready.`;
  }
}
const carriesFiles = (event) => event.dataTransfer?.types?.includes("Files") === true;
shellText?.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    shellSubmit();
  }
});
shellText?.addEventListener("paste", (event) => keepFiles(event, event.clipboardData?.files));
document.addEventListener("dragover", (event) => {
  if (shell?.isConnected && carriesFiles(event)) event.preventDefault(); // the drop is ours
});
document.addEventListener("drop", (event) => {
  if (carriesFiles(event)) keepFiles(event, event.dataTransfer.files);
});
document.getElementById("shell-send")?.addEventListener("click", shellSubmit);

function dropShell() {
  if (!shell?.isConnected) return null;
  const draft = { text: shellText.value, send: shellSend, files: shellFiles.length };
  const focused = document.activeElement === shellText;
  shell.remove();
  if (focused) frame.focus();
  return draft.text || draft.files ? draft : null;
}

// The placeholder's files as one FileList (structured-cloned into the sandboxed frame).
function shellFileList() {
  const transfer = new DataTransfer();
  for (const file of shellFiles.splice(0)) transfer.items.add(file);
  return transfer.files;
}
const toUi = []; // worker -> UI, held until the UI has said "ui.ready"
const toWorker = []; // UI -> worker, held while disconnected

function deliverToUi(text) {
  if (uiReady) frame.contentWindow.postMessage(text, "*");
  else toUi.push(text);
}

function connect() {
  try {
    port = chrome.runtime.connect({ name: portName });
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

// chrome.permissions.request needs a user gesture. The click happened in the
// sandboxed frame; its transient activation also activates this (ancestor) page
// for a few seconds, so the request must be made now, before anything is awaited.
// "<all_urls>" alone is the other pattern a UI may ask for: it lets the panel's
// Screenshot button capture any tab (chrome.tabs.captureVisibleTab accepts it or the
// activeTab grant, nothing narrower). "ui.permissions.remove [...]" gives patterns back.
function requestPermissions(text) {
  const remove = text.startsWith(REMOVE);
  let origins = null;
  try {
    origins = JSON.parse(text.slice((remove ? REMOVE : PERMISSIONS).length));
  } catch {}
  const answer = (fields) => deliverToUi(JSON.stringify({ type: "permission.result", origins, ...fields }));
  const allowed = (o) => typeof o === "string" && (PATTERN.test(o) || (o === ALL_URLS && origins.length === 1));
  if (!Array.isArray(origins) || !origins.length || !origins.every(allowed)) {
    answer({ granted: false, error: "not a list of http(s)://host/* patterns, nor <all_urls> alone" });
    return;
  }
  if (remove) {
    chrome.permissions.remove({ origins }).then(
      (revoked) => answer({ revoked }),
      (error) => answer({ revoked: false, error: String(error?.message ?? error) }),
    );
    return;
  }
  chrome.permissions.request({ origins }).then(
    (granted) => answer({ granted }),
    (error) => answer({ granted: false, error: String(error?.message ?? error) }),
  );
}

window.addEventListener("message", (event) => {
  // Only our own sandboxed frame may speak to the worker through us.
  if (event.source !== frame.contentWindow || typeof event.data !== "string") return;
  if (event.data === "ui.ready") {
    // A control word, not JSON: the UI's Python has attached its listener. First it
    // hears what this page knows and a sandbox cannot keep: the section asked for in
    // the address (#provider=…) and the conversation it showed before a reload.
    uiReady = true;
    const hello = { type: "relay.hello", hash: location.hash.slice(1), shown: sessionStorage.getItem(SHOWN),
                    draft: dropShell() };
    // Files first, so the composer holds them when the draft is taken (the one message
    // that is not JSON text: a FileList cannot be).
    if (hello.draft?.files) frame.contentWindow.postMessage({ type: "relay.files", files: shellFileList() }, "*");
    frame.contentWindow.postMessage(JSON.stringify(hello), "*");
    while (toUi.length) frame.contentWindow.postMessage(toUi.shift(), "*");
    return;
  }
  if (event.data === "ui.failed") {
    dropShell(); // its error shows in the frame
    return;
  }
  if (event.data === "ui.options" || event.data.startsWith("ui.options ")) {
    const section = event.data.slice("ui.options ".length);
    if (SECTION.test(section)) {
      chrome.tabs.create({ url: chrome.runtime.getURL("options.html#" + section) }).catch((e) => console.error(e));
    } else {
      chrome.runtime.openOptionsPage().catch((error) => console.error(error));
    }
    return;
  }
  if (event.data.startsWith("ui.dirty ")) {
    window.onbeforeunload = event.data === "ui.dirty 1" ? (e) => e.preventDefault() : null;
    return;
  }
  if (event.data.startsWith("ui.shown ")) {
    const id = event.data.slice("ui.shown ".length);
    if (id) sessionStorage.setItem(SHOWN, id);
    else sessionStorage.removeItem(SHOWN);
    return;
  }
  if (event.data.startsWith(PERMISSIONS) || event.data.startsWith(REMOVE)) {
    if (mayRequest) requestPermissions(event.data);
    return; // never forwarded: the worker has no use for it
  }
  if (event.data.startsWith(SCREENSHOT)) {
    // The worker takes a screenshot of the user's tab only in this form, which no
    // other branch forwards as it came: the click (or key) in the sandboxed frame
    // activates this ancestor page too, a script there on its own does not. Without
    // it the worker hears "ui.nogesture …" and refuses in a sentence (background/router.py).
    const live = navigator.userActivation?.isActive === true;
    toPort(live ? event.data : "ui.nogesture " + event.data.slice(SCREENSHOT.length));
    return;
  }
  toPort(event.data);
});

function toPort(text) {
  if (port) port.postMessage(text);
  else toWorker.push(text);
}

setInterval(() => port?.postMessage('{"type": "heartbeat"}'), HEARTBEAT_MS);
connect();
