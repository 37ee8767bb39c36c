"""The quick fixes of a layer as entries of its right-click menu.

What can be fixed, and how, is core/graph/fixes.py's answer; the menu only lists it
(a disabled "No quick fix" when there is none) and pushes the chosen fix, one undo step.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMenu

from visionstudio.core.data.base import DatasetError
from visionstudio.core.data.registry import describe_dataset
from visionstudio.core.graph.fixes import quick_fixes
from visionstudio.core.params import ConfigError
from visionstudio.ui.shell.push import push_or_reason


def dataset_classes(document) -> int | None:
    """How many classes the project's dataset has, when that is known without loading
    it (None for an image folder or a dataset that cannot be described)."""
    try:
        return describe_dataset(document.dataset).num_classes
    except (KeyError, ValueError, ConfigError, DatasetError):
        return None


def add_fix_entries(view, menu: QMenu, node_id: str) -> list:
    """One entry per fix of ``node_id`` (the actions, in order)."""
    controller = view.controller
    fixes = quick_fixes(controller.graph, controller.analysis, node_id,
                        num_classes=dataset_classes(controller.document))
    if not fixes:
        none = menu.addAction("No quick fix")
        none.setObjectName("context_no_fix")
        none.setEnabled(False)
        return []
    actions = []
    for fix in fixes:
        action = menu.addAction(fix.title.replace("&", "&&"))
        action.setObjectName("context_quick_fix")
        action.setStatusTip(f"Quick fix: {fix.title} (undoable)")
        action.triggered.connect(lambda _checked=False, command=fix.command: _apply(view, command))
        actions.append(action)
    return actions


def _apply(view, command) -> bool:
    reason = push_or_reason(view.controller, command)
    if reason:
        view.status_message.emit(reason)
    return reason is None
