"""Stimulus sets on disk: the format (``format``), safe writing (``atomic``), and later building and export."""

from __future__ import annotations

from ..files import atomic_write_bytes, atomic_write_text, sha256_file
from .format import (
    SCHEMA_VERSION,
    ManifestEntry,
    SetInfo,
    iter_manifest,
    manifest_line,
    read_manifest,
    read_set_info,
    verify_entries,
    write_set_info,
)

__all__ = [
    "SCHEMA_VERSION",
    "SetInfo",
    "ManifestEntry",
    "read_set_info",
    "write_set_info",
    "read_manifest",
    "iter_manifest",
    "manifest_line",
    "verify_entries",
    "atomic_write_bytes",
    "atomic_write_text",
    "sha256_file",
]
