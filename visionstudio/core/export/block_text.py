"""The text side of block classes: lines as tokens, the marks a template carries
where its arguments go, the proof that two lines build the same module, wrapping, and
the class source itself (block_code.py decides which classes there are).

Marks are ``Ψ<n>``: a non-ASCII name, which no layer attribute can be (they are checked
ASCII identifiers) and which only ever replaces a whole NUMBER or NAME token, so no
string literal or other text in a line is touched.
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass
from typing import Any

from torch import nn

from visionstudio.core.export.source_check import docstring_line
from visionstudio.core.layers.source import integer, num

MARK = "Ψ"  # Ψ3: the place of argument 3 in a template line
_MARK_RE = re.compile(rf"{MARK}(\d+)")
WIDTH = 88  # black's line length: the generated file reads like hand-written code


@dataclass
class Text:
    init: list[str]
    forward: list[str]
    helpers: dict[str, str]
    refs: list[str]  # block class names the lines construct


def numbers(text: Text) -> set[str]:
    found: set[str] = set()
    for line in text.init + text.forward:
        found.update(tok.string for tok in tokens(line) if tok.type == tokenize.NUMBER)
    return found


def tokens(line: str) -> list[tokenize.TokenInfo]:
    return [t for t in tokenize.generate_tokens(io.StringIO(line).readline)
            if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]


def splice(line: str, replace) -> str:
    """``line`` with each token for which ``replace(token)`` is not None replaced by it."""
    out, col = [], 0
    for tok in tokens(line):
        new = replace(tok)
        if new is not None:
            out += [line[col:tok.start[1]], new]
            col = tok.end[1]
    return "".join(out) + line[col:]


def nn_call(expr: str) -> tuple | None:
    """(class, bound arguments with defaults) of an ``nn.X(literals...)`` expression."""
    try:
        tree = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Attribute)
            and isinstance(tree.func.value, ast.Name) and tree.func.value.id == "nn"):
        return None
    cls = getattr(nn, tree.func.attr, None)
    if not isinstance(cls, type):
        return None
    try:
        args = [ast.literal_eval(a) for a in tree.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in tree.keywords}
        bound = inspect.signature(cls).bind(*args, **kwargs)
    except (TypeError, ValueError, SyntaxError):
        return None
    bound.apply_defaults()
    return tree.func.attr, tuple(sorted((k, repr(v)) for k, v in bound.arguments.items()))


def same_line(a: str, b: str) -> bool:
    if a == b:
        return True
    (ta, _, ea), (tb, _, eb) = a.partition(" = "), b.partition(" = ")
    if ta != tb:
        return False
    ca = nn_call(ea)
    return ca is not None and ca == nn_call(eb)


def same_text(a: Text, b: Text) -> bool:
    return (a.forward == b.forward and len(a.init) == len(b.init)
            and all(same_line(x, y) for x, y in zip(a.init, b.init)))


def signature(name: str, params: list[str], returns: str) -> str:
    line = f"    def {name}(self{''.join(', ' + p for p in params)}) -> {returns}:"
    if len(line) <= WIDTH:
        return line
    return "\n".join([f"    def {name}(", "        self,", *[f"        {p}," for p in params],
                      f"    ) -> {returns}:"])


def wrapped(line: str, indent: int) -> str:
    """``line`` indented; a call too long for one line gets its arguments on the next
    (black's style), one per line when even that is too long."""
    pad = " " * indent
    if len(pad) + len(line) <= WIDTH or not line.endswith(")"):
        return pad + line
    toks = tokens(line)
    opening = next((t for t in toks if t.string == "("), None)
    if opening is None:
        return pad + line
    depth, commas = 0, []
    for tok in toks:
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.string == "," and depth == 1:
            commas.append(tok.start[1])
    start = opening.end[1]
    head, body = line[:start], line[start:-1]
    inner = pad + "    "
    if len(inner) + len(body) <= WIDTH:
        return f"{pad}{head}\n{inner}{body}\n{pad})"
    cuts = [start, *[c + 1 for c in commas], len(line) - 1]
    args = [line[a:b].strip().rstrip(",") for a, b in zip(cuts, cuts[1:])]
    return "\n".join([pad + head, *[f"{inner}{a}," for a in args if a], pad + ")"])


def port_arg(index: int) -> str:
    return "x" if index == 0 else f"x{index}"


def literal(value: Any) -> str:
    return num(value) if isinstance(value, float) else integer(value)


def render(text: Text, values: list[Any]) -> Text:
    """The template's lines with argument i written as ``values[i]`` (a literal, or a
    name when making the class itself)."""
    def put(tok):
        match = _MARK_RE.fullmatch(tok.string) if tok.type == tokenize.NAME else None
        if match is None:
            return None
        value = values[int(match.group(1))]
        return value if isinstance(value, str) else literal(value)

    return Text([splice(line, put) for line in text.init], [splice(line, put) for line in text.forward],
                 text.helpers, text.refs)


def _paragraph(text: str) -> list[str]:
    return textwrap.wrap(text, 84, initial_indent="    ", subsequent_indent="    ")


def class_source(name: str, definition, users: list[str], args: list[tuple[str, str]], text: Text,
                 siblings: list[str]) -> str:
    """The class for ``definition``: its docstring (title and description as docstring
    text only), ``__init__(self, <args>)`` and ``forward(self, x, x1, ...)``."""
    text = render(text, [a for a, _ in args])
    title = docstring_line(definition.title or definition.key, 80)
    doc = [f'    """{title} (the project\'s block {definition.key}).']
    if definition.description:
        doc += ["", *_paragraph(docstring_line(definition.description[:600]))]
    more = len(users) - 12
    shown = ", ".join(users[:12]) + (f" and {more} more" if more > 0 else "")
    doc += ["", *_paragraph(f"Used by {shown}." if shown else "Used inside another block.")]
    if len(siblings) > 1:
        doc += _paragraph(f"Instances of {definition.key} whose layers differ in more than the "
                          f"arguments get classes of their own: {', '.join(siblings)}.")
    doc.append('    """')
    params = [f"{a}: {t}" for a, t in args]
    inputs = [f"{port_arg(i)}: torch.Tensor" for i in range(len(definition.input_ids()))]
    lines = [f"class {name}(nn.Module):", *doc, "",
             signature("__init__", params, "None"), "        super().__init__()",
             *[wrapped(line, 8) for line in text.init], "",
             signature("forward", inputs, "torch.Tensor"),
             *[wrapped(line, 8) for line in text.forward]]
    return "\n".join(lines) + "\n"


def camel(key: str) -> str:
    """'basic_block' -> 'BasicBlock' (a definition key is an identifier already)."""
    words = re.findall(r"[A-Za-z0-9]+", key)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Block"
    return f"Block{name}" if name[0].isdigit() else name


def symbolic(values: list[Any]) -> str | None:
    """'int' / 'float' when every instance gives a plain number of that type, else None."""
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if all(isinstance(v, float) for v in values):
        return "float"
    return None


def join_ports(symbols, exposed, vector) -> list[list]:
    """Each input's channels joined to the first exposed number that always equals them."""
    parts: dict[Any, list] = {s: [s] for s in exposed}
    for s in symbols:
        if s[0] == "in":
            twin = next((e for e in exposed if vector[e] == vector[s]), None)
            if twin is None:
                parts[s] = [s]
            else:
                parts[twin].insert(0, s)
    return list(parts.values())
