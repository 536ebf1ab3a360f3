"""The built-in instrument kept once built (instrument/kept.py): the same instrument, read
without the YAML parser or pydantic, never from a file that is stale, damaged or open to
others."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from instrument import Instrument, kept
from instrument.loader import BUILT_BY, BUILTIN_FILES, builtin_instrument


def built(folder: Path) -> tuple[Instrument, list[Path]]:
    """The built-in instrument as a fresh process would get it, with ``folder`` as the cache
    folder, and the kept files there afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        builtin_instrument.cache_clear()
        try:
            found = builtin_instrument()
        finally:
            builtin_instrument.cache_clear()
    return found, sorted((folder / "alliance").glob("instrument-*.pickle"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def test_the_kept_instrument_is_the_built_one(folder: Path) -> None:
    first, files = built(folder)
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    again, _ = built(folder)
    assert again == first and again is not first
    assert again.items == first.items and again.scales == first.scales
    assert again.item("pb06").reverse and again.forms == first.forms


def test_a_kept_instrument_is_read_without_the_yaml_parser_or_pydantic(folder: Path) -> None:
    probe = (
        "import sys\n"
        "from instrument import builtin_instrument\n"
        "print(len(builtin_instrument().items),"
        " [m for m in ('yaml', 'pydantic') if m in sys.modules])\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(folder)}
    runs = [
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
        for _ in range(2)
    ]
    assert runs[0].stdout.split(" ", 1)[1].strip() == "['yaml', 'pydantic']"  # built
    assert runs[1].stdout.split(" ", 1)[1].strip() == "[]"  # read as kept
    assert runs[0].stdout.split()[0] == runs[1].stdout.split()[0]


def test_a_damaged_kept_file_is_built_again(folder: Path) -> None:
    first, (path,) = built(folder)
    path.write_bytes(b"\x80\x05not a pickle")
    again, (rewritten,) = built(folder)
    assert again == first and rewritten == path and path.stat().st_size > 1000


def test_a_kept_file_others_may_write_is_not_read(folder: Path) -> None:
    first, (path,) = built(folder)
    other = Instrument("other", "1", "", {}, {}, (), {})
    path.write_bytes(pickle.dumps(other))
    path.chmod(0o600)
    assert built(folder)[0] == other  # owner-only: read as it is
    path.write_bytes(pickle.dumps(other))
    path.chmod(0o620)
    assert built(folder)[0] == first  # the group may write it: built again, and kept anew
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_change_to_the_bank_or_its_code_names_another_file() -> None:
    package = Path(kept.__file__).parent
    parts = [(package / "banks" / n).read_bytes() for n in BUILTIN_FILES]
    code = [(package / m).read_bytes() for m in BUILT_BY]
    name = kept.digest([*parts, *code])
    assert kept.digest([*parts, *code]) == name
    assert kept.digest([*parts[:-1], parts[-1] + b"\n", *code]) != name
    assert kept.digest([*parts, *code[:-1], code[-1] + b"#"]) != name
    # Parts are told apart whole: moving a byte from one to the next is a change.
    assert kept.digest([b"ab", b"c"]) != kept.digest([b"a", b"bc"])


def test_a_cache_folder_that_cannot_be_written_is_not_used(folder: Path) -> None:
    (folder / "alliance").write_text("a file where the folder would be")
    found, files = built(folder)
    assert found == built(folder / "elsewhere")[0] and files == []
