"""Reading survey exports into a tidy table keyed by item id."""

from .read import Export, ExportError, detect_platform, read_export

__all__ = ["Export", "ExportError", "detect_platform", "read_export"]
