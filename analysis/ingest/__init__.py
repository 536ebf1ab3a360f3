"""Reading survey exports into a tidy table keyed by item id."""

from .mapping import ColumnMap, load_map
from .read import Export, read_export, value_labels
from .sniff import DEFAULT_MAX_BYTES, ExportError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ColumnMap",
    "Export",
    "ExportError",
    "load_map",
    "read_export",
    "value_labels",
]
