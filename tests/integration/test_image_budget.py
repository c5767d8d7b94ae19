"""The image budget's plan through a real encoder: Pillow's PNG and JPEG (CPython).

The worker renders with Chromium's canvas (extension/bridges/images.js; the e2e
suite pastes a turned photo, a transparent logo and an animated GIF into the panel
and reads what the model receives). Here the same plan (background.attachments.imaging)
drives :class:`PillowRenderer`, a stand-in that behaves like the canvas bridge, on
images that stress each branch of the plan: a screenshot that fits as PNG, noise no
PNG can hold, a small JPEG kept as it is, and a small photo or PNG that carries its
camera, GPS position or author drawn again without them. The EXIF, transparency and
GIF tests check that the plan asks for the right output (portrait size, PNG) given a
renderer that turns, keeps alpha and takes the first frame: they test the plan, not
the browser.
Every result is decoded again and checked against the budget.
"""

from __future__ import annotations

import base64
import io
import random

import pytest
from PIL import Image, ImageDraw, ImageOps, PngImagePlugin

from background.attachments.imaging import BUDGET, PreparedImage, prepare_image
from background.attachments.model import sniff
from tests.support.aio import run_sync


class PillowRenderer:
    """:class:`~background.attachments.imaging.Renderer` with Pillow, behaving like the canvas
    bridge: EXIF rotation applied, JPEG on white."""

    def __init__(self) -> None:
        self.renders = 0

    @staticmethod
    def _open(data: bytes) -> Image.Image:
        image = Image.open(io.BytesIO(data))
        image.seek(0)
        return ImageOps.exif_transpose(image)

    async def size(self, data: bytes) -> tuple[int, int]:
        return self._open(data).size

    async def render(self, data: bytes, width: int, height: int, mime: str, quality: float | None) -> bytes:
        self.renders += 1
        image = self._open(data).convert("RGBA").resize((width, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if mime == "image/png":
            image.save(out, "PNG")
        else:
            assert quality is not None
            flat = Image.new("RGB", image.size, "white")
            flat.paste(image, mask=image.getchannel("A"))
            flat.save(out, "JPEG", quality=round(quality * 100))
        return out.getvalue()


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def screenshot() -> bytes:
    """A 2560×1440 page: white, a header bar, lines of dark 'text', a chart."""
    image = Image.new("RGB", (2560, 1440), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 2560, 120), fill=(32, 33, 36))
    for row in range(40):
        y = 180 + row * 30
        draw.rectangle((80, y, 80 + 200 + (row * 137) % 900, y + 14), fill=(60, 64, 67))
    for bar in range(12):
        draw.rectangle((1500 + bar * 80, 1300 - bar * 70, 1550 + bar * 80, 1300), fill=(26, 115, 232))
    return encode(image, "PNG")


def noise(width: int, height: int) -> Image.Image:
    rng = random.Random(14)
    return Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))


def check(data: bytes, mime: str, width: int, height: int) -> Image.Image:
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[mime]
    assert decoded.size == (width, height)
    assert max(width, height) <= BUDGET.max_side and width * height <= BUDGET.max_pixels
    assert len(data) <= BUDGET.max_bytes
    return decoded


def prepared(data: bytes, name: str = "x") -> tuple[PreparedImage, PillowRenderer]:
    _, mime = sniff(data, name)
    renderer = PillowRenderer()
    return run_sync(prepare_image(data, mime, name, renderer)), renderer


def test_a_screenshot_is_scaled_and_stays_png() -> None:
    image, _ = prepared(screenshot())
    assert (image.mime, image.width, image.height) == ("image/png", 1686, 948)
    check(image.data, image.mime, image.width, image.height)
    thumb = Image.open(io.BytesIO(base64.b64decode(image.thumb.split(",", 1)[1])))
    assert thumb.format == "JPEG" and thumb.size == (320, 180)


def test_noise_no_png_can_hold_ends_as_jpeg_within_budget() -> None:
    image, renderer = prepared(encode(noise(3000, 2000), "PNG"))
    assert (image.mime, image.width, image.height) == ("image/jpeg", 1549, 1032)
    check(image.data, image.mime, image.width, image.height)
    assert renderer.renders >= 3  # the thumbnail, a PNG too large, then JPEG


def test_the_plan_for_a_turned_phone_photo_scales_it_upright_with_the_stand_in() -> None:
    photo = noise(800, 600).resize((4032, 3024))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    data = encode(photo, "JPEG", quality=92, exif=exif)
    image, _ = prepared(data, "IMG_0001.jpg")
    assert image.mime == "image/jpeg"
    assert image.height > image.width  # portrait once turned
    check(image.data, image.mime, image.width, image.height)


def test_the_plan_keeps_a_transparent_logo_as_png_with_the_stand_in() -> None:
    logo = Image.new("RGBA", (3000, 3000), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((500, 500, 2500, 2500), fill=(220, 40, 40, 255))
    image, _ = prepared(encode(logo, "PNG"))
    decoded = check(image.data, image.mime, image.width, image.height)
    assert image.mime == "image/png" and decoded.mode == "RGBA"
    assert decoded.getpixel((0, 0))[3] == 0


def test_the_plan_sends_an_animated_gif_as_png_with_the_stand_in() -> None:
    frames = [Image.new("RGB", (400, 300), color) for color in ("red", "blue")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image, _ = prepared(data, "anim.gif")
    decoded = check(image.data, image.mime, 400, 300)
    assert image.mime == "image/png" and decoded.convert("RGB").getpixel((10, 10)) == (255, 0, 0)


@pytest.mark.parametrize("fmt", ["WEBP"])
def test_webp_is_sent_as_png_or_jpeg(fmt: str) -> None:
    image, _ = prepared(encode(noise(300, 200).resize((1200, 800)), fmt))
    assert image.mime in ("image/png", "image/jpeg")
    check(image.data, image.mime, 1200, 800)


def test_a_small_jpeg_is_kept_byte_for_byte() -> None:
    data = encode(noise(64, 48).resize((1024, 768)), "JPEG", quality=80)
    image, renderer = prepared(data)
    assert image.data == data and renderer.renders == 1  # the thumbnail only


def phone_exif(orientation: int = 1) -> Image.Exif:
    """What a phone writes: its make and model, and where the photo was taken."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Pixel", "Pixel 9"
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.6)  # latitude
    gps[3], gps[4] = "E", (2.0, 17.0, 40.2)  # longitude
    return exif


def test_pillow_writes_the_gps_position_the_next_tests_look_for() -> None:
    data = encode(noise(64, 48).resize((1024, 768)), "JPEG", quality=80, exif=phone_exif())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)[2] == (48.0, 51.0, 29.6)


def test_a_small_photo_s_exif_and_gps_position_are_not_sent() -> None:
    data = encode(noise(64, 48).resize((1024, 768)), "JPEG", quality=80, exif=phone_exif())
    image, _ = prepared(data, "PXL_0001.jpg")
    decoded = check(image.data, image.mime, 1024, 768)
    assert not decoded.getexif() and b"Exif" not in image.data


def test_a_small_turned_photo_is_sent_upright_without_its_exif() -> None:
    data = encode(noise(64, 48).resize((1024, 768)), "JPEG", quality=80, exif=phone_exif(orientation=6))
    image, _ = prepared(data, "PXL_0002.jpg")
    decoded = check(image.data, image.mime, 768, 1024)  # drawn turned, as the stand-in's decoder shows it
    assert not decoded.getexif()


def test_a_png_s_text_chunks_are_not_sent() -> None:
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    Image.new("RGB", (400, 300), "white").save(out, "PNG", pnginfo=info)
    image, _ = prepared(out.getvalue(), "diagram.png")
    decoded = check(image.data, image.mime, 400, 300)
    assert image.mime == "image/png" and "Author" not in decoded.info


def test_a_progressive_jpeg_with_restarts_and_nothing_else_is_kept_byte_for_byte() -> None:
    # Its scans are walked to the end of the image: nothing in between or after but pixels.
    data = encode(noise(64, 48).resize((800, 600)), "JPEG", quality=85, progressive=True,
                  restart_marker_blocks=1)
    image, renderer = prepared(data)
    assert image.data == data and renderer.renders == 1  # the thumbnail only
