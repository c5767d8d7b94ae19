"""Image bytes for tests, built by hand, and a renderer that models an encoder.

The headers are the real formats' (PNG's IHDR, GIF's screen descriptor, a JPEG
frame header, the three WebP chunk kinds), so the code that reads sizes and types
reads them as it reads real files. :class:`ModelRenderer` stands in for the
browser's canvas on both runtimes: it "decodes" an image by reading its header and
"encodes" by returning bytes of the right type whose length follows a simple
model (bytes per pixel, times quality for JPEG). It checks the plan, not the
pixels; tests/integration/test_image_budget.py runs the same plan through a real
encoder (Pillow) and the e2e suite through Chromium's.
"""

from __future__ import annotations

import struct
import zlib

from background.attachments.model import AttachmentRefused, image_size, sniff


def png(width: int, height: int, body: bytes = b"") -> bytes:
    """A PNG signature, an IHDR chunk declaring ``width`` × ``height``, then ``body``."""

    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + body + png_chunk(b"IEND", b"")


def segment(marker: int, payload: bytes) -> bytes:
    """A JPEG marker segment: ``FF marker``, its length, ``payload``."""
    return bytes((0xFF, marker)) + struct.pack(">H", 2 + len(payload)) + payload


def jpeg(width: int, height: int, body: bytes = b"", *, extra: bytes = b"") -> bytes:
    """SOI, an APP0 (JFIF) segment, ``extra`` segments, a SOF0 frame header declaring the
    size, a start of scan, then ``body`` as the image data."""
    app0 = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    sof0 = segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    sos = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + app0 + extra + sof0 + sos + body + b"\xff\xd9"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00;"


def _riff(chunk: bytes, body: bytes) -> bytes:
    size = struct.pack("<I", len(body))
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(body)) + b"WEBP" + chunk + size + body


def webp_lossy(width: int, height: int) -> bytes:
    frame = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    return _riff(b"VP8 ", frame)


def webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    body = b"\x2f" + bits.to_bytes(4, "little")
    return _riff(b"VP8L", body)


def webp_extended(width: int, height: int) -> bytes:
    body = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return _riff(b"VP8X", body)


class ModelRenderer:
    """:class:`~background.attachments.imaging.Renderer` modelled: sizes from headers,
    encoded length = pixels × ``png_bpp`` (PNG) or pixels × ``jpeg_bpp`` × quality (JPEG).

    ``calls`` records every render as ``(width, height, mime, quality)``.
    """

    def __init__(self, png_bpp: float = 0.5, jpeg_bpp: float = 0.4) -> None:
        self.png_bpp = png_bpp
        self.jpeg_bpp = jpeg_bpp
        self.calls: list[tuple[int, int, str, float | None]] = []

    async def size(self, data: bytes) -> tuple[int, int]:
        _, mime = sniff(data, "image")
        dims = image_size(data, mime)
        if dims is None:
            raise AttachmentRefused("attachment_unreadable", "not an image")
        return dims

    async def render(self, data: bytes, width: int, height: int, mime: str, quality: float | None) -> bytes:
        self.calls.append((width, height, mime, quality))
        pixels = width * height
        if mime == "image/png":
            return png(width, height, b"\x00" * int(pixels * self.png_bpp))
        assert quality is not None and 0 < quality <= 1
        return jpeg(width, height, b"\x00" * int(pixels * self.jpeg_bpp * quality))
