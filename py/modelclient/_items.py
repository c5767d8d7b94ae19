"""``ResponseItem``: conversation items as the Responses API sends and receives them.

Strategy: one pydantic v2 model per Rust ``enum ResponseItem`` variant (version
A, ``protocol/src/models.rs``), internally tagged by ``type`` and
serialised field for field like serde would, so ``dump_item(item)`` is the JSON
Codex puts in a request's ``input``:

* ``id`` is parsed but never sent (``#[serde(skip_serializing)]``); the Azure
  path re-inserts it (see ``_request``). ``dump_item(item, storage=True)`` is
  lossless instead (ids, ``function_call_output.success``, all reasoning
  content), for persisting a conversation.
* ``status`` of custom tool and web search calls is left out when ``None``;
  every other ``Option`` is sent as ``null`` (``encrypted_content``,
  ``call_id`` of a local shell call, the exec action's fields).
* a reasoning item's ``content`` is left out when it is a list without any
  ``reasoning_text`` part; ``None`` is sent as ``"content": null`` — Rust's
  ``should_serialize_reasoning_content`` returns ``false`` for ``None``.
* unknown fields are dropped, as serde does without ``deny_unknown_fields``.

Tolerance (ours): an unknown item ``type`` parses as :class:`OtherItem` and keeps
every field (Rust's ``Other`` keeps none and serialises as ``{"type":"other"}``);
unknown message content parts and web search actions are kept the same way.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    Tag,
    TypeAdapter,
    model_serializer,
)

__all__ = [
    "ContentItem",
    "CustomToolCallItem",
    "CustomToolCallOutputItem",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "InputFile",
    "InputImage",
    "InputText",
    "LocalShellAction",
    "LocalShellCallItem",
    "MessageItem",
    "OtherContent",
    "OtherItem",
    "OtherWebSearchAction",
    "OutputText",
    "ReasoningContent",
    "ReasoningItem",
    "ReasoningPlainText",
    "ReasoningText",
    "ResponseItem",
    "SummaryText",
    "WebSearchAction",
    "WebSearchCallItem",
    "WebSearchFindInPage",
    "WebSearchOpenPage",
    "WebSearchSearch",
    "dump_item",
    "dump_items",
    "parse_item",
    "parse_items",
]


class _Wire(BaseModel):
    """Base: serde-like serialisation rules, driven by two class-level sets."""

    model_config = ConfigDict(extra="ignore")

    omit_if_none: ClassVar[frozenset[str]] = frozenset()
    """Fields with ``skip_serializing_if = "Option::is_none"``."""
    local_only: ClassVar[frozenset[str]] = frozenset()
    """Fields with ``skip_serializing``: kept only when dumping with ``storage``."""

    @model_serializer(mode="wrap")
    def _serde(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if not isinstance(data, dict):  # pragma: no cover - models always dump dicts
            return data
        storage = bool(info.context and info.context.get("storage"))
        for name in self.local_only:
            if not storage or data.get(name) is None:
                data.pop(name, None)
        for name in self.omit_if_none:
            if data.get(name, ...) is None:
                del data[name]
        return self._finish_dump(data, storage=storage)

    def _finish_dump(self, data: dict[str, Any], *, storage: bool) -> dict[str, Any]:
        """Hook for a rule the two sets cannot say (see ``ReasoningItem``)."""
        return data


def _tagged(known: frozenset[str], fallback: str) -> Any:
    """A discriminator reading ``type`` that sends unknown tags to ``fallback``."""

    def tag(value: Any) -> str:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return kind if kind in known else fallback

    return Discriminator(tag)


# ---------------------------------------------------------------------------
# Message content
# ---------------------------------------------------------------------------


class InputText(_Wire):
    """``{"type": "input_text", "text"}``: text the user (or a tool) sends."""

    type: Literal["input_text"] = "input_text"
    text: str


class InputImage(_Wire):
    """``{"type": "input_image", "image_url"}``: an image URL or ``data:`` URL."""

    type: Literal["input_image"] = "input_image"
    image_url: str


class InputFile(_Wire):
    """``{"type": "input_file", ...}``: a file the user sends (a PDF, a text file).

    Not in Codex's ``ContentItem`` (the CLI sends no files); the Responses API's
    shape: ``file_data`` is a ``data:`` URL and ``filename`` names it, or the file is
    referred to by ``file_id`` / ``file_url``. Fields that are ``None`` are left out.
    """

    omit_if_none: ClassVar[frozenset[str]] = frozenset({"filename", "file_data", "file_id", "file_url"})
    type: Literal["input_file"] = "input_file"
    filename: str | None = None
    file_data: str | None = None
    file_id: str | None = None
    file_url: str | None = None


class OutputText(_Wire):
    """``{"type": "output_text", "text"}``: model text (annotations/logprobs dropped)."""

    type: Literal["output_text"] = "output_text"
    text: str


class OtherContent(_Wire):
    """Any other content part (e.g. ``refusal``), kept verbatim. Rust fails the item."""

    model_config = ConfigDict(extra="allow")
    type: str


ContentItem: TypeAlias = Annotated[
    Annotated[InputText, Tag("input_text")]
    | Annotated[InputImage, Tag("input_image")]
    | Annotated[InputFile, Tag("input_file")]
    | Annotated[OutputText, Tag("output_text")]
    | Annotated[OtherContent, Tag("other")],
    _tagged(frozenset({"input_text", "input_image", "input_file", "output_text"}), "other"),
]


# ---------------------------------------------------------------------------
# Reasoning parts
# ---------------------------------------------------------------------------


class SummaryText(_Wire):
    """``{"type": "summary_text", "text"}``: one reasoning summary part."""

    type: Literal["summary_text"] = "summary_text"
    text: str


class ReasoningText(_Wire):
    """``{"type": "reasoning_text", "text"}``: raw reasoning (open-weight models)."""

    type: Literal["reasoning_text"] = "reasoning_text"
    text: str


class ReasoningPlainText(_Wire):
    """``{"type": "text", "text"}`` (Rust ``ReasoningItemContent::Text``)."""

    type: Literal["text"] = "text"
    text: str


ReasoningContent: TypeAlias = Annotated[ReasoningText | ReasoningPlainText, Field(discriminator="type")]


# ---------------------------------------------------------------------------
# Tool call parts
# ---------------------------------------------------------------------------


class LocalShellAction(_Wire):
    """``{"type": "exec", "command", "timeout_ms", "working_directory", "env", "user"}``.

    Every optional field is sent, as ``null`` when unset.
    """

    type: Literal["exec"] = "exec"
    command: list[str]
    timeout_ms: int | None = None
    working_directory: str | None = None
    env: dict[str, str] | None = None
    user: str | None = None


class WebSearchSearch(_Wire):
    """``{"type": "search", "query"?}`` (query optional and omitted when unset, B)."""

    omit_if_none = frozenset({"query"})
    type: Literal["search"] = "search"
    query: str | None = None


class WebSearchOpenPage(_Wire):
    """``{"type": "open_page", "url"?}`` (B)."""

    omit_if_none = frozenset({"url"})
    type: Literal["open_page"] = "open_page"
    url: str | None = None


class WebSearchFindInPage(_Wire):
    """``{"type": "find_in_page", "url"?, "pattern"?}`` (B)."""

    omit_if_none = frozenset({"url", "pattern"})
    type: Literal["find_in_page"] = "find_in_page"
    url: str | None = None
    pattern: str | None = None


class OtherWebSearchAction(_Wire):
    """An unknown web search action, kept verbatim (Rust: ``Other``)."""

    model_config = ConfigDict(extra="allow")
    type: str


WebSearchAction: TypeAlias = Annotated[
    Annotated[WebSearchSearch, Tag("search")]
    | Annotated[WebSearchOpenPage, Tag("open_page")]
    | Annotated[WebSearchFindInPage, Tag("find_in_page")]
    | Annotated[OtherWebSearchAction, Tag("other")],
    _tagged(frozenset({"search", "open_page", "find_in_page"}), "other"),
]


# ---------------------------------------------------------------------------
# Items
# ---------------------------------------------------------------------------


class MessageItem(_Wire):
    """A chat message. ``role``: ``user``, ``assistant``, ``system`` or ``developer``."""

    local_only = frozenset({"id"})
    type: Literal["message"] = "message"
    id: str | None = None
    role: str
    content: list[ContentItem]


class ReasoningItem(_Wire):
    """The model's reasoning: summaries, optional raw content, encrypted state."""

    local_only = frozenset({"id"})
    type: Literal["reasoning"] = "reasoning"
    id: str = ""
    summary: list[SummaryText]
    content: list[ReasoningContent] | None = None
    encrypted_content: str | None = None

    def _finish_dump(self, data: dict[str, Any], *, storage: bool) -> dict[str, Any]:
        # serde: skip when Some(list) without a reasoning_text part; None is sent.
        if (
            not storage
            and self.content is not None
            and not any(isinstance(part, ReasoningText) for part in self.content)
        ):
            data.pop("content", None)
        return data


class LocalShellCallItem(_Wire):
    """A ``local_shell`` tool call; ``call_id`` is set by the Responses API."""

    local_only = frozenset({"id"})
    type: Literal["local_shell_call"] = "local_shell_call"
    id: str | None = None
    call_id: str | None = None
    status: Literal["completed", "in_progress", "incomplete"]
    action: LocalShellAction


class FunctionCallItem(_Wire):
    """A function tool call; ``arguments`` is a **string** of JSON, kept raw."""

    local_only = frozenset({"id"})
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    name: str
    arguments: str
    call_id: str


class FunctionCallOutputItem(_Wire):
    """A function call's result; ``output`` a plain string (A) or content parts (B).

    ``success`` stays local: Rust's payload serialises only the output.
    """

    local_only = frozenset({"success"})
    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str | list[ContentItem]
    success: bool | None = None


class CustomToolCallItem(_Wire):
    """A freeform (``custom``) tool call; ``input`` is the raw text the model wrote."""

    local_only = frozenset({"id"})
    omit_if_none = frozenset({"status"})
    type: Literal["custom_tool_call"] = "custom_tool_call"
    id: str | None = None
    status: str | None = None
    call_id: str
    name: str
    input: str


class CustomToolCallOutputItem(_Wire):
    """A freeform tool call's result."""

    type: Literal["custom_tool_call_output"] = "custom_tool_call_output"
    call_id: str
    output: str


class WebSearchCallItem(_Wire):
    """A hosted web search the model ran."""

    local_only = frozenset({"id"})
    omit_if_none = frozenset({"status"})
    type: Literal["web_search_call"] = "web_search_call"
    id: str | None = None
    status: str | None = None
    action: WebSearchAction


class OtherItem(_Wire):
    """An item of a type this port does not know; every field is kept as is.

    ``_request.build_request`` leaves these out of ``input``: Codex never records
    ``Other`` items in history, so it never sends them.
    """

    model_config = ConfigDict(extra="allow")
    type: str


_ITEM_TYPES = frozenset(
    {
        "message",
        "reasoning",
        "local_shell_call",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "web_search_call",
    }
)

ResponseItem: TypeAlias = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[LocalShellCallItem, Tag("local_shell_call")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[CustomToolCallItem, Tag("custom_tool_call")]
    | Annotated[CustomToolCallOutputItem, Tag("custom_tool_call_output")]
    | Annotated[WebSearchCallItem, Tag("web_search_call")]
    | Annotated[OtherItem, Tag("other")],
    _tagged(_ITEM_TYPES, "other"),
]
"""One conversation item; an unknown ``type`` gives :class:`OtherItem`."""

_ITEM = TypeAdapter[ResponseItem](ResponseItem)
_ITEMS = TypeAdapter[list[ResponseItem]](list[ResponseItem])


def parse_item(data: Any) -> ResponseItem:
    """Validate one item (a dict from ``json.loads``, or an item).

    Raises:
        pydantic.ValidationError: a known ``type`` with missing or mistyped fields.
    """
    return _ITEM.validate_python(data)


def parse_items(data: Any) -> list[ResponseItem]:
    """Validate a list of items (see :func:`parse_item`)."""
    return _ITEMS.validate_python(data)


def dump_item(item: ResponseItem, *, storage: bool = False) -> dict[str, Any]:
    """The item's JSON object: the request wire shape, or with ``storage`` its ids too."""
    data: dict[str, Any] = _ITEM.dump_python(item, mode="json", context={"storage": storage})
    return data


def dump_items(items: list[ResponseItem], *, storage: bool = False) -> list[dict[str, Any]]:
    """:func:`dump_item` for each item."""
    return [dump_item(item, storage=storage) for item in items]
