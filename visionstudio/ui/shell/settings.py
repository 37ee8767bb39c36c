"""Typed, defensive reading of the app's QSettings.

The settings file is outside the app's control: an old version, another program, a
half-written sync or a person with a text editor may have put anything in it, and a
bad value must never stop the app from starting. Two layers guard it:

* :func:`open_settings` looks at the INI file *before* Qt opens it. Qt decodes values
  written as ``@Variant(...)`` or ``@DateTime(...)`` with QDataStream, unchecked, and a
  few bytes there abort the process (a list that claims 2**31 entries: ``std::bad_alloc``)
  or overflow the stack (lists nested 20,000 deep: a segfault); opening a FIFO blocks
  and a huge file fills memory. The app itself never writes such values, so a file that
  contains one -- or is oversized, or is not a regular file -- is moved aside and the app
  starts with its defaults.
* ``read_*`` check the type (and range, length, choices) of every value read; a wrong
  type or garbage gives the default and one log line naming the file and the key.

Plain ``settings.value(key)`` is used underneath, never its ``type=`` argument: that
conversion is lossy (``"garbage"`` as bool is True, a QPoint as str is '').
"""

from __future__ import annotations

import logging
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path

from PySide6.QtCore import QByteArray, QCoreApplication, QSettings, QStandardPaths

log = logging.getLogger("visionstudio.settings")

MAX_FILE_BYTES = 4 * 1024 * 1024   # the app writes a few KiB; Qt reads the whole file into memory
MAX_TEXT_CHARS = 4096              # any one text value (paths included: PATH_MAX on Linux)
MAX_BYTES = 256 * 1024             # any one binary value (window geometry and dock layout: ~2 KiB)
CORRUPT_SUFFIX = ".corrupt"

_reported: set[tuple[str, str]] = set()  # (file, key) already logged: one line per bad key


# -- the file, before Qt parses it --------------------------------------------------------------
# Qt's INI unescaping (QSettingsPrivate::iniUnescapedStringList): \x<hex...> and \<octal...>
# give one UTF-16 unit (truncated to 16 bits), \<letter> a C escape, \<newline> nothing, any
# other \<char> is dropped, and double quotes only group. Decoding the whole file this way puts
# every list element Qt would hand to QDataStream, as a contiguous substring, into the result,
# right after what can precede an element there ('=', ',' or blanks, once quotes and escapes
# that decode to nothing are gone). A superset: a path containing " @Variant(" is refused too.
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   '"': '"', "?": "?", "'": "'", "\\": "\\"}
_ESCAPE = re.compile(r'\\(?:x([0-9A-Fa-f]+)|([0-7]+)|(\r\n?|\n\r?)|(.))?|"', re.DOTALL)
_DESERIALIZED = re.compile(r"(?:^|(?<=[=,\s]))@(?:Variant|DateTime)\(")


def _unescape_char(m: re.Match) -> str:
    hex_digits, oct_digits, _newline, other = m.groups()
    if hex_digits is not None:
        return chr(int(hex_digits, 16) & 0xFFFF)
    if oct_digits is not None:
        return chr(int(oct_digits, 8) & 0xFFFF)
    if other is not None:
        return _SIMPLE_ESCAPES.get(other, "")
    return ""  # a quote, a line continuation or a trailing backslash


def ini_text_problem(data: bytes) -> str | None:
    """Why Qt must not parse this INI text, or None when it is safe to hand over."""
    text = data.decode("latin-1")  # byte for byte: ASCII stays where it is, nothing else is ASCII
    if "\\" in text or '"' in text:
        text = _ESCAPE.sub(_unescape_char, text)
    found = _DESERIALIZED.search(text)
    if found is not None:
        return (f"it holds a serialized object ({found.group(0)}…), which this app never writes "
                "and Qt would decode unchecked")
    return None


def settings_file_problem(path: str | os.PathLike) -> str | None:
    """Why the INI settings file at ``path`` must not be parsed; None if absent or safe."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"it cannot be examined ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if len(data) > MAX_FILE_BYTES:
        return f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"
    return ini_text_problem(data)


_NATIVE_IS_NOT_INI = sys.platform in ("win32", "darwin")  # registry, plist


def _is_ini_file(settings: QSettings) -> bool:
    if settings.format() == QSettings.Format.IniFormat:
        return True
    # the native format is an INI file everywhere but Windows (registry) and macOS (plist)
    return settings.format() == QSettings.Format.NativeFormat and not _NATIVE_IS_NOT_INI



def default_settings_path() -> Path | None:
    """The file ``QSettings()`` would use for this app (user scope), found without opening it.

    Constructing a QSettings reads its files at once (a FIFO there blocks it, a huge file
    fills memory), so the app's file is checked before any QSettings exists for it. None
    on Windows and macOS, whose native settings are not files of this kind.
    """
    if _NATIVE_IS_NOT_INI:
        return None
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    org = QCoreApplication.organizationName() or "Unknown Organization"  # Qt's own fallback
    return Path(base) / org / f"{QCoreApplication.applicationName()}.conf"


def _checked(path: str, fmt: QSettings.Format) -> QSettings | None:
    """None when ``path`` is safe; else move it aside and give a QSettings with no such file."""
    problem = settings_file_problem(path)
    if problem is None:
        return None
    aside = path + CORRUPT_SUFFIX
    try:
        os.replace(path, aside)
    except OSError as exc:
        fallback = Path(tempfile.mkdtemp(prefix="visionstudio-settings-")) / "settings.ini"
        log.warning("settings file %s was not read: %s; it cannot be moved aside (%s), so this "
                    "session uses the default settings and keeps changes in %s",
                    path, problem, exc.strerror or exc, fallback)
        return QSettings(str(fallback), QSettings.Format.IniFormat)
    log.warning("settings file %s was not read: %s; it was moved to %s and the default settings "
                "are used", path, problem, aside)
    # A new object: its first sync sees the file gone and drops what Qt cached of it.
    return QSettings(path, fmt)


def open_settings(settings: QSettings | None = None) -> QSettings:
    """The app's settings (or ``settings``), safe for Qt to parse.

    Without ``settings`` the app's own file is checked before Qt opens it, and then
    opened alone: no fallbacks to organisation-wide and system-wide files, which Qt would
    read and parse unchecked too (the app keeps nothing there). A given ``settings`` has
    been opened already but not parsed (Qt parses on the first read): call this before
    reading it. An unsafe file is renamed to ``<file>.corrupt`` (one log line says why and
    where) and the app starts with its defaults and writes a clean file; if the rename
    fails, the session uses a throw-away file instead.
    """
    if settings is None:
        path = default_settings_path()
        if path is None:
            settings = QSettings()
            settings.setFallbacksEnabled(False)
            return settings
        replaced = _checked(str(path), QSettings.Format.NativeFormat)
        return replaced if replaced is not None else QSettings(str(path), QSettings.Format.NativeFormat)
    settings.setFallbacksEnabled(False)
    if not _is_ini_file(settings):
        return settings
    replaced = _checked(settings.fileName(), settings.format())
    return replaced if replaced is not None else settings


# -- typed values -----------------------------------------------------------------------------------
class _Unreadable:
    """A stored value PySide cannot convert (it raises): garbage like any other."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __repr__(self) -> str:
        return f"an unconvertible value ({self.exc})"


_MISSING = object()


def _raw(settings: QSettings, key: str):
    """The stored value, ``_MISSING`` when there is none; never raises."""
    try:
        if not settings.contains(key):
            return _MISSING
        return settings.value(key)
    except Exception as exc:  # noqa: BLE001 - Shiboken raises RuntimeError for unconvertible variants
        return _Unreadable(exc)


def _describe(value) -> str:
    if isinstance(value, _Unreadable):
        return repr(value)
    if value is None:
        return "an empty or unknown value"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    size = f" of {len(value):,} characters" if isinstance(value, str) and len(value) > 60 else ""
    return f"{type(value).__name__} {text}{size}"


def _bad(settings: QSettings, key: str, problem: str, outcome: str = "the default") -> None:
    """One log line per (file, key) for the whole session: the same garbage is read often."""
    where = (settings.fileName(), key)
    if where in _reported:
        return
    _reported.add(where)
    log.warning("settings %s: %s %s; using %s", settings.fileName(), key, problem, outcome)


def _text_problem(value: str, max_len: int) -> str | None:
    if len(value) > max_len:
        return f"is {len(value):,} characters long (at most {max_len:,})"
    if "\x00" in value:
        return "contains a NUL character"
    return None


def read_bytes(settings: QSettings, key: str, *, max_bytes: int = MAX_BYTES,
               check: Callable[[bytes], str | None] | None = None) -> bytes | None:
    """Binary data (window geometry, dock layout), or None when absent or unusable.

    ``check`` returns why the bytes must not be used (or None): Qt's restore functions
    trust their input, so the format is checked here first."""
    value = _raw(settings, key)
    if value is _MISSING:
        return None
    if not isinstance(value, (QByteArray, bytes, bytearray)):
        _bad(settings, key, f"should be binary data but is {_describe(value)}")
        return None
    data = bytes(value.data()) if isinstance(value, QByteArray) else bytes(value)
    if len(data) > max_bytes:
        _bad(settings, key, f"holds {len(data):,} bytes (at most {max_bytes:,})")
        return None
    problem = check(data) if check is not None else None
    if problem is not None:
        _bad(settings, key, f"is unusable: {problem}")
        return None
    return data


def read_str(settings: QSettings, key: str, default: str = "", *, max_len: int = MAX_TEXT_CHARS,
             choices: Collection[str] | None = None) -> str:
    """A text value (one of ``choices`` when given), or ``default``."""
    value = _raw(settings, key)
    if value is _MISSING:
        return default
    if not isinstance(value, str):
        _bad(settings, key, f"should be text but is {_describe(value)}", f"the default {default!r}")
        return default
    problem = _text_problem(value, max_len)
    if problem is None and choices is not None and value not in choices:
        problem = f"is {_describe(value)}, not one of {', '.join(sorted(choices))}"
    if problem is not None:
        _bad(settings, key, problem, f"the default {default!r}")
        return default
    return value


_TRUE, _FALSE = ("true", "1"), ("false", "0")


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    """A yes/no value: a bool, or the text Qt writes for one (true/false, 1/0)."""
    value = _raw(settings, key)
    if value is _MISSING:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and len(value) <= 8:
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    _bad(settings, key, f"should be true or false but is {_describe(value)}", f"the default {default!r}")
    return default


def read_int(settings: QSettings, key: str, default: int, *, minimum: int, maximum: int) -> int:
    """A whole number in [minimum, maximum] (INI files store it as text), or ``default``."""
    value = _raw(settings, key)
    if value is _MISSING:
        return default
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,19}\s*", value):
        number = int(value)
    if number is None:
        _bad(settings, key, f"should be a whole number but is {_describe(value)}",
             f"the default {default!r}")
        return default
    if not minimum <= number <= maximum:
        _bad(settings, key, f"is {number}, outside {minimum}..{maximum}", f"the default {default!r}")
        return default
    return number


def read_str_list(settings: QSettings, key: str, *, cap: int, max_len: int = MAX_TEXT_CHARS,
                  accept: Callable[[str], bool] | None = None, what: str = "text") -> list[str]:
    """At most ``cap`` distinct, non-empty strings, in stored order.

    Entries that are not text, too long, contain NUL, fail ``accept`` (a cheap check on
    the string: no filesystem access) or repeat are dropped, and so is everything past
    ``cap`` -- counted into one log line. The scan stops at ``cap`` kept entries, so a
    list of 20,000 costs no more than one of ``cap``.
    """
    value = _raw(settings, key)
    if value is _MISSING or value is None:  # Qt stores an empty list as @Invalid()
        return []
    if isinstance(value, str):  # Qt gives a lone string for a one-item list
        value = [value]
    if not isinstance(value, (list, tuple)):
        _bad(settings, key, f"should be a list of {what} but is {_describe(value)}", "an empty list")
        return []
    kept: list[str] = []
    seen: set[str] = set()
    dropped: dict[str, int] = {}
    for i, item in enumerate(value):
        if len(kept) >= cap:
            dropped[f"past the first {cap}"] = len(value) - i
            break
        if not isinstance(item, str):
            reason = "not text"
        elif not item:
            continue  # an empty entry is how Qt writes a trailing comma; nothing to report
        elif _text_problem(item, max_len) is not None:
            reason = f"longer than {max_len:,} characters or with NUL"
        elif accept is not None and not accept(item):
            reason = f"not {what}"
        elif item in seen:
            reason = "repeated"
        else:
            seen.add(item)
            kept.append(item)
            continue
        dropped[reason] = dropped.get(reason, 0) + 1
    if dropped:
        detail = ", ".join(f"{n:,} {reason}" for reason, n in dropped.items())
        outcome = f"the {len(kept)} usable ones" if kept else "an empty list"
        _bad(settings, key, f"has unusable entries ({detail})", outcome)
    return kept
