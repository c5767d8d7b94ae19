"""The base of the model client's error tree, and its JSON form.

Every concrete error names its ``kind``; defining the class registers it (see
``__init_subclass__``), so :func:`error_from_json` can rebuild any error from
``to_json()`` output on the other side of the message bus. The tree itself, with
its picture, is ``_errors`` (which imports every error module, as the package does:
importing any part of ``modelclient`` registers every kind).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Self

__all__ = ["ModelClientError", "error_from_json"]

_ERROR_KINDS: dict[str, type[ModelClientError]] = {}


class ModelClientError(Exception):
    """Base of every error the model client raises or yields. Not raised itself."""

    kind: ClassVar[str] = ""
    retryable: bool = False
    """Whether the turn-level retry may re-send the whole request.

    A class attribute for most kinds; :class:`~modelclient.UnexpectedStatusError`
    decides per status, so it is read from the instance."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _ERROR_KINDS[cls.kind] = cls

    def __init__(self, message: str) -> None:
        if type(self) is ModelClientError:
            raise TypeError("ModelClientError is abstract; raise one of its subclasses")
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def retry_delay(self) -> timedelta | None:
        """The delay the server asked for before a retry, if any."""
        return None

    def fields(self) -> dict[str, Any]:
        """The error's own data, JSON-safe (overridden by errors that carry any)."""
        return {}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Self:
        """Rebuild the error from :meth:`fields` output."""
        return cls()  # type: ignore[call-arg]

    def to_json(self) -> dict[str, Any]:
        """``{"kind", "message", "retryable", "fields"}``, ready for ``json.dumps``."""
        return {
            "kind": self.kind,
            "message": str(self),
            "retryable": self.retryable,
            "fields": self.fields(),
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # Custom __init__ signatures break Exception's default pickling.
        return (error_from_json, (self.to_json(),))


def error_from_json(data: Mapping[str, Any]) -> ModelClientError:
    """Rebuild an error from :meth:`ModelClientError.to_json` output.

    Raises:
        ValueError: ``data["kind"]`` names no error of this tree, or its fields
            are missing or mistyped.
    """
    kind = data.get("kind")
    cls = _ERROR_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown model client error kind: {kind!r}")
    try:
        return cls.from_fields(data.get("fields") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed {kind} error: {exc!r}") from exc
