"""Atomic writes: no overwrite by default, normal permissions, nothing left behind."""

import os
import stat

import pytest

from stellar_relevance.io.atomic import atomic_write
from stellar_relevance.exceptions import DataError


def test_atomic_write_creates_with_umask_permissions(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write(target, lambda tmp: open(tmp, "w").write("hello"))
    assert target.read_text() == "hello"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_refuses_to_overwrite_unless_asked(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(FileExistsError, match="already exists"):
        atomic_write(target, lambda tmp: open(tmp, "w").write("new"))
    assert target.read_text() == "old"
    atomic_write(target, lambda tmp: open(tmp, "w").write("new"), overwrite=True)
    assert target.read_text() == "new"


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def broken(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken, overwrite=True)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "out.txt", lambda tmp: None)
