"""A standalone copy of the app's ``shapes`` generator for exported training scripts.

The text is cut from the app's own module (``core/data/shapes.py``) at export time, so
the script draws exactly the images the app draws for the same seed: every top-level
statement is kept except the relative imports and the functions that need the app's
loader machinery; the two helpers it needs from ``data/base.py`` are copied in.
Only numpy and torch are imported.
"""

from __future__ import annotations

import ast
import inspect

APP_ONLY_NAMES = frozenset({"DatasetInfo", "LoadContext", "LoadedDataset"})

HEADER = '''"""The "shapes" dataset of VisionStudio, standalone (numpy + torch only).

Copied from VisionStudio's generator at export time: the same seed gives the same
images and labels as in the app. generate_shapes(samples, size=, channels=, classes=,
noise=, seed=, stream=) -> (uint8 N×C×H×W, int64 N); stream 0 is training, 1 validation.
"""

'''


def _uses(node: ast.AST, names: frozenset[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _imports_app(node: ast.AST) -> bool:
    """An import of the app's own modules (relative, or ``visionstudio.…``) anywhere inside."""
    return any(isinstance(n, ast.ImportFrom) and (n.level > 0 or (n.module or "").split(".")[0]
                                                  == "visionstudio") for n in ast.walk(node))


def shapes_module_source() -> str:
    from visionstudio.core.data import base, shapes

    source = inspect.getsource(shapes)
    tree = ast.parse(source)
    lines = source.splitlines()
    drop: list[tuple[int, int]] = []
    for i, node in enumerate(tree.body):
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            drop.append((start, node.end_lineno))  # the app module's docstring
        elif isinstance(node, ast.ImportFrom) and _imports_app(node):
            drop.append((start, node.end_lineno))   # the app's own modules stay behind
        elif isinstance(node, ast.ImportFrom) and node.module == "__future__":
            drop.append((start, node.end_lineno))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and (_uses(node, APP_ONLY_NAMES)
                                                                     or _imports_app(node)):
            drop.append((start, node.end_lineno))
    keep = [line for n, line in enumerate(lines, start=1)
            if not any(a <= n <= b for a, b in drop)]
    body = "\n".join(keep).strip("\n")
    shared = (base.channel_blocks, base.ChannelTotals, base.channel_stats, base.stratified_split)
    helpers = "\n\n\n".join(inspect.getsource(f).rstrip() for f in shared)
    text = (HEADER + "from __future__ import annotations\n\nfrom collections.abc import Sequence\n"
            + body + "\n\n\nclass DatasetError(ValueError):\n"
            '    """Settings the generator cannot draw."""\n\n\n'
            + helpers + "\n")
    text = _tidy(text)
    compile(text, "shapes_data.py", "exec")
    return text


def _tidy(text: str) -> str:
    """At most two blank lines in a row (what removing functions leaves behind)."""
    out: list[str] = []
    blanks = 0
    for line in text.splitlines():
        blanks = blanks + 1 if not line.strip() else 0
        if blanks <= 2:
            out.append(line.rstrip())
    return "\n".join(out).rstrip() + "\n"
