"""Exceptions raised by foolbox-lite.

Every error names the bad field, file or value and says what would be valid, so
that a researcher can fix a recipe or a call without reading our source.
"""

from __future__ import annotations

__all__ = ["FoolboxLiteError", "InputError", "ParameterError", "AssetError", "ModelError"]


class FoolboxLiteError(Exception):
    """Base class of every error this library raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

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
