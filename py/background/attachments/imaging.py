"""The image budget: what an image is scaled and compressed to before it is kept and sent.

Pixels are processed in the service worker, by the browser's own decoders and
encoders (``createImageBitmap`` and ``OffscreenCanvas``, ``extension/bridges/
images.js``): a screenshot is born there, and the panel's sandbox hands over the
file it was given. This module decides *what* to render; a :class:`Renderer`
does it. The browser's renderer is ``background.browser.CanvasImages``; the tests
use a real encoder on CPython (Pillow) and a model of one on both runtimes.

The budget (:class:`ImageBudget`), documented in docs/architecture.md:

* **pixels**: at most 2048 px on the longer side and 1.6 megapixels. Current
  vision models read no more than that (GPT-4o scales to fit 2048 px and then to
  768 px on the shorter side; the GPT-4.1 mini family reads 1,536 tiles of 32 px,
  ~1.57 MP): more pixels cost upload and storage and are thrown away by the server;
* **bytes**: at most 1 MiB once encoded;
* **format**: a JPEG or PNG already within both bounds and carrying nothing but its
  pixels (no EXIF, which holds the camera and often the place it was taken, no XMP,
  IPTC, comments or text chunks: ``model.carries_metadata``) is kept byte for byte.
  Otherwise it is drawn again, which keeps only the pixels (a photo's rotation
  applied): PNG first for images that came as PNG, GIF or WebP (screenshots and
  diagrams keep crisp text), if it fits; then JPEG at falling quality; then
  smaller and smaller JPEGs. JPEG and PNG are what every vision server decodes
  (llama.cpp reads no WebP); a GIF's first frame is what is kept. JPEG has no
  transparency: the renderer paints white behind the image.

Every image also gets a thumbnail (320 px on the longer side, JPEG: sharp at twice
the ~160 CSS px a message tile shows) for the composer's chips and the message's tiles.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Protocol

from .model import AttachmentRefused, carries_metadata

__all__ = [
    "BUDGET",
    "NO_RENDERER",
    "ImageBudget",
    "PreparedImage",
    "Renderer",
    "data_url",
    "fit",
    "plan",
    "prepare_image",
]


class Renderer(Protocol):
    """Decodes and encodes images (the browser's canvas in the worker)."""

    async def size(self, data: bytes) -> tuple[int, int]:
        """Width and height of the decoded image, EXIF rotation applied.

        Raises:
            AttachmentRefused: the image does not decode.
        """
        ...

    async def render(self, data: bytes, width: int, height: int, mime: str, quality: float | None) -> bytes:
        """``data`` scaled to ``width`` × ``height`` and encoded as ``mime`` (``image/png`` or
        ``image/jpeg`` at ``quality`` 0-1, on white)."""
        ...


class _NoRenderer:
    """Where no browser decodes images (the worker built without one): images are refused."""

    async def size(self, data: bytes) -> tuple[int, int]:
        raise AttachmentRefused("attachment_unreadable", "Images cannot be read here.")

    async def render(self, data: bytes, width: int, height: int, mime: str, quality: float | None) -> bytes:
        raise AttachmentRefused("attachment_unreadable", "Images cannot be read here.")


NO_RENDERER: Renderer = _NoRenderer()


@dataclass(frozen=True)
class ImageBudget:
    """What a kept image may be (see the module docstring)."""

    max_side: int = 2048
    max_pixels: int = 1_600_000
    max_bytes: int = 1024 * 1024
    qualities: tuple[float, ...] = (0.85, 0.7, 0.55)
    shrink: float = 0.75
    """Each further step scales the image by this, at the middle quality."""
    min_side: int = 320
    """No step makes the longer side smaller than this."""
    thumb_side: int = 320
    thumb_quality: float = 0.75


BUDGET = ImageBudget()


@dataclass(frozen=True)
class PreparedImage:
    """An image within the budget, with its thumbnail."""

    data: bytes
    mime: str
    width: int
    height: int
    thumb: str  # data: URL


def fit(width: int, height: int, max_side: int, max_pixels: int) -> tuple[int, int]:
    """The largest size with ``width:height``'s proportions within both bounds (never larger)."""
    scale = min(1.0, max_side / max(width, height), math.sqrt(max_pixels / (width * height)))
    if scale >= 1.0:
        return width, height
    w, h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    while w * h > max_pixels:  # floor can leave a rounding pixel too many
        w, h = max(1, w - 1), max(1, math.floor(h * (w - 1) / w))
    return w, h


Step = tuple[int, int, str, float | None]


def plan(width: int, height: int, mime: str, budget: ImageBudget = BUDGET) -> list[Step]:
    """The renderings to try, in order, for an image of ``width`` × ``height`` that came
    as ``mime``: ``(width, height, type, quality)``; the first that fits ``max_bytes`` is kept."""
    w, h = fit(width, height, budget.max_side, budget.max_pixels)
    steps: list[Step] = []
    if mime != "image/jpeg":
        steps.append((w, h, "image/png", None))
    steps += [(w, h, "image/jpeg", q) for q in budget.qualities]
    middle = budget.qualities[len(budget.qualities) // 2]
    while max(w, h) * budget.shrink >= budget.min_side:
        w, h = max(1, round(w * budget.shrink)), max(1, round(h * budget.shrink))
        steps.append((w, h, "image/jpeg", middle))
    return steps


def data_url(mime: str, data: bytes) -> str:
    """``data:<mime>;base64,<data>``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


async def prepare_image(
    data: bytes, mime: str, name: str, renderer: Renderer, budget: ImageBudget = BUDGET
) -> PreparedImage:
    """``data`` (a sniffed image of type ``mime``) within ``budget``, with its thumbnail.

    Raises:
        AttachmentRefused: it does not decode, or (never seen) no rendering fits.
    """
    width, height = await renderer.size(data)
    thumb_w, thumb_h = fit(width, height, budget.thumb_side, budget.thumb_side**2)
    thumb = await renderer.render(data, thumb_w, thumb_h, "image/jpeg", budget.thumb_quality)
    fits = fit(width, height, budget.max_side, budget.max_pixels) == (width, height)
    as_it_is = mime in ("image/jpeg", "image/png") and not carries_metadata(data, mime)
    if fits and as_it_is and len(data) <= budget.max_bytes:
        return PreparedImage(data, mime, width, height, data_url("image/jpeg", thumb))
    for w, h, kind, quality in plan(width, height, mime, budget):
        out = await renderer.render(data, w, h, kind, quality)
        if len(out) <= budget.max_bytes:
            return PreparedImage(out, kind, w, h, data_url("image/jpeg", thumb))
    raise AttachmentRefused(
        "attachment_size", f"“{name}” could not be made small enough to send; try a smaller image."
    )
