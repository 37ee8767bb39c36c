"""Finding layers on the canvas: by text (the Ctrl+F find bar) and along edges (arrows).

A large network is read by jumping, not by panning: the find bar matches a layer's
name or kind as a case-insensitive substring and goes to each match in reading order
(top to bottom, then left to right); the arrow keys walk the selection along the
connections. Both only *select and show* a layer; they never edit the graph.
"""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCompleter,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QStyle,
    QToolButton,
)

from visionstudio.core.graph import GraphModel
from visionstudio.core.layers import LAYERS

UP, DOWN, LEFT, RIGHT = "up", "down", "left", "right"


def _kind_words(kind: str) -> tuple[str, ...]:
    spec = LAYERS.get(kind) if kind in LAYERS else None
    return (kind, spec.title) if spec is not None else (kind,)


def _reading_order(graph: GraphModel, node_id: str) -> tuple[float, float, str]:
    x, y = graph.positions.get(node_id, (0.0, 0.0))
    return (y, x, node_id)


def find_layers(graph: GraphModel, text: str) -> list[str]:
    """Ids of the layers whose name or kind (key or title) contains ``text``, ignoring
    case, in reading order; none for blank text."""
    needle = text.strip().lower()
    if not needle:
        return []
    hits = [nid for nid, node in graph.nodes.items()
            if needle in node.name.lower() or any(needle in w.lower() for w in _kind_words(node.kind))]
    return sorted(hits, key=lambda nid: _reading_order(graph, nid))


def completion_words(graph: GraphModel) -> list[str]:
    """What the find bar offers while typing: every layer name, then every kind title used."""
    names = sorted({n.name for n in graph.nodes.values()}, key=str.lower)
    kinds = sorted({_kind_words(n.kind)[-1] for n in graph.nodes.values()} - set(names), key=str.lower)
    return names + kinds


def step_along_edges(graph: GraphModel, node_id: str, direction: str,
                     came_from: str | None = None) -> str | None:
    """The layer an arrow key moves to from ``node_id``: Down a successor, Up a
    predecessor (the one we came from when there is one, else the left-most), Left and
    Right the nearest sibling on that side (another input of a successor or another
    output of a predecessor: the other arm of a branch). None when there is none."""
    if node_id not in graph.nodes:
        return None
    x0 = graph.positions.get(node_id, (0.0, 0.0))[0]
    if direction in (UP, DOWN):
        options = graph.predecessors(node_id) if direction == UP else graph.successors(node_id)
        options = [n for n in options if n in graph.nodes]
        if came_from in options:
            return came_from
        return min(options, key=lambda n: (graph.positions.get(n, (0.0, 0.0))[0], n), default=None)
    siblings = {s for p in graph.predecessors(node_id) for s in graph.successors(p)}
    siblings |= {p for s in graph.successors(node_id) for p in graph.predecessors(s)}
    siblings = {n for n in siblings if n in graph.nodes and n != node_id}
    sign = 1 if direction == RIGHT else -1
    side = [n for n in siblings if sign * (graph.positions.get(n, (0.0, 0.0))[0] - x0) > 0]
    return min(side, key=lambda n: (abs(graph.positions.get(n, (0.0, 0.0))[0] - x0), n), default=None)


class _FindEdit(QLineEdit):
    """The find text field: Shift+Enter asks for the previous match, Esc (with no
    completion list open) for closing. Handled here, not in an event filter, because an
    open completion list hands its keys straight to the field."""

    previous_requested = Signal()
    close_requested = Signal()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        popup = self.completer().popup() if self.completer() is not None else None
        if event.key() == Qt.Key.Key_Escape and not (popup is not None and popup.isVisible()):
            self.close_requested.emit()
            event.accept()
            return
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.previous_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class FindBar(QFrame):
    """The find bar over the canvas's top-right corner (Edit › Find Layer…, Ctrl+F).

    Enter or F3 goes to the next match, Shift+Enter or Shift+F3 to the previous one, Esc
    closes the bar and gives the canvas its focus back. Keys typed here never reach the
    canvas (Up/Down in the text field must not walk the selection)."""

    WIDTH = 380

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.setObjectName("findBar")
        self.setAccessibleName("Find layer")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.edit = _FindEdit(self)
        self.edit.setObjectName("findEdit")
        self.edit.setAccessibleName("Layer name or kind to find")
        self.edit.setPlaceholderText("Find a layer by name or kind")
        self.edit.setToolTip("Type part of a layer's name or kind; Enter goes to the next match")
        self.edit.setClearButtonEnabled(True)
        self.words = QStringListModel(self)
        self.completer = QCompleter(self.words, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.activated.connect(self._on_completer_activated)
        self.edit.setCompleter(self.completer)
        self.status = QLabel(self)
        self.status.setObjectName("findStatus")
        self.status.setAccessibleName("Find result")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.status)
        style, sp = self.style(), QStyle.StandardPixmap
        for name, icon, tip, slot in (
                ("findPrevious", sp.SP_ArrowUp, "Previous match (Shift+F3)", self.find_previous),
                ("findNext", sp.SP_ArrowDown, "Next match (F3, Enter)", self.find_next),
                ("findClose", sp.SP_DialogCloseButton, "Close the find bar (Esc)", self.close_bar)):
            button = QToolButton(self)
            button.setObjectName(name)
            button.setIcon(style.standardIcon(icon))
            button.setToolTip(tip)
            button.setAccessibleName(tip.split(" (")[0])
            button.setAutoRaise(True)
            button.clicked.connect(lambda _checked=False, slot=slot: slot())
            layout.addWidget(button)
        self.edit.returnPressed.connect(self.find_next)
        self.edit.textChanged.connect(self._on_edit_text_changed)
        self.edit.previous_requested.connect(self.find_previous)
        self.edit.close_requested.connect(self.close_bar)
        # Actions on the canvas (not the window): F3 works wherever the canvas or the bar
        # has the focus, and Help › Keyboard Shortcuts lists them with the window's own.
        for text, keys, tip, slot in (
                ("Find Next Layer", "F3", "Go to the next layer matching the find text", self.find_next),
                ("Find Previous Layer", "Shift+F3", "Go to the previous matching layer", self.find_previous)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setStatusTip(tip)
            action.triggered.connect(lambda _checked=False, slot=slot: slot())
            view.addAction(action)
        self.hide()

    # -- showing ---------------------------------------------------------------------
    def open(self) -> None:
        self.words.setStringList(completion_words(self.view.controller.graph))
        self.place()
        self.show()
        self.raise_()
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()
        self._on_edit_text_changed(self.edit.text())

    def close_bar(self) -> None:
        self.completer.popup().hide()
        self.hide()
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def place(self) -> None:
        """Top-right corner of the canvas, narrower than the canvas."""
        width = min(self.WIDTH, max(160, self.view.width() - 16))
        self.resize(width, self.sizeHint().height())
        self.move(self.view.width() - width - 8, 8 + self.view.viewportMargins().top())  # under the crumbs

    # -- finding ---------------------------------------------------------------------
    def matches(self) -> list[str]:
        return find_layers(self.view.controller.graph, self.edit.text())

    def find_next(self) -> str | None:
        return self._go(+1)

    def find_previous(self) -> str | None:
        return self._go(-1)

    def _go(self, step: int, restart: bool = False) -> str | None:
        if self.isHidden() and not self.edit.text().strip():
            self.open()
            return None
        hits = self.matches()
        if not hits:
            self._show_count(hits)
            return None
        selection = self.view.controller.selection
        current = selection[-1] if selection else None
        if current in hits and not restart:
            index = (hits.index(current) + step) % len(hits)
        else:
            index = 0 if step > 0 else len(hits) - 1
        self.view.go_to_node(hits[index])
        self.status.setText(f"{index + 1} of {len(hits)}")
        return hits[index]

    def _show_count(self, hits: list[str]) -> None:
        text = self.edit.text().strip()
        if not text:
            self.status.setText("")
        elif not hits:
            self.status.setText(f"No layer matches '{text}'")
        else:
            self.status.setText(f"{len(hits)} layer{'s' if len(hits) != 1 else ''} match")

    def _on_edit_text_changed(self, _text: str) -> None:
        self._show_count(self.matches())

    def _on_completer_activated(self, text: str) -> None:
        # A picked completion goes to its first match, whatever is selected now.
        self.edit.setText(text)
        self._go(+1, restart=True)

    # -- keys --------------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        event.accept()  # what the text field leaves (Up, Down, Page keys) stays in the bar
