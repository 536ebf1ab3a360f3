"""The built-in instrument, kept once built: every command reads it, and building it again
from its YAML files costs more than many a command's own work.

Parsing and validating the bank loads PyYAML and pydantic and builds pydantic's schemas: 0.085 s
of every command's start (a `check` of 10,000 rows does its whole work in 0.11 s). The
instrument built from them is kept in the user's cache folder (``$XDG_CACHE_HOME/alliance``,
else ``~/.cache/alliance``), as a pickle named by a digest of everything it is made from: the
bank files and the modules that read and shape them, and the Python version. A change to any
of them names another file, so a kept instrument is never stale. It holds the item bank only,
no answer of anyone.

A kept file is read only when the user owns it and no one else may write it (a pickle can run
code when read). Anything wrong with it (unreadable, damaged, another type) and the instrument
is built as if there were none; a cache folder that cannot be written is simply not used.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from .model import Instrument

PREFIX = "instrument-"


def cache_folder() -> Path | None:
    """Where kept files go: ``$XDG_CACHE_HOME/alliance``, else ``~/.cache/alliance``."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.environ.get("HOME")
        if not home:
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "alliance"


def digest(parts: Iterable[bytes]) -> str:
    """A name for what ``parts`` (and this Python) build: equal parts, equal name."""
    h = hashlib.sha256(f"{sys.version_info[:3]}|{pickle.HIGHEST_PROTOCOL}".encode())
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()[:32]


def kept_instrument(parts: Iterable[bytes], build: Callable[[], Instrument]) -> Instrument:
    """The instrument ``build`` makes from ``parts``: read from the cache folder when it was
    kept there, else built and kept."""
    folder = cache_folder()
    if folder is None:
        return build()
    path = folder / f"{PREFIX}{digest(parts)}.pickle"
    found = _read(path)
    if found is not None:
        return found
    instrument = build()
    _keep(path, instrument)
    return instrument


def _read(path: Path) -> Instrument | None:
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            if stat.st_uid != os.getuid() or stat.st_mode & 0o022:
                return None
            found = pickle.load(f)
    except Exception:  # absent, unreadable or damaged: built again
        return None
    return found if isinstance(found, Instrument) else None


def _keep(path: Path, instrument: Instrument) -> None:
    """Write the kept file whole (a temporary file renamed), owner-only, and remove the files
    kept for earlier versions of the bank or the code."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".kept-")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(instrument, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        for old in path.parent.glob(f"{PREFIX}*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:  # a read-only home, a full disk: the next command builds it again
        pass
