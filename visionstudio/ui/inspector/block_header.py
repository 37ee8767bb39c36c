"""The inspector's lines for blocks.

For an instance: which definition it uses, and the three things to do with it: open
the definition on the canvas (every instance changes with it), detach this instance
onto a copy of its own, or save the definition to the user's block library.
For a layer inside an opened definition: an "Expose" box per parameter, which makes
the parameter one that each instance sets (a SetExposed command: one undo step).
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from visionstudio.core.blocks.commands import Detach, SetExposed
from visionstudio.core.graph.blocks import ExposedParam
from visionstudio.core.params import ParamSpec
from visionstudio.ui.shell.push import push_or_reason

RESERVED_NAMES = frozenset({"block"})   # the instance's own parameter: which definition


class BlockHeader(QWidget):
    """Definition name and its Open / Detach / Save buttons (shown for instances only)."""

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("blockHeader")
        self.controller = controller
        self.node_id: str | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.definition_label = QLabel(self)
        self.definition_label.setObjectName("blockDefinition")
        self.definition_label.setWordWrap(True)
        lay.addWidget(self.definition_label)
        row = QHBoxLayout()
        row.setSpacing(4)
        self.open_button = self._button("openBlock", "Open Block",
                                        "Edit the block's layers on the canvas; every instance of it "
                                        "changes with them", row)
        self.detach_button = self._button("detachBlock", "Detach",
                                          "Give this instance its own copy of the block, so editing it "
                                          "leaves the other instances as they are", row)
        self.save_button = self._button("saveBlockToLibrary", "Save to Library…",
                                        "Save the block in your block library, to use it in other "
                                        "projects", row)
        row.addStretch(1)
        lay.addLayout(row)
        self.open_button.clicked.connect(self.open_definition)
        self.detach_button.clicked.connect(self.detach)
        self.save_button.clicked.connect(self.save_to_library)
        self.hide()

    def _button(self, name: str, text: str, tip: str, row: QHBoxLayout) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(text.rstrip("…"))
        button.setToolTip(tip)
        button.setStatusTip(tip)
        row.addWidget(button)
        return button

    def show_for(self, node) -> None:
        """Fill in for ``node`` when it is an instance; hide otherwise."""
        if node is None or node.kind != "block":
            self.node_id = None
            self.hide()
            return
        self.node_id = node.id
        key = node.params.get("block", "")
        blocks = self.controller.graph.blocks
        definition = blocks.find(key)
        if definition is None:
            self.definition_label.setText(f"Uses the block <b>{html.escape(key)}</b>, which this "
                                          "project does not define.")
        else:
            users = len(blocks.instances_of(self.controller.document.graph, key))
            shared = f", used {users} times in the network" if users > 1 else ""
            self.definition_label.setText(
                f"Block <b>{html.escape(definition.title or key)}</b> "
                f"(<code>{html.escape(key)}</code>{shared})")
        for button in (self.open_button, self.detach_button, self.save_button):
            button.setEnabled(definition is not None)
        self.show()

    def _key(self) -> str | None:
        node = self.controller.graph.nodes.get(self.node_id) if self.node_id else None
        return node.params.get("block") if node is not None else None

    def open_definition(self) -> bool:
        key = self._key()
        return bool(key) and self.controller.open_definition(key, self.node_id)

    def detach(self) -> bool:
        """A refusal is announced by the controller (the status bar)."""
        return self.node_id is not None and self.controller.push(Detach(self.node_id))

    def save_to_library(self) -> object:
        from visionstudio.ui.canvas.block_save import save_block_to_library

        key = self._key()
        return save_block_to_library(self, self.controller, key) if key else None


# -- exposing an inner layer's parameter ---------------------------------------------------------
def open_definition_key(controller) -> str | None:
    """The definition opened on the canvas, or None at the network's level."""
    scope = controller.scope
    return scope[-1].key if scope else None


def exposed_as(definition, node_id: str, param: str) -> ExposedParam | None:
    return next((e for e in definition.exposed if e.node_id == node_id and e.param == param), None)


def new_exposed(definition, node_id: str, spec: ParamSpec) -> ExposedParam:
    """The parameter exposed under its own name, made unique among the block's names."""
    taken = {e.name for e in definition.exposed} | RESERVED_NAMES
    name, n = spec.name, 2
    while name in taken:
        name, n = f"{spec.name}_{n}", n + 1
    node = definition.graph.nodes.get(node_id)
    title = spec.label if name == spec.name or node is None else f"{spec.label} of {node.name}"
    return ExposedParam(name, node_id, spec.name, title)


def toggle_exposed(controller, node_id: str, spec: ParamSpec, on: bool) -> str | None:
    """Expose (or stop exposing) ``spec`` of inner node ``node_id``; the refusal, or None."""
    key = open_definition_key(controller)
    if key is None:
        return "parameters are exposed from inside a block: open the block first"
    definition = controller.document.graph.blocks.get(key)
    current = exposed_as(definition, node_id, spec.name)
    if on == (current is not None):
        return None
    if on:
        exposed = list(definition.exposed) + [new_exposed(definition, node_id, spec)]
    else:
        exposed = [e for e in definition.exposed if e is not current]
    return push_or_reason(controller, SetExposed(key, exposed))


def expose_box(parent: QWidget) -> QCheckBox:
    box = QCheckBox("Expose", parent)
    box.setObjectName("exposeParam")
    box.setToolTip("Expose on the block: each instance of the block sets this parameter itself")
    box.setAccessibleName("Expose on the block")
    return box
