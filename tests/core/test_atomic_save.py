"""Saves keep the file's mode and clean up the temporary files of killed saves (issue #11).

The kill -9 attack itself (100 trials, a forked writer SIGKILLed at random) is
tests/e2e/test_kill_during_save.py; here the pieces it relies on are pinned down.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from visionstudio.core.project import ProjectDocument, load_project, save_project
from visionstudio.core.project import atomic as atomic_mod
from visionstudio.core.project.atomic import atomic_write_bytes, remove_stale_temps, temp_pattern

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits and flock")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def doc(name: str = "net") -> ProjectDocument:
    return ProjectDocument(name=name)


@posix
@pytest.mark.parametrize("bits", [0o644, 0o640, 0o664, 0o444, 0o600])
def test_save_keeps_the_replaced_files_mode(tmp_path, bits):
    path = tmp_path / "shared.vsproj"
    save_project(doc("old"), path)
    os.chmod(path, bits)
    save_project(doc("new"), path)
    assert mode(path) == bits and load_project(path).name == "new"


@posix
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_umask_mode_not_0600(tmp_path, umask):
    old = os.umask(umask)
    try:
        save_project(doc(), tmp_path / "fresh.vsproj")
        atomic_write_bytes(tmp_path / "metrics.json", b"{}")
    finally:
        os.umask(old)
    assert mode(tmp_path / "fresh.vsproj") == 0o666 & ~umask
    assert mode(tmp_path / "metrics.json") == 0o666 & ~umask


@posix
def test_a_link_target_keeps_its_mode(tmp_path):
    real = tmp_path / "real.vsproj"
    save_project(doc(), real)
    os.chmod(real, 0o640)
    link = tmp_path / "link.vsproj"
    link.symlink_to(real)
    save_project(doc("via link"), link)    # the link is replaced by the file (as before)
    assert mode(link) == 0o640 and load_project(link).name == "via link"


def test_next_save_removes_only_this_files_stale_temps(tmp_path):
    path = tmp_path / "net.vsproj"
    save_project(doc(), path)
    stale = [".net.vsproj.abcd1234.tmp", ".net.vsproj.k_9x0q2z.tmp"]   # mkstemp's shape too
    kept_files = [
        ".net.vsproj.abc.tmp",            # not 8 characters
        ".net.vsproj.abcd1234.tmp.bak",   # not the pattern
        "net.vsproj.abcd1234.tmp",        # no leading dot
        ".other.vsproj.abcd1234.tmp",     # another project's
        ".net.vsproj.runs.abcd1234.tmp",  # another name that starts the same
        ".net.vsprojXabcd1234.tmp",       # the dot is literal
    ]
    for name in stale + kept_files:
        (tmp_path / name).write_bytes(b"x" * 1000)
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("keep")
    (tmp_path / ".net.vsproj.dir00000.tmp").mkdir()                     # a folder: kept
    if os.name == "posix":
        (tmp_path / ".net.vsproj.link0000.tmp").symlink_to(canary / "keep.txt")   # a link: kept
    save_project(doc("again"), path)
    names = {p.name for p in tmp_path.iterdir()}
    assert not names & set(stale)
    assert set(kept_files) <= names and ".net.vsproj.dir00000.tmp" in names
    if os.name == "posix":
        assert ".net.vsproj.link0000.tmp" in names
    assert (canary / "keep.txt").read_text() == "keep"
    assert load_project(path).name == "again"


def test_pattern_is_exact_for_odd_names():
    pattern = temp_pattern("a+b (1).vsproj")
    assert pattern.fullmatch(".a+b (1).vsproj.zz_99zz9.tmp")
    assert not pattern.fullmatch(".aab (1).vsproj.zz_99zz9.tmp")
    assert not pattern.fullmatch(".a+b (1).vsproj.zz/99zz9.tmp")


@posix
@pytest.mark.skipif(atomic_mod.fcntl is None, reason="flock")
def test_a_save_in_progress_keeps_its_temp_file(tmp_path):
    """Another process (or window) saving the same file holds the lock on its temp file:
    a concurrent save's cleanup must leave it alone; once it is released it is stale."""
    path = tmp_path / "net.vsproj"
    save_project(doc(), path)
    fd, tmp = atomic_mod._create_temp(tmp_path, path.name)
    try:
        os.write(fd, b"half a project")
        save_project(doc("other window"), path)
        assert os.path.exists(tmp)
    finally:
        os.close(fd)        # like a process killed mid-write: the lock goes with it
    assert remove_stale_temps(path) == 1 and not os.path.exists(tmp)


def test_a_failed_save_leaves_no_temp_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "net.vsproj"
    save_project(doc("old"), path)

    def full_disk(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_mod.os, "write", full_disk)
    with pytest.raises(OSError, match="No space"):
        save_project(doc("new"), path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["net.vsproj"]
    assert load_project(path).name == "old"


def test_project_io_imports_without_torch():
    """The kill -9 attack forks writers from a process without torch; the save path must
    not need it."""
    import subprocess

    code = ("import sys; import visionstudio.core.project.io, visionstudio.core.project.atomic; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
