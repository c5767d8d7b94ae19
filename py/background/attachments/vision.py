"""Models that cannot see: telling a server's refusal of images apart, and naming models that can.

A provider answers an image sent to a text-only model with an HTTP 400 whose words
differ by server ("Invalid content type. image_url is only supported by certain
models.", "The image data you provided does not represent a valid image", "model
does not support images", "… is not a multimodal model" …). When a request that
carried attachments fails that way, :func:`cannot_see` turns the error into one
sentence — this model cannot read images (or files) — and offers the models in the
user's list that can, where that is known (:func:`can_see`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["CANNOT_SEE", "can_see", "cannot_see", "vision_models"]

CANNOT_SEE = "model_cannot_see"

# Known by name. Checked in order; the first match decides.
_NO: tuple[str, ...] = (
    "gpt-3.5", "o1-mini", "o3-mini", "gpt-oss", "codex-mini", "text-", "davinci", "babbage",
)  # fmt: skip
_YES_PREFIXES: tuple[str, ...] = (
    "gpt-5", "gpt-4.1", "gpt-4o", "chatgpt-4o", "gpt-4-turbo", "gpt-4-vision", "o1", "o3", "o4-mini",
    "computer-use", "gemini", "claude-3", "claude-sonnet", "claude-opus", "claude-haiku", "pixtral",
    "llava", "bakllava", "moondream", "minicpm-v", "gemma3", "gemma-3", "llama-4", "grok-2-vision",
    "grok-4",
)  # fmt: skip
_YES_WORDS = re.compile(
    r"vision|-vl\b|vl-|[-_.]vl$|multimodal|omni|llava|pixtral|qwen2\.5-vl|mistral-small-3"
)

# A server's words for "this model takes no images / files".
_SUBJECT = re.compile(r"image|vision|multi-?modal|input_file|file input|\bpdf\b|\bfiles?\b")
_REFUSAL = re.compile(
    r"not supported|unsupported|only supported|does not support|doesn't support|do not support|"
    r"cannot|can't|not (?:a )?valid|invalid|not (?:a )?multi-?modal|not allowed|not enabled"
)


def _bare(model: str) -> str:
    """A model's name without a router's ``vendor/`` prefix or a ``:tag``, lower case."""
    return model.lower().rsplit("/", 1)[-1].split(":", 1)[0]


def can_see(model: str) -> bool | None:
    """Whether ``model`` reads images: ``True``/``False`` when known by its name, else ``None``."""
    name = _bare(model)
    if name.startswith(_NO):
        return False
    if name.startswith(_YES_PREFIXES) or _YES_WORDS.search(name):
        return True
    return None


def vision_models(models: Iterable[str], *, exclude: str = "") -> list[str]:
    """The models in ``models`` known to read images (in their order, without ``exclude``)."""
    return [m for m in dict.fromkeys(models) if m != exclude and can_see(m)]


def _refuses_attachments(error: dict[str, Any]) -> bool:
    kind = error.get("kind")
    if kind == "invalid_image_request":
        return True
    if kind not in ("invalid_request", "unexpected_status"):
        return False
    fields = error.get("fields") or {}
    status = fields.get("status")
    if kind == "unexpected_status" and status not in (400, 415, 422):
        return False
    parts = (error.get("message"), fields.get("message"), fields.get("body"))
    text = " ".join(str(part) for part in parts if part).lower()[:4000]
    return bool(_SUBJECT.search(text) and _REFUSAL.search(text))


def cannot_see(
    error: dict[str, Any], *, model: str, models: Iterable[str], kinds: set[str]
) -> dict[str, Any] | None:
    """``error`` (an ``ErrorInfo``) rewritten as ``model_cannot_see`` when it is a refusal of the
    attachments the request carried (``kinds``: ``image`` / ``pdf`` / ``text``); else ``None``.

    The fields keep what the panel offers: ``model``, ``models`` (those known to read
    images), ``what``, and the server's own ``detail`` for the Details toggle.
    """
    if not kinds or not _refuses_attachments(error):
        return None
    what = "images" if kinds == {"image"} else "files" if "image" not in kinds else "images or files"
    offered = vision_models(models, exclude=model) if "image" in kinds else []
    sentence = f"{model} cannot read {what}, so the server refused this message."
    if offered:
        listed = ", ".join(offered[:5])
        sentence += f" Models of this provider that can: {listed}."
        sentence += f" Pick one and send again, or remove the {what}."
    else:
        sentence += f" Pick a model that reads {what} and send again, or remove the {what}."
    return {
        "kind": CANNOT_SEE,
        "message": sentence,
        "retryable": False,
        "fields": {"model": model, "models": offered, "what": what, "detail": str(error.get("message", ""))},
    }
