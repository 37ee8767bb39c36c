"""Blocks arriving on the canvas: from the palette, or as ``.vsblock`` files dropped
from the file manager.

A palette drag carries a block reference under BLOCK_MIME: ``builtin:<key>`` (a
built-in block) or ``library:<file name>`` (a file of the user's library folder; only
a bare file name there is followed, never a path). A file drop carries urls; each
local ``.vsblock`` file is read with the core's strict reader. Either way the
definition, and the definitions it uses, join the project when missing and the
instance is placed at the drop point, all in one undoable step (the core's
``add_block_instance``; a key the project uses for a different block is renamed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, QUrl

from visionstudio.core.blocks.builtin import BUILTIN_BLOCKS
from visionstudio.core.blocks.commands import BlockMacro, add_block_instance
from visionstudio.core.commands import CommandError
from visionstudio.core.graph import AddNode, Connect, Disconnect, GraphModel, MoveNodes
from visionstudio.core.graph.editing import COLUMN_SPACING, ROW_SPACING, occupancy, room_below
from visionstudio.ui.canvas.block_library import SUFFIX, LibraryEntry, blocks_dir, read_entry
from visionstudio.ui.shell.push import push_or_reason

BLOCK_MIME = "application/x-visionstudio-block"
BUILTIN, LIBRARY = "builtin:", "library:"
MAX_DROPPED_FILES = 20


@dataclass
class BlockSource:
    """Where a palette block comes from, and what it is (or why it cannot be used)."""

    ref: str
    key: str
    title: str
    description: str
    definition: object | None = None          # BlockDefinition
    dependencies: dict = field(default_factory=dict)
    problem: str = ""
    path: Path | None = None                  # a library file; None for a built-in


def builtin_source(key: str) -> BlockSource:
    definition = BUILTIN_BLOCKS[key]()    # built-ins use no other block
    return BlockSource(BUILTIN + key, key, definition.title or key, definition.description, definition)


def library_source(entry: LibraryEntry) -> BlockSource:
    d = entry.definition
    if d is None:
        return BlockSource(LIBRARY + entry.path.name, entry.name, entry.name, "", problem=entry.problem,
                           path=entry.path)
    return BlockSource(LIBRARY + entry.path.name, d.key, d.title or d.key, d.description, d,
                       entry.dependencies, path=entry.path)


def source_for(ref: str, folder: Path | None = None) -> BlockSource | None:
    """The block a dragged reference names (read afresh), or None for a bad reference."""
    if ref.startswith(BUILTIN):
        key = ref[len(BUILTIN):]
        return builtin_source(key) if key in BUILTIN_BLOCKS else None
    if ref.startswith(LIBRARY):
        name = ref[len(LIBRARY):]
        if not name.endswith(SUFFIX) or Path(name).name != name or name.startswith("."):
            return None
        return library_source(read_entry((folder or blocks_dir()) / name))
    return None


def block_mime(source: BlockSource) -> QMimeData:
    mime = QMimeData()
    mime.setData(BLOCK_MIME, source.ref.encode("utf-8"))
    mime.setText(source.title)
    return mime


def block_ref(mime: QMimeData) -> str | None:
    if not mime.hasFormat(BLOCK_MIME):
        return None
    data = bytes(mime.data(BLOCK_MIME))
    return data.decode("utf-8", "replace").strip() if len(data) <= 1024 else None


def block_files(mime: QMimeData) -> list[Path]:
    """The local ``.vsblock`` files among dropped urls (at most MAX_DROPPED_FILES)."""
    if not mime.hasUrls():
        return []
    paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
    return [p for p in paths if p.suffix.lower() == SUFFIX][:MAX_DROPPED_FILES]


def file_mime(paths: list[Path]) -> QMimeData:
    """What a file manager's drag carries (for tests and scripts)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def accepts(mime: QMimeData) -> bool:
    return block_ref(mime) is not None or bool(block_files(mime))


# -- adding -------------------------------------------------------------------------------------------
def _below(graph: GraphModel, node_id: str | None) -> tuple[float, float]:
    """A row under ``node_id``, else under the lowest layer (the palette's rule for layers)."""
    if node_id in graph.nodes:
        x, y = graph.positions.get(node_id, (0.0, 0.0))
        return x, y + ROW_SPACING
    if graph.positions:
        x, y = max(graph.positions.values(), key=lambda p: p[1])
        return x, y + ROW_SPACING
    return 0.0, 0.0


def block_command(graph: GraphModel, source: BlockSource, position: tuple[float, float] | None = None,
                  after: str | None = None) -> BlockMacro:
    """The one step that adds an instance of ``source`` (its definitions when missing):
    at ``position``, or wired after layer ``after`` and placed under it (into the chain
    when ``after`` feeds exactly one layer, which moves down to make room)."""
    definition = source.definition
    wired = after in graph.nodes and len(definition.input_ids()) >= 1
    outs = graph.outputs_of(after) if wired else []
    x, y = position if position is not None else _below(graph, after)
    moves = room_below(graph, outs[0].dst, y) if len(outs) == 1 and position is None else {}
    spot = occupancy(graph, moves).free_spot((x, y))
    add = add_block_instance(graph, definition, spot, source.dependencies)
    steps = ([MoveNodes(moves)] if moves else []) + [add]
    if wired:
        new = add.commands[-1].node_id
        steps.append(Connect(after, new, 0))
        if len(outs) == 1:
            steps += [Disconnect(outs[0]), Connect(new, outs[0].dst, outs[0].port)]
    return add if len(steps) == 1 else BlockMacro(add.text, steps)


def add_block(controller, source: BlockSource | None, position: tuple[float, float] | None = None,
              after: str | None = None) -> tuple[str | None, str | None]:
    """Push the step that adds ``source``; (the new instance's id, None) or (None, why not)."""
    if source is None:
        return None, "That block is no longer in your library."
    if source.definition is None:
        return None, source.problem
    try:
        command = block_command(controller.graph, source, position, after)
    except CommandError as exc:
        return None, str(exc)
    reason = push_or_reason(controller, command)
    if reason:
        return None, reason
    new_id = next(c.node_id for c in _flat(command) if isinstance(c, AddNode))
    controller.set_selection([new_id])
    return new_id, None


def _flat(command) -> list:
    inner = getattr(command, "commands", None)
    return [c for sub in inner for c in _flat(sub)] if inner is not None else [command]


def drop_blocks(view, mime: QMimeData, scene_pos: QPointF) -> list[str]:
    """A palette block or dropped ``.vsblock`` files, placed side by side from the drop point."""
    ref = block_ref(mime)
    if ref is not None:
        sources = [source_for(ref)]
    else:
        sources = [library_source(read_entry(p)) for p in block_files(mime)]
    made, problems = [], []
    x, y = round(scene_pos.x(), 1), round(scene_pos.y(), 1)
    for i, source in enumerate(sources):
        new_id, reason = add_block(view.controller, source, (x + i * COLUMN_SPACING, y))
        if new_id is not None:
            made.append(new_id)
        elif reason:
            problems.append(reason)
    if made:
        view.controller.set_selection(made)
    if problems:
        view.status_message.emit(" ".join(problems))
    return made
