"""The app's task and dataset modules, cut into standalone modules of the training bundle.

A regression, localization or detection bundle trains with VisionStudio's own objectives
(core/tasks: the losses, the target normalisation, the Detect grid's assignment and loss,
IoU and mAP), its own box augmentation and its own procedural box and regression data,
copied at export time instead of written twice. Each module's text is cut from the app's
source with ``cut_module``:

- an import of another app module becomes an import of that module's bundle copy, name by
  name, when the copy defines the name; a name the bundle has no copy of (the app's
  registries, ParamSpec, the loader classes) is left out, and so is every top-level
  statement that uses it, transitively (``load_…``, ``describe_…``, PARAMS …);
- ``provided`` names (the few helpers bound to the app's registries: a head's loss from
  LOSSES, a Detect layer's params from LAYERS) are imported from train_tasks.py, which
  builds them from config.json's already-checked settings;
- imports under ``if TYPE_CHECKING:`` are dropped (annotations are never evaluated).

The result must import nothing but ``ALLOWED`` and the bundle's own modules and must
compile; otherwise the export stops with an ExportError naming the module, so a change in
the app that the bundle cannot follow is found at export time, never by the user's run.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Mapping

from visionstudio.core.export.shapes_source import _tidy
from visionstudio.core.export.weights import ExportError

ALLOWED = frozenset({"__future__", "collections", "csv", "dataclasses", "io", "json", "math", "os",
                     "pathlib", "stat", "statistics", "typing", "numpy", "torch", "torchvision",
                     "torchmetrics", "PIL", "yaml"})
APP_PREFIX = "visionstudio"
TASKS_FILE = "train_tasks"      # the bundle module that provides the registry-bound helpers


def _is_app(node: ast.ImportFrom) -> bool:
    return node.level > 0 or (node.module or "").split(".")[0] == APP_PREFIX


def top_names(source: str) -> frozenset[str]:
    """The names a module's text defines at its top level."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def _used(node: ast.AST) -> set[str]:
    """Names a statement reads when it runs (annotations left out: never evaluated here)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name):
            out.add(n.id)
        for field, value in ast.iter_fields(n):
            if field in ("annotation", "returns"):
                continue
            items = value if isinstance(value, list) else [value]
            stack.extend(v for v in items if isinstance(v, ast.AST))
    return out


class _Cut:
    def __init__(self, maps: Mapping[str, str], defined: Mapping[str, frozenset[str]],
                 provided: frozenset[str]) -> None:
        self.maps, self.defined, self.provided = maps, defined, provided

    def rewrite(self, node: ast.ImportFrom) -> tuple[list[str], set[str]]:
        """(bundle import lines, names that have no bundle copy) of an app import."""
        groups: dict[str, list[str]] = {}
        missing: set[str] = set()
        target = self.maps.get(node.module or "")
        for alias in node.names:
            shown = alias.name if alias.asname is None else f"{alias.name} as {alias.asname}"
            if alias.name in self.provided:
                groups.setdefault(TASKS_FILE, []).append(shown)
            elif target is not None and alias.name in self.defined.get(target, ()):
                groups.setdefault(target, []).append(shown)
            else:
                missing.add(alias.asname or alias.name)
        pad = " " * node.col_offset
        return [f"{pad}from {mod} import {', '.join(names)}" for mod, names in groups.items()], missing


def cut_module(module, bundle_name: str, *, maps: Mapping[str, str],
               defined: Mapping[str, frozenset[str]], provided: frozenset[str] = frozenset(),
               header: str = "") -> str:
    """The bundle text of app ``module`` (see the module docstring for the rules)."""
    source = inspect.getsource(module)
    tree = ast.parse(source)
    lines = source.splitlines()
    cut = _Cut(maps, defined, provided)
    replace: dict[int, tuple[int, list[str]]] = {}   # first line -> (last line, new lines)
    missing: set[str] = set()
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        replace[body[0].lineno] = (body[0].end_lineno, [f'"""{header}"""'] if header else [])
        body = body[1:]
    kept: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.ImportFrom) and _is_app(node):
            new, gone = cut.rewrite(node)
            missing |= gone
            replace[node.lineno] = (node.end_lineno, new)
        elif isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            inner = [s for s in node.body if not (isinstance(s, ast.ImportFrom) and _is_app(s))]
            text = [lines[s.lineno - 1] for s in inner] if inner else []
            replace[node.lineno] = (node.end_lineno, [lines[node.lineno - 1], *text] if inner else [])
        else:
            kept.append(node)
    nested: dict[int, list[tuple[ast.ImportFrom, list[str], set[str]]]] = {}
    for i, node in enumerate(kept):
        for sub in ast.walk(node):
            if sub is not node and isinstance(sub, ast.ImportFrom) and _is_app(sub):
                new, gone = cut.rewrite(sub)
                nested.setdefault(i, []).append((sub, new, gone))
    dropped: set[int] = set()
    while True:   # drop what uses a missing name, until nothing more goes
        grew = False
        for i, node in enumerate(kept):
            if i in dropped:
                continue
            names = top_names(ast.unparse(node))
            if (names & provided or _used(node) & missing
                    or any(gone for _, _, gone in nested.get(i, ()))):
                dropped.add(i)
                missing |= names - provided
                grew = True
        if not grew:
            break
    for i, node in enumerate(kept):
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if i in dropped:   # a provided helper is imported where the app defines it
            own = sorted(top_names(ast.unparse(node)) & provided)
            replace[start] = (node.end_lineno, [f"from {TASKS_FILE} import {', '.join(own)}"] if own else [])
            continue
        for sub, new, _ in nested.get(i, ()):
            replace[sub.lineno] = (sub.end_lineno, new)
    text = _assemble(lines, replace)
    check_bundle_module(text, bundle_name, set(maps.values()) | {TASKS_FILE})
    return text


def _assemble(lines: list[str], replace: dict[int, tuple[int, list[str]]]) -> str:
    out: list[str] = []
    n = 1
    while n <= len(lines):
        if n in replace:
            last, new = replace[n]
            out.extend(new)
            n = last + 1
            continue
        out.append(lines[n - 1])
        n += 1
    return _tidy("\n".join(out))


def check_bundle_module(text: str, name: str, bundle_modules: set[str]) -> None:
    """ExportError unless ``text`` compiles and imports only ALLOWED and bundle modules."""
    try:
        tree = ast.parse(text)
        compile(tree, name, "exec")
    except SyntaxError as exc:
        raise ExportError(f"{name}: the app's module could not be cut into a standalone copy "
                          f"(line {exc.lineno}: {exc.msg}); this is a bug in VisionStudio's exporter"
                          ) from None
    ok = ALLOWED | bundle_modules
    for node in ast.walk(tree):
        mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                else [("." * node.level) + (node.module or "")] if isinstance(node, ast.ImportFrom) else [])
        bad = [m for m in mods if m.split(".")[0] not in ok]
        if bad:
            raise ExportError(f"{name}: the app's module imports {', '.join(bad)}, which a standalone "
                              "training script cannot import; nothing was exported")


# (bundle module, app module, names train_tasks.py provides), in import order: each
# module's app imports map onto the copies made before it.
TASK_MODULES = (
    ("box_labels_data", "visionstudio.core.data.box_labels", ()),
    ("image_csv_data", "visionstudio.core.data.image_csv", ()),
    ("image_scan_data", "visionstudio.core.data.image_scan", ()),
    ("yolo_data", "visionstudio.core.data.yolo", ()),
    ("coco_data", "visionstudio.core.data.coco", ()),
    ("regress_shapes_data", "visionstudio.core.data.shapes_regress", ()),
    ("box_shapes_data", "visionstudio.core.data.shapes_detect", ()),
    ("box_augment", "visionstudio.core.tasks.box_augment", ()),
    ("task_heads", "visionstudio.core.tasks.heads", ()),
    ("task_objective", "visionstudio.core.tasks.objective", ()),
    ("task_decode", "visionstudio.core.tasks.detection_decode", ()),
    ("task_classification", "visionstudio.core.tasks.classification", ("head_loss",)),
    ("task_regression", "visionstudio.core.tasks.regression", ("_loss_fn",)),
    ("task_localization", "visionstudio.core.tasks.localization", ("_box_loss", "head_loss")),
    ("task_detection_metrics", "visionstudio.core.tasks.detection_metrics", ()),
    ("task_detection", "visionstudio.core.tasks.detection_objective", ("detection_params",)),
)
# Bundle modules copied elsewhere (shapes_source, augment_source) that the cut modules use.
COPIED = {"visionstudio.core.data.base": "shapes_data", "visionstudio.core.data.shapes": "shapes_data",
          "visionstudio.core.data.augment": "augmentation"}


def task_module_sources(copied: Mapping[str, str]) -> list[tuple[str, str]]:
    """[(file name, text)] of the cut modules; ``copied``: bundle module -> its text for
    the modules copied by other means (shapes_data, augmentation)."""
    import importlib

    maps = dict(COPIED)
    defined = {name: top_names(text) for name, text in copied.items()}
    out = []
    for bundle_name, app_name, provided in TASK_MODULES:
        module = importlib.import_module(app_name)
        header = (f"VisionStudio's {app_name.rsplit('.', 1)[1]} module, cut for this bundle at export "
                  "time (see train_tasks.py): the app's own code, without what needs the app.")
        text = cut_module(module, f"{bundle_name}.py", maps=maps, defined=defined,
                          provided=frozenset(provided), header=header)
        maps[app_name] = bundle_name
        defined[bundle_name] = top_names(text)
        out.append((f"{bundle_name}.py", text))
    return out
