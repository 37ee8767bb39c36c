"""Transfer-learning entries of a layer's right-click menu: Trainable (a tick: untick to
freeze), Freeze Everything Before This, Learning-Rate Multiplier…, and Adapt Head to
the Dataset on the network's last Dense. Each pushes one core command (undoable).

They act on the network: inside an opened block definition they are disabled (freeze
or scale the block's instance instead, which covers every layer inside it).
"""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QMenu

from visionstudio.core.commands import CommandError
from visionstudio.core.graph.fixes import last_dense
from visionstudio.core.graph.transfer import MAX_LR_MULTIPLIER, MIN_LR_MULTIPLIER
from visionstudio.core.graph.transfer_commands import FreezeBefore, SetLrMultiplier, SetTrainable, adapt_head
from visionstudio.ui.canvas.node_fixes import dataset_classes
from visionstudio.ui.shell.push import push_or_reason


def _push(view, command) -> bool:
    reason = push_or_reason(view.controller, command)
    if reason:
        view.status_message.emit(reason)
    return reason is None


def in_network(controller) -> bool:
    """True when the canvas shows the network (not an opened block definition)."""
    return controller.graph is controller.document.graph


def add_transfer_entries(view, menu: QMenu, node_id: str) -> list:
    """The entries for ``node_id`` (the selection, where it is in it); their actions."""
    controller = view.controller
    graph = controller.graph
    node = graph.nodes[node_id]
    targets = list(controller.selection) if node_id in controller.selection else [node_id]
    enabled = in_network(controller)
    trainable = menu.addAction("&Trainable")
    trainable.setObjectName("context_trainable")
    trainable.setCheckable(True)
    trainable.setChecked(all(graph.transfer.trainable(nid) for nid in targets))
    trainable.setStatusTip("Untick to freeze: the weights stay as they are while training")
    trainable.toggled.connect(lambda on: _push(view, SetTrainable(targets, on)))
    before = menu.addAction("&Freeze Everything Before This")
    before.setObjectName("context_freeze_before")
    before.setStatusTip(f"Freeze every layer that feeds {node.name}; it and what follows train")
    before.setEnabled(bool(graph.inputs_of(node_id)))
    before.triggered.connect(lambda: _push(view, FreezeBefore(node_id)))
    rate = menu.addAction("Learning-Rate &Multiplier…")
    rate.setObjectName("context_lr_multiplier")
    rate.setStatusTip("Train these layers faster or slower than the rest (e.g. the head ×10)")
    rate.triggered.connect(lambda: ask_multiplier(view, targets))
    actions = [trainable, before, rate]
    if enabled and last_dense(graph, controller.analysis) == node_id:
        actions.append(add_adapt_head(view, menu))
    for action in actions[:3]:
        action.setEnabled(action.isEnabled() and enabled)
        if not enabled:
            action.setToolTip("Freeze or scale the block itself, on the network")
    return actions


def ask_multiplier(view, node_ids: list[str]) -> bool:
    graph = view.controller.graph
    current = graph.transfer.multiplier(node_ids[0])
    value, ok = QInputDialog.getDouble(view, "Learning-rate multiplier",
                                       "Multiply the learning rate of these layers by:", current,
                                       MIN_LR_MULTIPLIER, MAX_LR_MULTIPLIER, 4)
    return ok and _push(view, SetLrMultiplier(node_ids, value))


def add_adapt_head(view, menu: QMenu):
    """"Adapt Head to the Dataset (N classes)": disabled while the classes are unknown."""
    classes = dataset_classes(view.controller.document)
    action = menu.addAction(f"&Adapt Head to the Dataset ({classes} classes)" if classes
                            else "&Adapt Head to the Dataset")
    action.setObjectName("context_adapt_head")
    action.setStatusTip("Give the last Dense one unit per class of the dataset and train it (undoable)")
    action.setEnabled(classes is not None)
    if classes is None:
        action.setToolTip("The dataset's number of classes is not known without loading it")
    action.triggered.connect(lambda: adapt_head_now(view, classes))
    return action


def adapt_head_now(view, classes: int | None) -> bool:
    try:
        command = adapt_head(view.controller.graph, classes or 0)
    except CommandError as exc:
        view.status_message.emit(str(exc))
        return False
    return _push(view, command)
