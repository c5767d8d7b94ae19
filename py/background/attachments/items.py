"""Attachments as request content, on each wire API (sans-IO).

A user message's stored item holds its text only; its attachments are added
when a request is built, from the bytes in IndexedDB, in the shape the
provider's wire API takes:

=========  ===========================================  ============================================
kind       Responses API (``wire_api="responses"``)     Chat Completions (``wire_api="chat"``)
=========  ===========================================  ============================================
image      ``input_image``, ``image_url`` a data: URL   the same part; the chat request sends it as
                                                        an ``image_url`` content part
PDF        ``input_file``: ``filename``, ``file_data``  refused for a new message (no PDF part the
           a ``data:application/pdf`` URL               compatible servers share); an earlier one
                                                        becomes a note saying it was left out
text       ``input_file`` with its text type            ``input_text``: the name, then the text in
                                                        a fence longer than any it contains
=========  ===========================================  ============================================

The parts go after the page context and before what the user typed, in the
order they were attached. An attachment whose bytes are gone (site data
cleared) becomes a note, so the conversation still goes on.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, Literal

from .imaging import data_url
from .model import AttachmentRef, AttachmentRefused, decode_text

__all__ = ["WireApi", "attachment_parts", "carried_kinds", "check_sendable", "decode_base64",
           "with_attachments"]

WireApi = Literal["responses", "chat"]
JsonObject = dict[str, Any]


def check_sendable(refs: list[AttachmentRef], wire: WireApi) -> None:
    """Refuse, before anything is sent, a new message whose attachments the wire cannot carry.

    Raises:
        AttachmentRefused: ``attachment_wire`` — a PDF for a Chat Completions provider.
    """
    if wire != "chat":
        return
    pdfs = [ref.name for ref in refs if ref.kind == "pdf"]
    if pdfs:
        raise AttachmentRefused(
            "attachment_wire",
            f"“{pdfs[0]}” cannot be sent: this provider speaks the Chat Completions API, which takes "
            "text and images but no PDF files. Remove the PDF, paste its text instead, or switch to a "
            "provider on the Responses API.",
        )


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    return "`" * (longest + 1)


def _note(text: str) -> JsonObject:
    return {"type": "input_text", "text": text}


def attachment_parts(refs: list[AttachmentRef], data: Mapping[str, bytes], wire: WireApi) -> list[JsonObject]:
    """The content parts of ``refs`` (bytes from ``data``) on ``wire``."""
    parts: list[JsonObject] = []
    for ref in refs:
        blob = data.get(ref.id)
        if blob is None:
            parts.append(_note(f"[Attachment “{ref.name}” was here; it is no longer stored.]"))
        elif ref.kind == "image":
            parts.append({"type": "input_image", "image_url": data_url(ref.mime, blob)})
        elif wire == "responses":
            pdf_without_extension = ref.kind == "pdf" and not ref.name.lower().endswith(".pdf")
            filename = ref.name + ".pdf" if pdf_without_extension else ref.name
            parts.append({"type": "input_file", "filename": filename, "file_data": data_url(ref.mime, blob)})
        elif ref.kind == "pdf":
            parts.append(_note(f"[The PDF “{ref.name}” is not included: this provider takes no PDF files.]"))
        else:
            try:
                text = decode_text(blob, ref.name)
            except AttachmentRefused:
                parts.append(_note(f"[Attachment “{ref.name}” could not be read as text.]"))
                continue
            fence = _fence(text)
            parts.append(_note(f"File “{ref.name}”:\n{fence}\n{text.rstrip()}\n{fence}"))
    return parts


def carried_kinds(refs: list[AttachmentRef], data: Mapping[str, bytes], wire: WireApi) -> set[str]:
    """The kinds of attachment a request really carries as images or files (what a server
    could refuse as such), as :func:`attachment_parts` writes them: not those left as a note
    (bytes no longer stored, a PDF on Chat Completions) nor a text file inlined as text."""
    return {ref.kind for ref in refs
            if ref.id in data and (ref.kind == "image" or wire == "responses")}


def with_attachments(item: JsonObject, refs: list[AttachmentRef], data: Mapping[str, bytes],
                     wire: WireApi, *, typed: bool = True) -> JsonObject:
    """The stored user ``message`` item with its attachments' parts inserted before the
    last text part, what the user typed (after everything when nothing was ``typed``)."""
    if not refs:
        return item
    content = list(item.get("content") or [])
    parts = attachment_parts(refs, data, wire)
    last_is_text = bool(content) and content[-1].get("type") == "input_text"
    at = len(content) - 1 if typed and last_is_text else len(content)
    return {**item, "content": content[:at] + parts + content[at:]}


def decode_base64(text: str) -> bytes:
    """Bytes from base64 (a ``data:`` URL's payload or a bare string); refused when it is not."""
    payload = text.split(",", 1)[1] if text.startswith("data:") else text
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError:
        raise AttachmentRefused("attachment_unreadable", "The attachment's data is not base64.") from None
