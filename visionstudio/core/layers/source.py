"""The only forms in which a layer's code emitter (``LayerSpec.emit``) writes text
into an exported model.py.

Emitters build their text from these helpers only: numbers through ``num``,
``integer`` and ``pair_source`` (only int, float and bool ever become text) and words
through ``word`` (a string literal), while the names they receive were checked by the
exporter. A project's
parameters therefore cannot carry code into the file (see docs/security.md).
"""

from __future__ import annotations

import math
import re
from typing import Any

from visionstudio.core.params import pair


def num(value: Any) -> str:
    """A number as Python source: ints plain, floats with repr (exact round trip)."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    value = float(value)
    if not math.isfinite(value):
        return f'float("{value!r}")'  # inf, -inf, nan: no bare names in the source
    if value.is_integer() and abs(value) < 1e16:
        return f"{value:.1f}"
    return repr(value)


def integer(value: Any) -> str:
    return repr(int(value))


def pair_source(value: Any) -> str:
    h, w = pair(value)
    return str(h) if h == w else f"({h}, {w})"


def word(value: str) -> str:
    """A parameter word ("same") as a string literal: plain quotes for a simple word,
    repr otherwise."""
    return f'"{value}"' if re.fullmatch(r"[A-Za-z0-9_]+", value) else repr(value)


def constructor(name: str, args: list[str], kwargs: list[tuple[str, str]] = ()) -> str:
    """``nn.Conv2d(3, 8, 3, stride=2)`` from already-literal arguments."""
    parts = list(args) + [f"{k}={v}" for k, v in kwargs]
    return f"{name}({', '.join(parts)})"
