"""The shape of the code: one-way imports, small modules, reasoned noqa, no import fallbacks.

Pure Python (ast over the source files, nothing is imported), so it runs without Qt or torch.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "visionstudio"
MAX_MODULE_LINES = 400


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (a package is its __init__)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every import statement at any depth (module, function, class), except inside
    ``if TYPE_CHECKING:`` blocks, which never run."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The visionstudio modules an import statement names: ``from x import y`` is x.y when
    y is a module, else x. Parent packages Python also runs are left out on purpose, so a
    package's __init__ importing its own submodules is no cycle by itself."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    found = set()
    for alias in node.names:
        name = f"{base}.{alias.name}"
        if name in MODULES:
            found.add(name)
        elif base in MODULES:
            found.add(base)
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            edges |= _targets(module, path, node)
        edges.discard(module)
        graph[module] = edges
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def _cycle_in(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One concrete cycle through a group's first module, for the failure message."""
    members = set(group)
    start = group[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    return group


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert _cycle_in(["a", "b", "c"], graph) == ["a", "b", "c", "a"]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_import_graph_reads_every_kind_of_import():
    graph = import_graph()
    # A function-level import (main_window adds the export integration after start-up).
    assert "visionstudio.ui.export.integration" in graph["visionstudio.ui.shell.main_window"]
    # ``from package import module`` names the module, not just the package.
    assert "visionstudio.ui.shell.docks" in graph["visionstudio.ui.shell.main_window"]


def test_no_import_cycles():
    graph = import_graph()
    cycles = [" -> ".join(_cycle_in(group, graph)) for group in strongly_connected(graph)]
    assert not cycles, "modules that import each other (function-level imports count):\n" + \
        "\n".join(cycles)


def test_modules_are_at_most_400_lines():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split by responsibility): {long}"


NOQA = re.compile(r"#\s*noqa\b(?P<rest>.*)$", re.IGNORECASE)
NOQA_WITH_REASON = re.compile(r"^:\s*[A-Z]+[0-9]+\b(\s*,\s*[A-Z]+[0-9]+\b)*\s*[-–—(:]?\s*\S")


def test_every_noqa_names_a_code_and_a_reason():
    bad = []
    for path in MODULES.values():
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = NOQA.search(line)
            if match and not NOQA_WITH_REASON.match(match["rest"].strip()):
                bad.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not bad, ("write '# noqa: CODE - why' (a code and the reason for it):\n"
                     + "\n".join(bad))


def test_noqa_check_accepts_only_code_and_reason():
    def ok(comment: str) -> bool:
        return bool(NOQA_WITH_REASON.match(NOQA.search(comment)["rest"].strip()))

    assert ok("# noqa: BLE001 - the worker turns every error into a record")
    assert ok("# noqa: F401  (registration)")
    assert ok("# noqa: N802 - Qt's name")
    assert not ok("# noqa")
    assert not ok("# noqa: BLE001")
    assert not ok("# noqa - because")


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = []
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for kind in kinds:
        if isinstance(kind, ast.Name):
            names.append(kind.id)
        elif isinstance(kind, ast.Attribute):
            names.append(kind.attr)
    return bool({"ImportError", "ModuleNotFoundError"} & set(names))


def _imports_visionstudio(body: list[ast.stmt]) -> bool:
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Import) and any(
                    a.name.split(".")[0] == "visionstudio" for a in node.names):
                return True
            if isinstance(node, ast.ImportFrom) and (
                    node.level or (node.module or "").split(".")[0] == "visionstudio"):
                return True
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                if name in {"import_module", "find_spec", "__import__"} and any(
                        isinstance(a, ast.Constant) and str(a.value).startswith("visionstudio")
                        for a in node.args):
                    return True
    return False


def test_no_import_fallbacks_for_visionstudio_modules():
    """Every module of the package is always there: no ``except ImportError`` around one."""
    bad = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Try) and _imports_visionstudio(node.body) and any(
                    h.type is not None and _catches_import_error(h) for h in node.handlers):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, "import fallbacks around visionstudio modules: " + ", ".join(bad)
