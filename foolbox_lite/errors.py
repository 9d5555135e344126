"""Exceptions raised by foolbox-lite.

Every error names the bad field, file or value and says what would be valid, so
that a researcher can fix a recipe or a call without reading our source.
"""

from __future__ import annotations

__all__ = ["MAX_MESSAGE", "FoolboxLiteError", "InputError", "ParameterError", "AssetError", "ModelError", "short_repr"]

#: Longest message (and hint) an error carries: a hostile value must not flood the terminal.
MAX_MESSAGE = 2000
#: Longest echo of one value inside a message.
MAX_ECHO = 200


def short_repr(value: object, limit: int = MAX_ECHO) -> str:
    """``repr(value)`` cut to ``limit`` characters (containers are cut before they are fully rendered)."""
    import reprlib

    r = reprlib.Repr()
    r.maxstring = r.maxother = limit
    r.maxlevel, r.maxlist, r.maxdict, r.maxtuple, r.maxset = 3, 8, 8, 8, 8
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cap(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    return f"{text[:MAX_MESSAGE]}... ({len(text) - MAX_MESSAGE} more characters cut)"


class FoolboxLiteError(Exception):
    """Base class of every error this library raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(_cap(str(message)))
        self.hint = None if hint is None else _cap(str(hint))

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} (hint: {self.hint})" if self.hint else text


class InputError(FoolboxLiteError, ValueError):
    """A tensor, batch or file given to the library has the wrong shape, size or content."""


class ParameterError(FoolboxLiteError, ValueError):
    """An operator or recipe parameter is invalid (non-finite, out of range, upside down...)."""


class AssetError(FoolboxLiteError, LookupError):
    """An asset (image, texture, shape, model file) is missing or unreadable."""


class ModelError(FoolboxLiteError, RuntimeError):
    """A classifier or generative model cannot be loaded or run."""
