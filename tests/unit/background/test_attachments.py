"""Attachments: sniffing and limits, the image budget, the library, request content on both wires.

Runs on CPython and in Pyodide. Images are hand-built headers and the renderer is
a model of an encoder (tests/support/images.py); real encoders run the same
budget in tests/integration/test_image_budget.py (Pillow) and the e2e suite (Chromium).
"""

from __future__ import annotations

import base64
import codecs
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from background.attachments.capture import SCREENSHOT_DENIED, explain_capture_failure, screenshot_name
from background.attachments.imaging import BUDGET, ImageBudget, fit, plan, prepare_image
from background.attachments.items import attachment_parts, check_sendable, decode_base64, with_attachments
from background.attachments.model import (
    LIMITS,
    AttachmentRef,
    AttachmentRefused,
    Limits,
    carries_metadata,
    clean_name,
    image_size,
    megabytes,
    sniff,
    text_mime,
)
from background.attachments.store import DRAFT, PENDING_TTL_MS, AttachmentLibrary, MemoryAttachments
from background.attachments.vision import can_see, cannot_see, vision_models
from modelclient import (
    InputFile,
    InputImage,
    InputText,
    MessageItem,
    ModelSettings,
    Prompt,
    build_chat_request,
    build_request,
    parse_item,
)
from modelclient._classify import classify_http_error
from tests.support.aio import run_sync
from tests.support.images import (
    ModelRenderer,
    gif,
    jpeg,
    png,
    png_chunk,
    segment,
    webp_extended,
    webp_lossless,
    webp_lossy,
)

# ---------------------------------------------------------------------------
# What comes in: type from the bytes, sizes from the headers, limits
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "mime", "size"),
    [
        (png(1920, 1080), "image/png", (1920, 1080)),
        (jpeg(4032, 3024), "image/jpeg", (4032, 3024)),
        (gif(320, 200), "image/gif", (320, 200)),
        (webp_lossy(800, 600), "image/webp", (800, 600)),
        (webp_lossless(16383, 2), "image/webp", (16383, 2)),
        (webp_extended(5000, 4000), "image/webp", (5000, 4000)),
    ],
    ids=["png", "jpeg", "gif", "webp-vp8", "webp-vp8l", "webp-vp8x"],
)
def test_images_are_known_by_their_bytes_and_header(data: bytes, mime: str, size: tuple[int, int]) -> None:
    # The name says PDF; the bytes say image, and the bytes win.
    assert sniff(data, "report.pdf") == ("image", mime)
    assert image_size(data, mime) == size


def test_jpeg_size_skips_segments_and_fill_bytes() -> None:
    data = jpeg(640, 480)
    exif = b"\xff\xe1" + (20).to_bytes(2, "big") + b"Exif\x00\x00" + b"\x00" * 12
    padded = data[:2] + exif + b"\xff" + data[2:]  # an EXIF segment and a fill byte before the frame
    assert image_size(padded, "image/jpeg") == (640, 480)
    # Image data before any frame header, or a truncated file: no size, refused as unreadable.
    assert image_size(b"\xff\xd8\xff\xda\x00\x02", "image/jpeg") is None
    with pytest.raises(AttachmentRefused) as refused:
        sniff(b"\xff\xd8\xff\xe0\x00", "photo.jpg")
    assert refused.value.code == "attachment_unreadable"
    assert str(refused.value) == "“photo.jpg” is not an image SidePy can read."


def test_pdf_and_text_files() -> None:
    assert sniff(b"%PDF-1.7\n...", "paper") == ("pdf", "application/pdf")
    assert sniff(b"def f():\n    return 1\n", "tool.py") == ("text", "text/x-python")
    assert sniff("ünïcödé, plain".encode(), "notes") == ("text", "text/plain")
    assert sniff(codecs.BOM_UTF16_LE + "a,b\n1,2\n".encode("utf-16-le"), "t.csv") == ("text", "text/csv")
    assert text_mime("README.MD") == "text/markdown"
    assert text_mime("Makefile") == "text/plain"


@pytest.mark.parametrize(
    ("data", "name", "code", "sentence"),
    [
        (b"", "a.txt", "attachment_unreadable", "“a.txt” is empty."),
        (b"\x7fELF\x02\x01\x01\x00\x00", "tool.txt", "attachment_type",
         "“tool.txt” is not an image, a PDF or a text file SidePy can read (text must be UTF-8)."),
        (b"BM\x00\x00", "scan.bmp", "attachment_type",
         "“scan.bmp” is not a PNG, JPEG, WebP or GIF image; save it as PNG or JPEG first."),
        (png(20000, 20000), "huge.png", "attachment_size",
         "“huge.png” is 20,000 × 20,000 pixels; SidePy takes images up to 50 megapixels."),
        (png(10, 10, b"\x00" * (20 * 1024 * 1024)), "big.png", "attachment_size",
         "“big.png” is 20.0 MB; SidePy takes images up to 20 MB."),
        (b"%PDF-" + b"\x00" * (10 * 1024 * 1024), "book.pdf", "attachment_size",
         "“book.pdf” is 10.0 MB; SidePy takes PDFs up to 10 MB."),
        (b"x" * (1024 * 1024 + 1), "log.txt", "attachment_size",
         "“log.txt” is 1.0 MB; SidePy takes text files up to 1 MB."),
    ],
    ids=["empty", "binary", "bmp", "pixels", "image-bytes", "pdf-bytes", "text-bytes"],
)  # fmt: skip
def test_refusals_say_what_and_what_to_do(data: bytes, name: str, code: str, sentence: str) -> None:
    with pytest.raises(AttachmentRefused) as refused:
        sniff(data, name)
    assert refused.value.code == code
    assert str(refused.value) == sentence


def test_names_lose_folders_and_control_characters() -> None:
    assert clean_name("C:\\Users\\me\\chart.png", "x") == "chart.png"
    assert clean_name("../../etc/passwd", "x") == "passwd"
    assert clean_name("a\x00b\nc.txt", "x") == "c.txt"
    assert clean_name("  ", "pasted image") == "pasted image"
    long = clean_name("n" * 300 + ".md", "x")
    assert len(long) == 200 and long.endswith(".md")
    assert megabytes(1536) == "2 KB" and megabytes(3 * 1024 * 1024) == "3 MB"


# ---------------------------------------------------------------------------
# The image budget
# ---------------------------------------------------------------------------


@given(st.integers(1, 30_000), st.integers(1, 30_000))
def test_fit_stays_within_the_budget_keeps_proportions_and_never_enlarges(w: int, h: int) -> None:
    fw, fh = fit(w, h, BUDGET.max_side, BUDGET.max_pixels)
    assert 1 <= fw <= w and 1 <= fh <= h
    assert max(fw, fh) <= BUDGET.max_side and fw * fh <= BUDGET.max_pixels
    if (fw, fh) != (w, h) and min(fw, fh) > 20:
        assert abs(fw / fh - w / h) / (w / h) < 0.05
    if max(w, h) <= BUDGET.max_side and w * h <= BUDGET.max_pixels:
        assert (fw, fh) == (w, h)


def test_the_panel_refuses_what_the_worker_refuses() -> None:
    # The panel checks a file's size and a message's count before reading any bytes; its
    # numbers are copies of the worker's limits (the panel's Python cannot import these).
    from panel import attachments as panel

    assert max(LIMITS.image_bytes, LIMITS.pdf_bytes, LIMITS.text_bytes) == panel.MAX_FILE_BYTES
    assert LIMITS.per_message == panel.MAX_PER_MESSAGE


def test_the_documented_budget() -> None:
    # docs/architecture.md states these numbers; a change here is a change there.
    assert (BUDGET.max_side, BUDGET.max_pixels, BUDGET.max_bytes) == (2048, 1_600_000, 1024 * 1024)
    assert fit(1920, 1080, 2048, 1_600_000) == (1686, 948)  # a full-HD screenshot
    assert fit(4032, 3024, 2048, 1_600_000) == (1460, 1095)  # a 12 MP phone photo
    assert fit(4000, 500, 2048, 1_600_000) == (2048, 256)  # a wide banner: the side bound


def test_plan_tries_png_first_for_screenshots_and_ends_small() -> None:
    steps = plan(3840, 2160, "image/png")
    assert steps[0] == (1686, 948, "image/png", None)
    assert steps[1:4] == [(1686, 948, "image/jpeg", q) for q in (0.85, 0.7, 0.55)]
    assert all(mime == "image/jpeg" and q == 0.7 for _, _, mime, q in steps[4:])
    assert max(steps[-1][:2]) >= BUDGET.min_side > max(steps[-1][:2]) * BUDGET.shrink
    assert plan(800, 600, "image/jpeg")[0] == (800, 600, "image/jpeg", 0.85)  # no PNG for photos


def test_an_image_within_the_budget_is_kept_byte_for_byte() -> None:
    renderer = ModelRenderer()
    photo = jpeg(1200, 900, b"\x01" * 200_000)
    image = run_sync(prepare_image(photo, "image/jpeg", "p.jpg", renderer))
    assert image.data == photo and (image.width, image.height, image.mime) == (1200, 900, "image/jpeg")
    assert renderer.calls == [(320, 240, "image/jpeg", BUDGET.thumb_quality)]  # only the thumbnail
    assert image.thumb.startswith("data:image/jpeg;base64,")


EXIF = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08"  # APP1's EXIF header, a TIFF header after it


@pytest.mark.parametrize(("extra", "carries"), [
    (b"", False),
    (segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + b"\x00" * 40), False),  # colours: kept
    (segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01"), False),  # colour transform: kept
    (segment(0xE1, EXIF + b"\x00" * 40), True),  # camera, time, GPS
    (segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"), True),  # XMP
    (segment(0xED, b"Photoshop 3.0\x00" + b"\x00" * 20), True),  # IPTC
    (segment(0xFE, b"taken at home"), True),  # a comment
    (segment(0xE2, b"MPF\x00" + b"\x00" * 20), True),  # not an ICC profile under APP2
])
def test_what_a_jpeg_carries_besides_its_pixels(extra: bytes, carries: bool) -> None:
    assert carries_metadata(jpeg(640, 480, b"\x01" * 100, extra=extra), "image/jpeg") is carries


@pytest.mark.parametrize(("chunk", "carries"), [
    (b"", False),
    (png_chunk(b"iCCP", b"sRGB\x00\x00" + b"\x00" * 20), False),
    (png_chunk(b"pHYs", b"\x00" * 9), False),
    (png_chunk(b"tEXt", b"Author\x00me"), True),
    (png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00<x/>"), True),
    (png_chunk(b"eXIf", b"MM\x00*\x00\x00\x00\x08"), True),
    (png_chunk(b"tIME", b"\x07\xea\x0c\x07\x0c\x00\x00"), True),
])
def test_what_a_png_carries_besides_its_pixels(chunk: bytes, carries: bool) -> None:
    assert carries_metadata(png(640, 480, chunk + png_chunk(b"IDAT", b"\x00" * 30)), "image/png") is carries


SCAN = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")


@pytest.mark.parametrize(("body", "after", "carries"), [
    (b"\x12\xff\x00\x34\xff\xd3\x56" * 10, b"", False),  # stuffed bytes and restarts are image data
    (b"\x01" * 10 + segment(0xC4, b"\x00" * 17) + SCAN + b"\x02" * 10, b"", False),  # a second scan
    (b"\x01" * 10 + segment(0xFE, b"edited by") + SCAN + b"\x02" * 10, b"", True),  # a comment between
    (b"\x01" * 100, b"Exif\x00\x00GPS", True),  # bytes after the end: a phone's trailer, a video
])
def test_a_jpeg_is_walked_to_its_end(body: bytes, after: bytes, carries: bool) -> None:
    assert carries_metadata(jpeg(640, 480, body) + after, "image/jpeg") is carries


@pytest.mark.parametrize(("chunk", "carries"), [
    (png_chunk(b"acTL", b"\x00\x00\x00\x02\x00\x00\x00\x00"), False),  # an animation draws pixels
    (png_chunk(b"caBX", b"jumb" + b"\x00" * 20), True),  # provenance: who and where
    (png_chunk(b"prIv", b"anything"), True),  # a private chunk
])
def test_a_png_keeps_only_the_chunks_that_draw_it(chunk: bytes, carries: bool) -> None:
    assert carries_metadata(png(640, 480, chunk + png_chunk(b"IDAT", b"\x00" * 30)), "image/png") is carries


def test_bytes_after_a_png_s_end_count_as_more() -> None:
    assert carries_metadata(png(640, 480) + b"Exif\x00\x00", "image/png")


def test_a_header_that_cannot_be_walked_counts_as_carrying_more() -> None:
    photo = jpeg(640, 480, b"\x01" * 100)
    assert carries_metadata(photo[:30], "image/jpeg")  # cut before its image data
    assert carries_metadata(photo[:-2], "image/jpeg")  # no end of image
    assert carries_metadata(photo[:2] + b"\x00" + photo[3:], "image/jpeg")  # not a marker
    assert carries_metadata(png(640, 480)[:-12], "image/png")  # no IEND


def test_a_photo_within_the_budget_that_carries_exif_is_drawn_again() -> None:
    # Its EXIF can hold where it was taken: only the pixels go, never the bytes as they came.
    renderer = ModelRenderer()
    photo = jpeg(1200, 900, b"\x01" * 200_000, extra=segment(0xE1, EXIF + b"\x00" * 40))
    image = run_sync(prepare_image(photo, "image/jpeg", "IMG_0002.jpg", renderer))
    assert image.data != photo and b"Exif" not in image.data
    assert renderer.calls[1] == (1200, 900, "image/jpeg", 0.85)  # after the thumbnail, at full size


def test_a_screenshot_is_scaled_and_kept_as_png_when_it_fits() -> None:
    renderer = ModelRenderer(png_bpp=0.5)
    image = run_sync(prepare_image(png(2560, 1440), "image/png", "s.png", renderer))
    assert (image.width, image.height, image.mime) == (1686, 948, "image/png")
    assert len(image.data) <= BUDGET.max_bytes


def test_a_busy_image_falls_back_to_jpeg_then_to_fewer_pixels() -> None:
    # PNG at 3 bytes a pixel never fits; JPEG at 1.2 bytes a pixel × quality needs a smaller size.
    renderer = ModelRenderer(png_bpp=3.0, jpeg_bpp=1.6)
    image = run_sync(prepare_image(webp_lossy(4000, 3000), "image/webp", "busy.webp", renderer))
    assert image.mime == "image/jpeg" and len(image.data) <= BUDGET.max_bytes
    tried = [(w, h, m) for w, h, m, _ in renderer.calls[1:]]  # after the thumbnail
    assert tried[0] == (1460, 1095, "image/png")
    assert (image.width, image.height) == tried[-1][:2] and image.width < 1460


def test_a_gif_is_always_rendered_again() -> None:
    renderer = ModelRenderer()
    image = run_sync(prepare_image(gif(300, 200), "image/gif", "a.gif", renderer))
    assert image.mime == "image/png" and image.data.startswith(b"\x89PNG")


def test_an_image_that_never_fits_is_refused_with_a_sentence() -> None:
    renderer = ModelRenderer(png_bpp=100.0, jpeg_bpp=100.0)
    tiny = ImageBudget(max_bytes=1000)
    with pytest.raises(AttachmentRefused) as refused:
        run_sync(prepare_image(png(1000, 1000, b"\x00" * 2000), "image/png", "x.png", renderer, tiny))
    assert str(refused.value) == "“x.png” could not be made small enough to send; try a smaller image."


# ---------------------------------------------------------------------------
# The library: take in, claim on send, let go
# ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


def library(**kw: Any) -> tuple[AttachmentLibrary, MemoryAttachments, Clock]:
    store, clock = MemoryAttachments(), Clock()
    counter = iter(range(1, 1000))
    lib = AttachmentLibrary(store, ModelRenderer(), clock_ms=clock, new_id=lambda: f"a{next(counter)}", **kw)
    return lib, store, clock


def test_added_attachments_are_stored_with_the_conversation() -> None:
    lib, store, _ = library()
    shot = run_sync(lib.add("c1", "", png(2560, 1440), "screenshot"))
    note = run_sync(lib.add("c1", "notes.md", b"# Notes\n", "drop"))
    assert (shot.id, shot.kind, shot.name) == ("a1", "image", "screenshot.png")
    assert (shot.width, shot.height) == (1686, 948)
    assert shot.thumb and not shot.sent
    assert (note.kind, note.mime, note.bytes, note.thumb) == ("text", "text/markdown", 8, None)
    assert [a.id for a in run_sync(lib.of_conversation("c1"))] == ["a1", "a2"]
    assert run_sync(lib.of_conversation("c2")) == []
    assert store.blobs["a2"] == b"# Notes\n"
    assert run_sync(lib.thumbs("c1")) == {"a1": shot.thumb}


def test_claim_marks_sent_and_keeps_the_order_given() -> None:
    lib, _, _ = library()
    a = run_sync(lib.add("c1", "a.txt", b"a", "picker"))
    b = run_sync(lib.add("c1", "b.txt", b"b", "picker"))
    refs = run_sync(lib.claim("c1", [b.id, a.id, b.id])).refs
    assert [r.id for r in refs] == [b.id, a.id]
    assert all(x.sent for x in run_sync(lib.of_conversation("c1")))
    # An edited message takes its attachments again.
    assert [r.id for r in run_sync(lib.claim("c1", [a.id])).refs] == [a.id]
    # A sent attachment belongs to its message: the composer cannot remove it.
    assert run_sync(lib.remove_pending(a.id)) is False
    with pytest.raises(AttachmentRefused) as refused:
        run_sync(lib.claim("c2", [a.id]))  # sent in another conversation
    assert refused.value.code == "attachment_missing"


def test_a_new_chats_attachments_wait_as_drafts_and_move_in_on_send() -> None:
    lib, store, _ = library()
    shot = run_sync(lib.add(None, "", png(800, 600), "screenshot"))
    assert shot.conversation_id == DRAFT and store.meta[shot.id][0] == DRAFT
    run_sync(lib.claim("c7", [shot.id]))
    assert [a.id for a in run_sync(lib.of_conversation("c7"))] == [shot.id]
    assert store.meta[shot.id][0] == "c7" and run_sync(lib.of_conversation(DRAFT)) == []


def test_limits_per_message_and_per_conversation() -> None:
    lib, _, _ = library(limits=Limits(per_message=2, conversation_bytes=10))
    ids = [run_sync(lib.add("c1", f"{n}.txt", b"1234", "picker")).id for n in range(2)]
    with pytest.raises(AttachmentRefused) as refused:
        run_sync(lib.add("c1", "third.txt", b"12345", "picker"))
    assert str(refused.value) == (
        "This conversation already carries 1 KB of attachments and each request takes at most 1 KB; "
        "start a new conversation for “third.txt”."
    )
    with pytest.raises(AttachmentRefused, match="up to 2 attachments"):
        run_sync(lib.claim("c1", [*ids, "a9"]))


def test_unsent_attachments_of_every_conversation_together_are_bounded() -> None:
    # Each under its own conversation id (a script looping over made-up ids): no
    # conversation's bound is reached, the bound on what waits unsent is.
    lib, _, _ = library(limits=Limits(conversation_bytes=10, pending_bytes=12))
    for n in range(3):
        run_sync(lib.add(f"x{n}", f"{n}.txt", b"1234", "paste"))
    with pytest.raises(AttachmentRefused) as refused:
        run_sync(lib.add("x9", "more.txt", b"1", "paste"))
    assert refused.value.code == "attachment_limit"
    assert str(refused.value) == ("Attachments not sent yet already take 1 KB (SidePy keeps at most 1 KB); "
                                  "send or remove some before adding “more.txt”.")
    # Sent ones belong to their conversation's bound, not this one.
    run_sync(lib.claim("c1", [a.id for a in run_sync(lib.of_conversation("x0"))]))
    run_sync(lib.add("x9", "more.txt", b"1", "paste"))


def test_claim_counts_what_moves_in_against_the_conversation_s_bound() -> None:
    lib, _, _ = library(limits=Limits(conversation_bytes=10))
    run_sync(lib.claim("c1", [run_sync(lib.add("c1", "sent.txt", b"123456", "paste")).id]))
    waiting = run_sync(lib.add(None, "new.txt", b"12345", "paste"))  # a new chat's: within its own bound
    with pytest.raises(AttachmentRefused) as refused:
        run_sync(lib.claim("c1", [waiting.id]))  # 6 + 5 bytes over 10
    assert refused.value.code == "attachment_limit"
    assert "start a new conversation for these attachments" in str(refused.value)
    assert not run_sync(lib.record(waiting.id)).sent  # type: ignore[union-attr]  # nothing was moved
    run_sync(lib.claim("c2", [waiting.id]))


def test_pending_attachments_are_collected_after_a_day_sent_ones_never() -> None:
    lib, _, clock = library()
    old = run_sync(lib.add("c1", "old.txt", b"old", "paste"))
    sent = run_sync(lib.add("c1", "sent.txt", b"sent", "paste"))
    run_sync(lib.claim("c1", [sent.id]))
    clock.now += PENDING_TTL_MS + 1
    run_sync(lib.add("c2", "new.txt", b"new", "paste"))  # any add collects
    assert {a.name for a in run_sync(lib.all())} == {"sent.txt", "new.txt"}
    assert run_sync(lib.data(old.id)) is None


def test_remove_and_drop() -> None:
    lib, store, _ = library()
    a = run_sync(lib.add("c1", "a.txt", b"a", "picker"))
    b = run_sync(lib.add("c1", "b.txt", b"b", "picker"))
    c = run_sync(lib.add("c2", "c.txt", b"c", "picker"))
    assert run_sync(lib.remove_pending(a.id)) is True
    run_sync(lib.claim("c1", [b.id]))
    run_sync(lib.drop_unreferenced("c1", keep=[b.id]))
    assert run_sync(lib.data(b.id)) == b"b"
    run_sync(lib.drop_unreferenced("c1", keep=[]))
    assert run_sync(lib.data(b.id)) is None
    run_sync(lib.drop_conversations(["c2"]))
    assert store.meta == {} and store.blobs == {}
    assert c.id not in store.meta


def test_get_and_unreadable_records() -> None:
    lib, store, _ = library()
    a = run_sync(lib.add("c1", "a.txt", b"a", "picker"))
    assert run_sync(lib.get(a.id))[1] == b"a"
    store.meta["junk"] = ("c1", "{not json")
    assert [x.id for x in run_sync(lib.of_conversation("c1"))] == [a.id]  # skipped, not fatal
    assert run_sync(lib.record("junk")) is None
    with pytest.raises(AttachmentRefused, match="no longer stored"):
        run_sync(lib.get("a404"))


# ---------------------------------------------------------------------------
# Request content on both wire APIs
# ---------------------------------------------------------------------------

IMAGE = AttachmentRef(id="i1", kind="image", mime="image/png", name="screenshot.png", bytes=4,
                      width=2, height=1)
PDF = AttachmentRef(id="p1", kind="pdf", mime="application/pdf", name="paper", bytes=8)
TEXT = AttachmentRef(id="t1", kind="text", mime="text/x-python", name="tool.py", bytes=20)
DATA = {"i1": b"\x89PNG", "p1": b"%PDF-1.7", "t1": b"print('```')\n"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_responses_wire_images_and_files() -> None:
    parts = attachment_parts([IMAGE, PDF, TEXT], DATA, "responses")
    assert parts == [
        {"type": "input_image", "image_url": "data:image/png;base64," + b64(DATA["i1"])},
        {"type": "input_file", "filename": "paper.pdf",
         "file_data": "data:application/pdf;base64," + b64(DATA["p1"])},
        {"type": "input_file", "filename": "tool.py",
         "file_data": "data:text/x-python;base64," + b64(DATA["t1"])},
    ]


def test_chat_wire_inlines_text_with_its_name_and_notes_an_earlier_pdf() -> None:
    parts = attachment_parts([IMAGE, PDF, TEXT], DATA, "chat")
    assert parts[0]["type"] == "input_image"
    assert parts[1] == {"type": "input_text",
                        "text": "[The PDF “paper” is not included: this provider takes no PDF files.]"}
    # The fence is longer than the ``` inside the file.
    assert parts[2] == {"type": "input_text", "text": "File “tool.py”:\n````\nprint('```')\n````"}


def test_a_new_pdf_is_refused_on_the_chat_wire_with_the_reason() -> None:
    check_sendable([IMAGE, PDF, TEXT], "responses")
    check_sendable([IMAGE, TEXT], "chat")
    with pytest.raises(AttachmentRefused) as refused:
        check_sendable([IMAGE, PDF], "chat")
    assert refused.value.code == "attachment_wire"
    assert str(refused.value) == (
        "“paper” cannot be sent: this provider speaks the Chat Completions API, which takes text and "
        "images but no PDF files. Remove the PDF, paste its text instead, or switch to a provider on the "
        "Responses API."
    )


def test_parts_go_between_the_page_context_and_the_typed_text_and_parse_as_items() -> None:
    item = {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "PAGE"},
                        {"type": "input_text", "text": "what is wrong?"}]}
    sent = with_attachments(item, [IMAGE, TEXT], DATA, "responses")
    assert [p["type"] for p in sent["content"]] == ["input_text", "input_image", "input_file", "input_text"]
    assert sent["content"][-1]["text"] == "what is wrong?"
    assert item["content"][1]["text"] == "what is wrong?" and len(item["content"]) == 2  # not modified
    parsed = parse_item(sent)
    assert isinstance(parsed, MessageItem)
    assert [type(p) for p in parsed.content] == [InputText, InputImage, InputFile, InputText]
    assert with_attachments(item, [], DATA, "chat") is item


def test_an_attachment_whose_bytes_are_gone_becomes_a_note() -> None:
    assert attachment_parts([IMAGE], {}, "responses") == [
        {"type": "input_text", "text": "[Attachment “screenshot.png” was here; it is no longer stored.]"}
    ]


def test_base64_payloads() -> None:
    assert decode_base64("data:image/png;base64," + b64(b"abc")) == b"abc"
    assert decode_base64(b64(b"xyz")) == b"xyz"
    with pytest.raises(AttachmentRefused, match="not base64"):
        decode_base64("data:image/png;base64,@@@")


def test_limits_are_the_documented_ones() -> None:
    assert Limits(20 * 1024**2, 50_000_000, 10 * 1024**2, 1024**2, 10, 32 * 1024**2) == LIMITS


# ---------------------------------------------------------------------------
# Screenshots: what a refused capture says
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "url", "code", "sentence"),
    [
        ("Either the '<all_urls>' or 'activeTab' permission is required.", "", "screenshot_denied",
         SCREENSHOT_DENIED),
        ("Cannot access contents of the page. Extension manifest must request permission to access the "
         "respective host.", "https://example.com/", "screenshot_denied", SCREENSHOT_DENIED),
        ("Cannot access a chrome:// URL", "", "screenshot_denied",
         "SidePy cannot take screenshots of the browser's own pages or the Web Store; switch to a web page."),
        ("whatever", "chrome://settings/", "screenshot_denied",
         "SidePy cannot take screenshots of the browser's own pages or the Web Store; switch to a web page."),
        ("This request exceeds the MAX_CAPTURE_VISIBLE_TAB_CALLS_PER_SECOND quota.", "", "screenshot_failed",
         "Chrome takes at most two screenshots a second; wait a moment and try again."),
        ("No window with id: 7.", "", "screenshot_failed",
         "No web page is open in this window to take a screenshot of."),
        ("Failed to capture tab: unknown error", "", "screenshot_failed",
         "SidePy could not take a screenshot of this tab (Failed to capture tab: unknown error)."),
    ],
    ids=["no-grant", "no-host-access", "browser-page", "browser-url", "too-fast", "no-window", "other"],
)  # fmt: skip
def test_a_refused_capture_reads_as_one_sentence(error: str, url: str, code: str, sentence: str) -> None:
    refused = explain_capture_failure(error, url)
    assert (refused.code, str(refused)) == (code, sentence)


def test_the_denied_sentence_says_how_to_allow_it() -> None:
    assert SCREENSHOT_DENIED.count(". ") == 0 and SCREENSHOT_DENIED.endswith(".")  # one sentence
    assert "toolbar" in SCREENSHOT_DENIED and "Ctrl+Shift+Y" in SCREENSHOT_DENIED


def test_screenshot_names() -> None:
    assert screenshot_name("  Quarterly   revenue — Dashboard ") == "Quarterly revenue — Dashboard.png"
    assert screenshot_name("") == "screenshot.png"
    assert len(screenshot_name("x" * 500)) == 84


# ---------------------------------------------------------------------------
# Models that cannot see
# ---------------------------------------------------------------------------


def http_400(body: str) -> dict[str, Any]:
    return classify_http_error(400, {}, body).to_json()


SERVER_REFUSALS = [
    '{"error": {"message": "Invalid content type. image_url is only supported by certain models.", '
    '"type": "invalid_request_error"}}',  # OpenAI, a text-only model on the Chat wire
    '{"error": {"message": "The image data you provided does not represent a valid image."}}',
    '{"error": {"message": "invalid image"}}',
    '{"error": "model does not support images"}',  # Ollama
    '{"object": "error", "message": "llama-3-8b is not a multimodal model", "code": 400}',  # vLLM
    '{"error": {"message": "Invalid input: input_file is not supported for this model."}}',
]


@pytest.mark.parametrize("body", SERVER_REFUSALS)
def test_a_refusal_of_images_says_the_model_cannot_read_them_and_offers_models_that_can(body: str) -> None:
    models = ["gpt-3.5-turbo", "gpt-5", "o3-mini", "gpt-4.1-mini", "my-local-model", "gpt-4o"]
    info = cannot_see(http_400(body), model="gpt-3.5-turbo", models=models, kinds={"image"})
    assert info is not None and info["kind"] == "model_cannot_see"
    assert info["message"] == (
        "gpt-3.5-turbo cannot read images, so the server refused this message. Models of this provider "
        "that can: gpt-5, gpt-4.1-mini, gpt-4o. Pick one and send again, or remove the images."
    )
    assert info["fields"]["models"] == ["gpt-5", "gpt-4.1-mini", "gpt-4o"]


def test_without_known_models_it_still_reads_as_a_sentence() -> None:
    info = cannot_see(http_400('{"error": "invalid image"}'), model="local", models=["local", "other"],
                      kinds={"pdf", "text"})
    assert info is not None
    assert info["message"] == ("local cannot read files, so the server refused this message. Pick a model "
                               "that reads files and send again, or remove the files.")


def test_other_errors_and_requests_without_attachments_are_left_alone() -> None:
    refusal = http_400('{"error": {"message": "invalid image"}}')
    assert cannot_see(refusal, model="m", models=[], kinds=set()) is None
    other = http_400('{"error": {"message": "Unsupported parameter: temperature"}}')
    assert cannot_see(other, model="m", models=[], kinds={"image"}) is None
    quota = {"kind": "quota_exceeded", "message": "image"}
    assert cannot_see(quota, model="m", models=[], kinds={"image"}) is None


@pytest.mark.parametrize(
    ("model", "sees"),
    [("gpt-5-mini", True), ("openai/gpt-4o", True), ("gemini-2.5-flash", True), ("llava:13b", True),
     ("qwen2.5-vl-7b-instruct", True), ("llama3.2-vision", True), ("gpt-3.5-turbo", False),
     ("o3-mini", False), ("gpt-oss-20b", False), ("deepseek-chat", None), ("llama3.1:8b", None)],
)  # fmt: skip
def test_which_models_read_images(model: str, sees: bool | None) -> None:
    assert can_see(model) is sees
    assert vision_models([model, model]) == ([model] if sees else [])


def test_attachments_in_the_request_bodies_of_both_wire_apis() -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "what is wrong?"}]}
    settings = ModelSettings(model="gpt-4.1")
    responses = build_request(
        Prompt(input=[parse_item(with_attachments(item, [IMAGE, PDF, TEXT], DATA, "responses"))]),
        settings, base_instructions="x", conversation_id="c",
    ).to_payload()
    assert responses["input"][0]["content"] == [
        {"type": "input_image", "image_url": "data:image/png;base64," + b64(DATA["i1"])},
        {"type": "input_file", "filename": "paper.pdf",
         "file_data": "data:application/pdf;base64," + b64(DATA["p1"])},
        {"type": "input_file", "filename": "tool.py",
         "file_data": "data:text/x-python;base64," + b64(DATA["t1"])},
        {"type": "input_text", "text": "what is wrong?"},
    ]
    chat = build_chat_request(
        Prompt(input=[parse_item(with_attachments(item, [IMAGE, TEXT], DATA, "chat"))]),
        settings, base_instructions="",
    ).to_payload()
    assert chat["messages"] == [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(DATA["i1"])}},
        {"type": "text", "text": "File “tool.py”:\n````\nprint('```')\n````"},
        {"type": "text", "text": "what is wrong?"},
    ]}]  # fmt: skip
