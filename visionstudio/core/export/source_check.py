"""Project text on its way into exported files, and the last check before they are written.

A project may be a file someone downloaded, so its name, description, layer names and
dataset settings are untrusted text. They reach generated Python only in three forms:

- a ``repr()`` literal (``PROJECT_NAME = '...'``), which Python reads back as exactly
  the same string whatever it holds;
- a checked identifier (layer attributes, the class name): ASCII letters, digits and
  underscores, not a keyword, else the export stops with an ExportError;
- docstring text passed through ``docstring_line``: printable characters only, with no
  double quote and every backslash doubled, so it can neither end the docstring nor
  become an escape sequence.

And every generated .py goes through ``checked_source`` before anything is written:
encoded as UTF-8 and compiled from those bytes (as ``import`` will read them, coding
cookie included). Compiling runs nothing; a failure is an ExportError, never a
success with a broken file.
"""

from __future__ import annotations

import keyword
import unicodedata

from visionstudio.core.export.weights import ExportError

REPLACEMENT = "\ufffd"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def checked_source(source: str, filename: str) -> bytes:
    """``source`` as the UTF-8 bytes to write, after proving they compile."""
    try:
        data = source.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ExportError(f"{filename}: the generated code holds text that cannot be written as UTF-8 "
                          f"({exc.reason} at character {exc.start}); nothing was exported") from None
    try:
        compile(data, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise ExportError(f"{filename}: the generated code is not valid Python (line {exc.lineno}: "
                          f"{exc.msg}); nothing was exported. This is a bug in VisionStudio's "
                          "exporter: please report it with the project file") from None
    except ValueError as exc:  # older Pythons: "source code string cannot contain null bytes"
        raise ExportError(f"{filename}: the generated code is not valid Python ({exc}); "
                          "nothing was exported") from None
    return data


def checked_identifier(name: object, what: str) -> str:
    """``name`` when it can be written into source as a Python name, else ExportError.

    ASCII only: Python folds non-ASCII identifiers (NFKC), so 'ﬁ' would become 'fi' and
    no longer match the state-dict key the app saved."""
    if (isinstance(name, str) and name.isascii() and name.isidentifier()
            and not keyword.iskeyword(name)):
        return name
    shown = repr(_short(name)) if isinstance(name, str) else type(name).__name__
    raise ExportError(f"{what} {shown} is not a valid Python name (use letters, digits and "
                      "underscores, not starting with a digit); rename it before exporting")


def check_layer_names(graph) -> None:
    """Every layer's name and module attribute is a checked identifier: they name the
    modules inside TorchScript's code and ONNX's nodes as well as model.py's lines."""
    from visionstudio.core.build import attribute_names

    for g in (graph, *(d.graph for d in graph.blocks.values())):  # block1.conv1 is a module too
        attrs = attribute_names(g)
        for nid, node in g.nodes.items():
            checked_identifier(node.name, "the layer name")
            checked_identifier(attrs[nid], "the layer attribute")


def _printable(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    if ch == '"':
        return "'"
    if ch.isprintable():
        return ch
    return " " if ch.isspace() or unicodedata.category(ch) == "Cc" else REPLACEMENT


def docstring_line(text: str, limit: int | None = None) -> str:
    """One line of ``text`` that is safe inside a ``\"\"\"`` docstring (not raw).

    Line breaks and other controls become spaces, other non-printable characters
    (lone surrogates, bidi overrides, separators) U+FFFD, ``"`` becomes ``'``,
    backslashes are doubled (read back as one)."""
    if limit is not None:
        text = _short(text, limit)
    return "".join(_printable(ch) for ch in text)


def plain_line(text: str, limit: int = 200) -> str:
    """``text`` on one printable line (for README headings and other prose files)."""
    out = "".join(ch if ch.isprintable() else (" " if ch.isspace() or unicodedata.category(ch) == "Cc"
                                                else REPLACEMENT) for ch in _short(text, limit))
    return " ".join(out.split())


def metadata_text(text: str, limit: int = 1000) -> str:
    """``text`` as a string any JSON/UTF-8 writer accepts (lone surrogates as ``\\udXXX``)."""
    return _short(text, limit).encode("utf-8", "backslashreplace").decode("utf-8")
