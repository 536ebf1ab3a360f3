"""Writing output files so that a failure never leaves a partial file behind."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent}: no such directory")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def read_yaml(path: Path, error: type[ValueError], missing: str = "no such file") -> Any:
    """A YAML file's content, through the one bounded loader (no repeated keys, no alias
    bombs, no deep nesting, no huge files); a problem raises ``error`` with one line. PyYAML
    is imported here, when a file is read: most commands read none."""
    from instrument.yamlsafe import MAX_BYTES, YamlLimitError, load_yaml

    try:
        if path.stat().st_size > MAX_BYTES:
            raise error(f"{path.name}: larger than {MAX_BYTES >> 20} MiB; not read.")
        return load_yaml(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise error(f"{path}: {missing}.") from None
    except UnicodeDecodeError:
        raise error(f"{path.name}: not a UTF-8 text file.") from None
    except YamlLimitError as exc:
        raise error(f"{path.name}: {exc}.") from None


def file_sha256(path: str | Path) -> str:
    """The file's SHA-256, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
