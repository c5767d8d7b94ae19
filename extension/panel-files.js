// The panel's file reader: posts a file the user gave the panel (paste, drop, the
// picker) to the worker as the `data` of an attach.add message, without passing its
// bytes through MicroPython (whose heap is small and whose JSON is slow on long
// strings). Python (panel/attachments.py, panel/main.py) decides what is sent and
// writes the rest of the message; this only reads the file and completes it.

globalThis.sidepyFiles = {
  // `header` is the attach.add message as JSON text, without `data`.
  post(file, header) {
    const send = (data) => {
      const msg = JSON.parse(header);
      msg.data = data; // base64; "" when the file could not be read (the worker says so)
      window.parent.postMessage(JSON.stringify(msg), "*");
    };
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      send(url.slice(url.indexOf(",") + 1));
    };
    reader.onerror = () => send("");
    reader.readAsDataURL(file);
  },
};
