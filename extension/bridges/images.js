// The browser's image decoder and canvas, for Python (background/attachments/imaging.py
// decides what to render; this only renders it). Runs in the service worker:
// createImageBitmap and OffscreenCanvas exist there, no DOM needed.

function bitmap(bytes, options) {
  return createImageBitmap(new Blob([bytes]), options); // EXIF rotation applied ("from-image")
}

export const images = {
  // [width, height] of the decoded image; rejects when it does not decode.
  async size(bytes) {
    const image = await bitmap(bytes);
    const size = [image.width, image.height];
    image.close();
    return size;
  },
  // The image scaled to width x height, encoded as `type` (image/png, or image/jpeg
  // at `quality` 0-1 on white: JPEG has no transparency).
  async render(bytes, width, height, type, quality) {
    const image = await bitmap(bytes, { resizeWidth: width, resizeHeight: height, resizeQuality: "high" });
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d");
    if (type === "image/jpeg") {
      context.fillStyle = "#fff";
      context.fillRect(0, 0, width, height);
    }
    context.drawImage(image, 0, 0);
    image.close();
    const blob = await canvas.convertToBlob(quality == null ? { type } : { type, quality });
    if (blob.type !== type) throw new Error(`this browser cannot encode ${type}`);
    return new Uint8Array(await blob.arrayBuffer());
  },
};
