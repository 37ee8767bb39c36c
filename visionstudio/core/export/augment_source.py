"""The app's augmentation module, copied verbatim into exported training scripts.

``core/data/augment.py`` needs only torch (torchvision inside ``make_v2_transform``,
which train.py does not call), so the bundle's ``augmentation.py`` is its source text
unchanged: the same preset, shape and seed give the same batch as in the app. If the
app module ever grows an import the bundle cannot satisfy (a relative or VisionStudio
import), the export stops with an ExportError instead of writing a broken script.
"""

from __future__ import annotations

import ast
import inspect

# Top-level modules the copied text may import (train.py's own dependencies).
BUNDLE_IMPORTS = frozenset({"__future__", "collections", "math", "typing", "torch", "torchvision"})


def foreign_imports(source: str) -> list[str]:
    """Imports in ``source`` that an exported bundle cannot satisfy."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            bad.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] not in BUNDLE_IMPORTS:
                bad.append(node.module or "")
        elif isinstance(node, ast.Import):
            bad += [a.name for a in node.names if a.name.split(".")[0] not in BUNDLE_IMPORTS]
    return bad


def augment_module_source() -> str:
    """The text of the bundle's augmentation.py (the app's augment.py, unchanged)."""
    from visionstudio.core.data import augment
    from visionstudio.core.export.weights import ExportError

    source = inspect.getsource(augment)
    bad = foreign_imports(source)
    if bad:
        raise ExportError("the app's augmentation module imports "
                          f"{', '.join(bad)}; it cannot be copied into a standalone training script")
    return source
