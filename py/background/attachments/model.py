"""What an attachment is, what SidePy accepts, and why it refuses the rest (sans-IO).

An attachment is a file the user shows the model with a message: an **image**
(a screenshot of the tab, a pasted, dropped or picked PNG / JPEG / WebP / GIF),
a **PDF**, or a **text** file (notes, code, CSV, JSON …). Its bytes live in
IndexedDB (:mod:`background.attachments.store`); everything else about it is the
small :class:`Attachment` record, and a message keeps an :class:`AttachmentRef`
(the record without the thumbnail) so that a conversation knows what it carries
without reading any bytes.

The type is decided from the bytes, never from the name or the type the page
declared: a PNG renamed ``.pdf`` is an image, an executable renamed ``.txt`` is
not text. Every refusal is an :class:`AttachmentRefused` whose message is one
sentence saying what was wrong and what to do.

:data:`LIMITS` are the documented bounds (docs/architecture.md, "Attachments"):
the size of what the user hands over, and what one request may carry (the whole
history goes with every request, so a conversation's attachments are bounded as
a whole).
"""

from __future__ import annotations

import codecs
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ProtocolError

__all__ = [
    "LIMITS",
    "Attachment",
    "AttachmentRef",
    "AttachmentRefused",
    "Kind",
    "Limits",
    "Source",
    "carries_metadata",
    "clean_name",
    "decode_text",
    "image_size",
    "megabytes",
    "sniff",
    "text_mime",
]

Kind = Literal["image", "pdf", "text"]
Source = Literal["screenshot", "paste", "drop", "picker", "import"]

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The bounds on attachments (all sizes in bytes)."""

    image_bytes: int = 20 * _MIB
    """An image as the user hands it over (it is scaled down before it is kept)."""
    image_pixels: int = 50_000_000
    """An image's width × height, read from its header before anything decodes it
    (a small file can declare a huge picture)."""
    pdf_bytes: int = 10 * _MIB
    text_bytes: int = 1 * _MIB
    """A text file; about 250,000 tokens of English, more than most models read."""
    per_message: int = 10
    conversation_bytes: int = 32 * _MIB
    """Every attachment of a conversation together: all of them go with each request,
    and the Responses API takes at most 50 MB per request (base64 adds a third)."""
    pending_bytes: int = 32 * _MIB
    """Every attachment added to a composer and not sent yet, of all conversations
    together: what no conversation's storage bound counts."""


LIMITS = Limits()

#: Where an attachment waits when the composer's conversation has no id yet (a new chat,
#: or one the worker does not know). Reserved: no conversation may take this id.
DRAFT = "draft"


class AttachmentRefused(ProtocolError):
    """An attachment SidePy will not take or send; the message is the sentence to show.

    A :class:`~background.errors.ProtocolError`: a handler that raises it answers the
    request with an ``error`` reply. ``code`` names the reason: ``attachment_type``,
    ``attachment_size``, ``attachment_limit``, ``attachment_unreadable``,
    ``attachment_missing``, ``attachment_wire`` (the provider's API cannot carry it),
    ``screenshot_denied``, ``screenshot_failed``.
    """



class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AttachmentRef(_Record):
    """What a message keeps about one of its attachments (no bytes, no thumbnail)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    kind: Kind
    mime: str = Field(max_length=100)
    name: str = Field(max_length=200)
    bytes: int = Field(ge=0)
    width: int | None = None
    height: int | None = None

    def view(self, thumb: str | None = None) -> dict[str, object]:
        """``AttachmentView`` of docs/protocol.md; ``thumb`` is a ``data:`` URL."""
        view: dict[str, object] = {"id": self.id, "kind": self.kind, "mime": self.mime,
                                   "name": self.name, "bytes": self.bytes}
        if self.width is not None and self.height is not None:
            view["width"], view["height"] = self.width, self.height
        if thumb:
            view["thumb"] = thumb
        return view


class Attachment(AttachmentRef):
    """The stored record of an attachment (its bytes are stored beside it).

    ``sent`` is false while it waits in the composer; a pending attachment the
    user never sent is collected after a day (see ``AttachmentLibrary``).
    """

    conversation_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    source: Source
    created_at: int
    sent: bool = False
    thumb: str | None = None  # a small JPEG data: URL (images only)

    def ref(self) -> AttachmentRef:
        return AttachmentRef.model_validate(self.model_dump(include=set(AttachmentRef.model_fields)))


def megabytes(size: int) -> str:
    """``size`` for a sentence: ``"3.4 MB"``, ``"512 KB"``; a whole number of MB
    (a limit) without decimals, so that 20.0 MB over a 20 MB limit still reads as over."""
    if size >= _MIB:
        return f"{size // _MIB} MB" if size % _MIB == 0 else f"{size / _MIB:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


def clean_name(name: str, fallback: str) -> str:
    """A file's name as shown and sent: no folders, no control characters, at most
    200 characters (the extension kept)."""
    base = _UNSAFE_NAME.split(name)[-1] if name else ""
    base = " ".join(base.split()).strip(". ") or fallback
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 199 - len(ext)] + "." + ext) if dot and len(ext) <= 10 else base[:200]
    return base


# ---------------------------------------------------------------------------
# Sniffing: the type from the bytes
# ---------------------------------------------------------------------------


def _image_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


_IMAGE_LIKE = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif",
               ".avif", ".svg", ".ico")


def sniff(data: bytes, name: str, limits: Limits = LIMITS) -> tuple[Kind, str]:
    """The kind and type of ``data`` (named ``name`` for the messages), within ``limits``.

    Raises:
        AttachmentRefused: not an image, PDF or text file SidePy takes, or too large.
    """
    size = len(data)
    if not size:
        raise AttachmentRefused("attachment_unreadable", f"“{name}” is empty.")
    mime = _image_type(data)
    if mime is not None:
        if size > limits.image_bytes:
            raise AttachmentRefused(
                "attachment_size",
                f"“{name}” is {megabytes(size)}; SidePy takes images up to {megabytes(limits.image_bytes)}.",
            )
        dims = image_size(data, mime)
        if dims is None:
            raise AttachmentRefused("attachment_unreadable", f"“{name}” is not an image SidePy can read.")
        if dims[0] * dims[1] > limits.image_pixels:
            raise AttachmentRefused(
                "attachment_size",
                f"“{name}” is {dims[0]:,} × {dims[1]:,} pixels; SidePy takes images up to "
                f"{limits.image_pixels // 1_000_000} megapixels.",
            )
        return "image", mime
    if data.startswith(b"%PDF-"):
        if size > limits.pdf_bytes:
            raise AttachmentRefused(
                "attachment_size",
                f"“{name}” is {megabytes(size)}; SidePy takes PDFs up to {megabytes(limits.pdf_bytes)}.",
            )
        return "pdf", "application/pdf"
    if name.lower().endswith(_IMAGE_LIKE):
        raise AttachmentRefused(
            "attachment_type",
            f"“{name}” is not a PNG, JPEG, WebP or GIF image; save it as PNG or JPEG first.",
        )
    decode_text(data, name)  # raises when it is not text
    if size > limits.text_bytes:
        raise AttachmentRefused(
            "attachment_size",
            f"“{name}” is {megabytes(size)}; SidePy takes text files up to {megabytes(limits.text_bytes)}.",
        )
    return "text", text_mime(name)


# Control characters text files do not have (tab, line breaks, form feed and the escape
# of coloured logs are allowed): what binary files have, NUL first of all.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def decode_text(data: bytes, name: str) -> str:
    """The text of a text file: UTF-8 (with or without a byte order mark) or UTF-16
    with one. Line endings are kept.

    Raises:
        AttachmentRefused: the bytes are not such text, or hold control characters
            (NUL and the like: what binary files have and text files do not).
    """
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    encoding = "utf-16" if utf16 else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        text = None
    if text is None or _BINARY.search(text[:65536]):
        raise AttachmentRefused(
            "attachment_type",
            f"“{name}” is not an image, a PDF or a text file SidePy can read (text must be UTF-8).",
        )
    return text


#: Types the Responses API names for text files, by extension; anything else is text/plain.
_TEXT_TYPES = {
    "md": "text/markdown", "markdown": "text/markdown", "html": "text/html", "htm": "text/html",
    "css": "text/css", "csv": "text/csv", "tsv": "text/tab-separated-values", "json": "application/json",
    "xml": "text/xml", "js": "text/javascript", "mjs": "text/javascript", "ts": "application/typescript",
    "py": "text/x-python", "java": "text/x-java", "c": "text/x-c", "h": "text/x-c", "cpp": "text/x-c++",
    "cc": "text/x-c++", "hpp": "text/x-c++", "cs": "text/x-csharp", "go": "text/x-golang",
    "rs": "text/x-rust", "rb": "text/x-ruby", "php": "text/x-php", "sh": "application/x-sh",
    "tex": "text/x-tex", "sql": "application/sql", "yaml": "application/x-yaml",
    "yml": "application/x-yaml",
}  # fmt: skip


def text_mime(name: str) -> str:
    """The media type a text file is sent with, from its extension."""
    _, dot, ext = name.rpartition(".")
    return _TEXT_TYPES.get(ext.lower(), "text/plain") if dot else "text/plain"


# ---------------------------------------------------------------------------
# Image headers: the size before anything decodes the image
# ---------------------------------------------------------------------------

# JPEG start-of-frame markers (SOF0-SOF15 but DHT, JPG and DAC) carry the size.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(data: bytes, mime: str) -> tuple[int, int] | None:
    """Width and height as the file's header declares them; ``None`` when the header
    is damaged. JPEG's EXIF rotation is not applied (the decoder does that)."""
    try:
        if mime == "image/png":
            if data[12:16] != b"IHDR":
                return None
            w, h = struct.unpack(">II", data[16:24])
        elif mime == "image/gif":
            w, h = struct.unpack("<HH", data[6:10])
        elif mime == "image/webp":
            w, h = _webp_size(data)
        elif mime == "image/jpeg":
            w, h = _jpeg_size(data)
        else:
            return None
    except (struct.error, ValueError):
        return None
    return (w, h) if w > 0 and h > 0 else None


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: a key frame's start code, then 14-bit sizes
        if data[23:26] != b"\x9d\x01\x2a":
            raise ValueError("no VP8 start code")
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":  # lossless: signature 0x2f, then 14-bit (size - 1) fields
        if data[20] != 0x2F:
            raise ValueError("no VP8L signature")
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit (canvas size - 1) fields
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    raise ValueError("unknown WebP chunk")


def _jpeg_segments(data: bytes, *, whole: bool = False) -> Iterator[tuple[int, bytes]]:
    """Each marker segment of a JPEG: ``(marker, payload)``, up to its first scan (``whole``:
    every segment between and after the scans too, ending with EOI ``(0xD9, b"")`` and
    then ``(-1, rest)`` if anything follows it). Raises ValueError on a damaged or
    truncated file."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ValueError("not a marker")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0xD9:  # end of image
            yield marker, b""
            if at + 2 < len(data):
                yield -1, data[at + 2 :]
            return
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if length < 2:
            raise ValueError("bad segment length")
        yield marker, data[at + 4 : at + 2 + length]
        at += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            if not whole:
                return
            at = _scan_end(data, at)
    if whole and at + 2 == len(data) and data[at:] == b"\xff\xd9":
        yield 0xD9, b""
        return
    raise ValueError("truncated")


def _scan_end(data: bytes, at: int) -> int:
    """Where the entropy-coded data from ``at`` ends: the next marker that is not a stuffed
    byte (``FF 00``), a restart (``FF D0``-``FF D7``) or fill; the end of ``data`` if none."""
    while True:
        at = data.find(b"\xff", at)
        if at < 0 or at + 1 >= len(data):
            return len(data)
        follower = data[at + 1]
        if follower == 0x00 or 0xD0 <= follower <= 0xD7 or follower == 0xFF:
            at += 1 if follower == 0xFF else 2
            continue
        return at


def _jpeg_size(data: bytes) -> tuple[int, int]:
    for marker, payload in _jpeg_segments(data):
        if marker in _SOF:
            h, w = struct.unpack(">HH", payload[1:5])
            return w, h
        if marker == 0xDA:  # image data before any frame header
            break
    raise ValueError("no frame header")


# What a file may carry besides its pixels is told apart from what draws them, which is
# kept: JPEG's JFIF (APP0), ICC colour profile (APP2) and Adobe colour transform (APP14)
# segments, and PNG's pixel, colour and animation chunks. Anything else (EXIF with the
# camera and GPS, XMP, IPTC, comments, text chunks, private or provenance chunks, bytes
# after the image's end such as a phone's appended video) counts as more.
_JPEG_KEPT_APPS = {0xE0: b"JFIF", 0xE2: b"ICC_PROFILE", 0xEE: b"Adobe"}
_PNG_KEPT = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
             b"cICP", b"mDCv", b"cLLi", b"pHYs", b"bKGD", b"acTL", b"fcTL", b"fdAT"}


def carries_metadata(data: bytes, mime: str) -> bool:
    """Whether a JPEG or PNG carries more than what draws its pixels (see above); True for
    a file this cannot walk to its end."""
    try:
        if mime == "image/jpeg":
            return any(_jpeg_extra(marker, payload) for marker, payload in _jpeg_segments(data, whole=True))
        if mime == "image/png":
            at = 8
            while at + 8 <= len(data):
                length = int.from_bytes(data[at : at + 4], "big")
                kind = data[at + 4 : at + 8]
                if kind not in _PNG_KEPT:
                    return True
                at += 12 + length
                if kind == b"IEND":
                    return at != len(data)  # anything after the end is more
            return True
    except (struct.error, ValueError):
        return True
    return True


def _jpeg_extra(marker: int, payload: bytes) -> bool:
    if marker == -1 or marker == 0xFE:  # after the end of the image; a comment
        return True
    if 0xE0 <= marker <= 0xEF:
        kept = _JPEG_KEPT_APPS.get(marker)
        return kept is None or not payload.startswith(kept)
    return False
