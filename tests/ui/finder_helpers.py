"""What the Training menu's finder dialogs' tests share: a tiny Shapes project (64 images
of 8×8, 4 classes, on the CPU) and the check that the menu action opens one dialog."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMainWindow, QMenu

from tests.core.training_helpers import tiny_graph
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.project import ProjectDocument
from visionstudio.core.training.config import TrainingConfig
from visionstudio.ui.shell.controller import DocumentController

TIMEOUT_MS = 120_000


def tiny_controller(size: int = 8, **training: Any) -> DocumentController:
    """``size`` is the network's Input; anything but 8 does not fit the images."""
    return DocumentController(ProjectDocument(
        name="tiny", graph=tiny_graph(classes=4, size=size),
        dataset=DatasetConfig.from_dict({"key": "shapes", "params": {
            "samples": 64, "val_samples": 16, "image_size": 8, "classes": 4}}),
        training=TrainingConfig.from_dict({"batch_size": 16, "device": "cpu", **training})))


def check_menu_action_opens_one_dialog(qtbot, add_action, dialog_class: type, text: str) -> None:
    window = QMainWindow()
    window.controller = tiny_controller()
    qtbot.addWidget(window)
    menu = QMenu(window)
    action = add_action(window, menu)
    assert action in menu.actions() and action.text().startswith(text)
    action.trigger()
    action.trigger()
    dialogs = window.findChildren(dialog_class)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    dialogs[0].close()
