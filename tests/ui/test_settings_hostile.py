"""Hostile settings files: garbage gives defaults and one log line, the app always starts.

The attacks are written as raw text into real INI files, so Qt's parser sees exactly what
an attacker (or a broken tool) wrote. Two layers are tested: the typed readers of
``visionstudio.ui.shell.settings`` (wrong types, garbage, huge values, long recent lists) and
the check that runs before Qt parses the file at all (serialized ``@Variant`` values that
abort or crash Qt's QDataStream, unusual files). Payloads that would crash the test
process if the guard failed are only parsed in the subprocess test.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from visionstudio.ui.shell import settings as vs_settings
from visionstudio.ui.shell.files import MAX_PATH_CHARS, MAX_RECENT, RECENT_KEY
from visionstudio.ui.shell.settings import (
    MAX_FILE_BYTES,
    open_settings,
    read_bool,
    read_bytes,
    read_int,
    read_str,
    read_str_list,
    settings_file_problem,
)

from .shell_helpers import make_window

LOGGER = "visionstudio.settings"
# A QVariantList that claims 2**31-1 entries: QDataStream reserves them -> std::bad_alloc (abort).
BAD_ALLOC = r"@Variant(\0\0\0\t\x7f\xff\xff\xff)"
# A QPointF, a valid serialized object of a type no setting has.
POINTF = r"@Variant(\0\0\0\x1a@\0\0\0\0\0\0\0@\0\0\0\0\0\0\0)"
# QVariantPair (type 58): Qt reads it, PySide cannot convert it and raises RuntimeError.
UNCONVERTIBLE = r"@Variant(\0\0\0:\0\0\0\0\0\0\0\0)"
HUGE = "x" * 200_000


def ini(tmp_path: Path, text: str, name: str = "settings.ini") -> QSettings:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return QSettings(str(path), QSettings.Format.IniFormat)


def warnings_for(caplog, key: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and f": {key} " in r.getMessage()]


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    return caplog


# -- the typed readers -------------------------------------------------------------------------
NOT_BYTES = ["garbage", "@ByteArray(", "@ByteArray(abc", "@Point(1 2)", "@Rect(1 2 3 4)", "12",
             "1, 2, 3", HUGE, "@Invalid()", POINTF, UNCONVERTIBLE]


@pytest.mark.parametrize("raw", NOT_BYTES, ids=lambda r: r[:20])
def test_binary_setting_with_garbage_is_none_and_logged_once(tmp_path, log, raw):
    s = ini(tmp_path, f"[window]\ngeometry={raw}\n")
    assert read_bytes(s, "window/geometry") is None
    assert read_bytes(s, "window/geometry") is None  # read again: no second line
    lines = warnings_for(log, "window/geometry")
    assert len(lines) == 1 and str(tmp_path / "settings.ini") in lines[0]


def test_binary_setting_reads_bytes_and_bounds_their_size(tmp_path, log):
    s = ini(tmp_path, "[w]\nok=@ByteArray(\\x1\\x2xyz)\nbig=@ByteArray(" + "y" * 300_000 + ")\n")
    assert read_bytes(s, "w/ok") == b"\x01\x02xyz"
    assert read_bytes(s, "w/missing") is None and not log.records
    assert read_bytes(s, "w/big") is None
    assert "300,000 bytes" in warnings_for(log, "w/big")[0]


@pytest.mark.parametrize("raw", ["@Point(1 2)", "12", "1, 2", HUGE, r"dark\0x", "@ByteArray(dark)",
                                 "Dark", POINTF, UNCONVERTIBLE], ids=lambda r: r[:20])
def test_choice_setting_with_garbage_is_the_default(tmp_path, log, raw):
    s = ini(tmp_path, f"[view]\ntheme={raw}\n")
    assert read_str(s, "view/theme", "system", choices=("system", "light", "dark")) == "system"
    assert len(warnings_for(log, "view/theme")) == 1


def test_text_setting_bounds_length_and_refuses_nul(tmp_path, log):
    s = ini(tmp_path, f"[f]\nok=/home/me/projects\nlong={'d' * (MAX_PATH_CHARS + 1)}\nnul=/tmp\\0/x\n")
    assert read_str(s, "f/ok", "", max_len=MAX_PATH_CHARS) == "/home/me/projects"
    assert read_str(s, "f/long", "", max_len=MAX_PATH_CHARS) == ""
    assert read_str(s, "f/nul", "fallback") == "fallback"
    assert "4,097 characters" in warnings_for(log, "f/long")[0]
    assert "NUL" in warnings_for(log, "f/nul")[0]


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("false", False), ("1", True),
                                               ("0", False), ("garbage", None), ("@Rect(1 2 3 4)", None),
                                               ("2", None), ("true, false", None), (HUGE, None)],
                         ids=lambda r: str(r)[:20])
def test_bool_setting_accepts_what_qt_writes_only(tmp_path, log, raw, expected):
    s = ini(tmp_path, f"[welcome]\nshowAtStart={raw}\n")
    for default in (True, False):
        assert read_bool(s, "welcome/showAtStart", default) == (default if expected is None else expected)
    assert len(warnings_for(log, "welcome/showAtStart")) == (1 if expected is None else 0)


def test_int_setting_checks_type_and_range(tmp_path, log):
    s = ini(tmp_path, "[n]\nok=42\nlow=-3\nhuge=99999999999999999999999\nword=ten\npoint=@Point(1 2)\n")
    assert read_int(s, "n/ok", 7, minimum=0, maximum=100) == 42
    for key in ("low", "huge", "word", "point"):
        assert read_int(s, f"n/{key}", 7, minimum=0, maximum=100) == 7
        assert len(warnings_for(log, f"n/{key}")) == 1


def test_recent_list_of_the_wrong_type_is_empty(tmp_path, log):
    for raw in ("@Point(1 2)", POINTF, UNCONVERTIBLE, "@ByteArray(/a)"):
        s = ini(tmp_path, f"[files]\nrecent={raw}\n", name=f"{len(raw)}.ini")
        assert read_str_list(s, RECENT_KEY, cap=MAX_RECENT) == []
    assert len([r for r in log.records if r.name == LOGGER]) == 4


def test_recent_list_keeps_distinct_absolute_paths_and_logs_the_rest_in_one_line(tmp_path, log):
    from PySide6.QtCore import QPoint

    s = ini(tmp_path, "")
    s.setValue(RECENT_KEY, ["/p/a.vsproj", 3, QPoint(1, 2), "relative.vsproj", "/p/a.vsproj",
                            "/p/" + "n" * MAX_PATH_CHARS, "/p/nul\x00.vsproj", b"/p/bytes", "/p/b.vsproj"])
    s.sync()  # a mixed list: Qt writes it as a serialized @Variant list
    fresh = QSettings(s.fileName(), QSettings.Format.IniFormat)
    got = read_str_list(fresh, RECENT_KEY, cap=MAX_RECENT, max_len=MAX_PATH_CHARS,
                        accept=os.path.isabs, what="absolute paths")
    assert got == ["/p/a.vsproj", "/p/b.vsproj"]
    (line,) = warnings_for(log, RECENT_KEY)
    assert "3 not text" in line and "1 not absolute paths" in line and "1 repeated" in line


def test_twenty_thousand_recent_entries_are_cut_before_any_filesystem_work(tmp_path, log, monkeypatch):
    items = ", ".join(f"/home/u/p{i}/net.vsproj" for i in range(20_000))
    s = ini(tmp_path, f"[files]\nrecent={items}\n")
    calls = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *a, **k: calls.append(a) or real_stat(*a, **k))
    got = read_str_list(s, RECENT_KEY, cap=MAX_RECENT, accept=os.path.isabs)
    assert got == [f"/home/u/p{i}/net.vsproj" for i in range(MAX_RECENT)]
    assert calls == []
    (line,) = warnings_for(log, RECENT_KEY)
    assert f"19,990 past the first {MAX_RECENT}" in line


# -- the file, before Qt parses it ----------------------------------------------------------------
@pytest.mark.parametrize("value", [
    BAD_ALLOC, POINTF, r"@DateTime(\0\0\0\t\x7f\xff\xff\xff)",
    r"\x40Variant(\0\0\0\t\x7f\xff\xff\xff)",          # '@' as a hex escape
    r"\100Variant(\0\0\0\t\x7f\xff\xff\xff)",          # ... as an octal escape
    r"\x10040Variant(\0\0\0\t\x7f\xff\xff\xff)",       # ... truncated to 16 bits by Qt
    r'"@Var"iant(\0\0\0\t\x7f\xff\xff\xff)',           # quotes only group
    r"@Var\ziant(\0\0\0\t\x7f\xff\xff\xff)",           # an unknown escape is dropped
    "/a.vsproj, " + BAD_ALLOC,                          # as an element of a list
    "@Var\\\niant(\\0\\0\\0\\t\\x7f\\xff\\xff\\xff)",   # a line continuation
    r"\0\0\0\t\0\0\0\x1" * 3 + ", @Variant(" + r"\0\0\0\t\0\0\0\x1" * 30_000 + r"\0\0\0\0)",
], ids=lambda v: v[:24])
def test_serialized_objects_are_refused_before_qt_parses_them(tmp_path, value):
    path = tmp_path / "s.ini"
    path.write_text(f"[files]\nrecent={value}\n", encoding="latin-1")
    problem = settings_file_problem(path)
    assert problem is not None and "serialized object" in problem


def test_what_the_app_writes_passes_the_check(qtbot, tmp_path):
    """The check never fires on the app's own file: a session's writes read back intact."""
    w = make_window(qtbot, tmp_path, show=True)
    project = tmp_path / 'odd, "quoted" name' / "@Variant(x).vsproj"  # only element starts matter
    project.parent.mkdir()
    project.write_bytes(b"")
    w.files.add_recent(project)
    w.extras.theme.set_mode("dark")
    w.extras.welcome.set_show_at_start(False)
    w.settings.setValue("export/format", "onnx")
    w.save_layout()
    path = w.settings.fileName()
    assert settings_file_problem(path) is None
    again = QSettings(path, QSettings.Format.IniFormat)
    assert read_str_list(again, RECENT_KEY, cap=MAX_RECENT) == [str(project.resolve())]
    assert read_str(again, "view/theme") == "dark" and read_str(again, "export/format") == "onnx"
    assert read_bool(again, "welcome/showAtStart", True) is False
    assert read_bytes(again, "window/geometry") and read_bytes(again, "window/state")


def test_unusual_files_are_refused(tmp_path):
    big = tmp_path / "big.ini"
    big.write_bytes(b"[a]\nv=" + b"x" * MAX_FILE_BYTES + b"\n")
    assert "larger than" in settings_file_problem(big)
    fifo = tmp_path / "fifo.ini"
    os.mkfifo(fifo)  # Qt would block reading it
    assert "not a regular file" in settings_file_problem(fifo)
    zero = tmp_path / "zero.ini"
    zero.symlink_to("/dev/zero")  # Qt would read until memory runs out
    assert "not a regular file" in settings_file_problem(zero)
    assert settings_file_problem(tmp_path / "absent.ini") is None


def test_unsafe_file_is_moved_aside_and_the_window_starts(qtbot, tmp_path, log):
    path = tmp_path / "settings.ini"
    path.write_text(f"[window]\ngeometry={POINTF}\n[view]\ntheme=dark\n")
    w = make_window(qtbot, tmp_path, show=True)
    assert not path.exists() and Path(str(path) + ".corrupt").read_text().startswith("[window]")
    assert w.extras.theme.mode == "system"  # defaults, not half of an unsafe file
    (line,) = [r.getMessage() for r in log.records if r.name == LOGGER]
    assert str(path) in line and "moved to" in line and "@Variant(" in line
    w.save_layout()
    assert settings_file_problem(path) is None
    assert read_bytes(QSettings(str(path), QSettings.Format.IniFormat), "window/geometry")


def test_unsafe_file_that_cannot_be_moved_leaves_a_throwaway_file(tmp_path, log, monkeypatch):
    path = tmp_path / "settings.ini"
    path.write_text(f"[a]\nv={BAD_ALLOC}\n")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(vs_settings.os, "replace", refuse)
    s = open_settings(QSettings(str(path), QSettings.Format.IniFormat))
    assert Path(s.fileName()).parent != tmp_path and s.allKeys() == []
    assert path.exists() and "Permission denied" in log.records[0].getMessage()


# -- the main window -----------------------------------------------------------------------------------
GARBAGE_INI = """[window]
geometry=garbage
state=@ByteArray(
[files]
recent=@Point(1 2)
lastDir=@Rect(1 2 3 4)
[view]
theme=12
[welcome]
showAtStart=@Size(3 4)
[export]
format=1, 2, 3
"""
GARBAGE_KEYS = ("window/geometry", "window/state", "files/recent", "files/lastDir", "view/theme",
                "welcome/showAtStart", "export/format")


def test_window_starts_with_garbage_in_every_setting(qtbot, tmp_path, log):
    reference = make_window(qtbot, tmp_path / "clean", show=True)  # no settings file at all
    (tmp_path / "settings.ini").write_text(GARBAGE_INI)
    w = make_window(qtbot, tmp_path, show=True)
    assert w.restore_layout() is False and w.size() == reference.size()  # the default geometry
    assert [a for a in w.menus["recent"].actions() if a.data()] == []
    assert w.extras.theme.mode == "system"
    assert w.extras.welcome.page.show_check.isChecked()  # the default: shown at start
    assert w.files.last_dir() == str(Path.home())
    w.export.open_dialog().reject()
    for key in GARBAGE_KEYS:
        assert len(warnings_for(log, key)) == 1, key
    assert (tmp_path / "settings.ini").exists()  # garbage of the right kind: read, not moved


def test_window_with_twenty_thousand_recent_entries_shows_the_cap(qtbot, tmp_path, log):
    items = ", ".join(f"/home/u/p{i}/net{i}.vsproj" for i in range(20_000))
    (tmp_path / "settings.ini").write_text(f"[files]\nrecent={items}\n")
    w = make_window(qtbot, tmp_path, show=True)
    w.show_welcome()
    recent = [a for a in w.menus["recent"].actions() if a.data()]
    assert len(recent) == MAX_RECENT and recent[0].data() == "/home/u/p0/net0.vsproj"
    assert w.extras.welcome.page.recent.count() == MAX_RECENT
    assert len(warnings_for(log, RECENT_KEY)) == 1


def _killer_payloads(config: Path) -> None:
    """A user file and an organisation-wide fallback file that abort or crash a plain QSettings."""
    app_dir = config / "VisionStudio"
    app_dir.mkdir(parents=True)
    deep = "@Variant(" + r"\0\0\0\t\0\0\0\x1" * 30_000 + r"\0\0\0\0)"  # 30,000 nested lists: stack overflow
    (app_dir / "VisionStudio.conf").write_text(
        f"[window]\ngeometry={deep}\nstate=\\x40Variant(\\0\\0\\0\\t\\x7f\\xff\\xff\\xff)\n"
        f"[files]\nrecent=/a.vsproj, {BAD_ALLOC}\n")
    (config / "VisionStudio.conf").write_text(f"[view]\ntheme={BAD_ALLOC}\n")


@pytest.mark.slow
@pytest.mark.parametrize("attack", ["garbage", "killer"])
def test_the_app_starts_with_a_corrupt_settings_file(tmp_path, attack):
    """The real entry point, offscreen, quits after its first paint: exit status 0."""
    config = tmp_path / "config"
    if attack == "garbage":
        (config / "VisionStudio").mkdir(parents=True)
        (config / "VisionStudio" / "VisionStudio.conf").write_text(
            GARBAGE_INI + f"[more]\nhuge={HUGE}\n")
    else:
        _killer_payloads(config)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CONFIG_HOME=str(config), VISIONSTUDIO_STARTUP_T0="1", VISIONSTUDIO_STARTUP_EXIT="1")
    out = subprocess.run([sys.executable, "-m", "visionstudio"], env=env, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "first-paint-ms" in out.stdout
    conf = config / "VisionStudio" / "VisionStudio.conf"
    if attack == "garbage":
        for key in ("window/geometry", "window/state", "files/recent", "view/theme", "welcome/showAtStart"):
            assert out.stderr.count(f": {key} ") == 1, (key, out.stderr[-3000:])
    else:
        assert Path(str(conf) + ".corrupt").exists()
        assert out.stderr.count("was not read") == 1
