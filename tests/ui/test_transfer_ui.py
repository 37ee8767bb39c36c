"""Transfer learning in the app: the inspector's Trainable switch and lr multiplier, the
lock badge on the canvas, Freeze Everything Before This and Adapt Head to the Dataset
from a real right-click, and the trainable / frozen counts of the summary and the
training panel. Every edit is one undo step."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QContextMenuEvent, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.graph.transfer_commands import SetTrainable
from visionstudio.ui.canvas.layer_menu import ContextMenu
from visionstudio.ui.canvas.transfer_badge import LOCK_COLOR, lock_rect
from visionstudio.ui.inspector import InspectorPanel
from visionstudio.ui.inspector.summary_panel import SummaryPanel
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.training.transfer_label import TransferCountLabel

from .canvas_helpers import add, open_view, vpos, wire


@pytest.fixture
def controller():
    c = DocumentController()
    ids = [add(c, "input", (0, 0), channels=1, height=8, width=8),
           add(c, "conv2d", (0, 130), out_channels=4, kernel_size=3),
           add(c, "flatten", (0, 260)), add(c, "dense", (0, 390), units=7)]
    for a, b in zip(ids, ids[1:]):
        wire(c, a, b)
    c.undo_stack.clear()
    c.ids = ids
    return c


@pytest.fixture
def view(qtbot, controller):
    v = open_view(qtbot, controller, centre=(0.0, 200.0))
    v.activateWindow()
    return v


def right_click_and_choose(view, node_id, action_name, monkeypatch) -> list[str]:
    """A real right-click on the layer; the menu's entry ``action_name`` is chosen while
    the menu is up (ContextMenu.exec is patched not to block)."""
    chosen: list[str] = []

    def fake_exec(menu, *args, **kwargs):
        for action in menu.actions():
            if action.objectName() == action_name:
                assert action.isEnabled(), action.toolTip()
                chosen.append(action.text())
                action.trigger()
        return None

    monkeypatch.setattr(ContextMenu, "exec", fake_exec)
    pos = vpos(view, view.graph_scene.node_item(node_id).pos())
    vp = view.viewport()
    QApplication.sendEvent(vp, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, vp.mapToGlobal(pos)))
    return chosen


def badge_pixels(view, node_id) -> int:
    """How many pixels of the lock's colour the scene draws where the badge goes."""
    item = view.graph_scene.node_item(node_id)
    area = item.mapRectToScene(lock_rect(item.body_rect()))
    image = QImage(int(area.width()) * 2, int(area.height()) * 2, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    view.graph_scene.render(painter, QRectF(image.rect()), area)
    painter.end()
    return sum(1 for x in range(image.width()) for y in range(image.height())
               if image.pixelColor(x, y) == LOCK_COLOR)


def test_inspector_switch_and_multiplier_are_undoable(qtbot, controller):
    panel = InspectorPanel(controller)
    qtbot.addWidget(panel)
    panel.resize(320, 700)
    panel.show()
    qtbot.waitExposed(panel)
    conv = controller.ids[1]
    controller.set_selection([conv])
    box = panel.transfer_box
    assert box.isVisible() and box.trainable.isChecked()
    QTest.mouseClick(box.trainable, Qt.MouseButton.LeftButton, pos=box.trainable.rect().center())
    assert not controller.graph.transfer.trainable(conv) and not box.trainable.isChecked()
    assert controller.undo_stack.count() == 1
    spin = box.multiplier
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, "10")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert controller.graph.transfer.multiplier(conv) == 10.0
    assert controller.undo_stack.count() == 2
    controller.undo_stack.undo()
    assert controller.graph.transfer.multiplier(conv) == 1.0 and spin.value() == 1.0
    controller.undo_stack.undo()
    assert controller.graph.transfer.trainable(conv) and box.trainable.isChecked()


def test_lock_badge_is_drawn_on_frozen_layers(view, controller):
    conv, dense = controller.ids[1], controller.ids[3]
    assert badge_pixels(view, conv) == 0
    assert controller.push(SetTrainable([conv], False))
    item = view.graph_scene.node_item(conv)
    assert item.frozen and "Frozen" in item.toolTip()
    assert badge_pixels(view, conv) > 20
    assert badge_pixels(view, dense) == 0
    controller.undo_stack.undo()
    assert badge_pixels(view, conv) == 0


def test_freeze_everything_before_from_a_right_click(view, controller, monkeypatch):
    dense = controller.ids[3]
    chosen = right_click_and_choose(view, dense, "context_freeze_before", monkeypatch)
    assert chosen == ["&Freeze Everything Before This"]
    assert controller.graph.transfer.frozen == set(controller.ids[:3])
    assert all(view.graph_scene.node_item(n).frozen for n in controller.ids[:3])
    assert not view.graph_scene.node_item(dense).frozen
    assert controller.undo_stack.count() == 1
    controller.undo_stack.undo()
    assert not controller.graph.transfer.frozen


def test_adapt_head_from_a_right_click_is_one_step(view, controller, monkeypatch):
    controller.document.set_dataset(DatasetConfig.from_dict({"key": "shapes", "params": {}}))
    dense = controller.ids[3]
    controller.push(SetTrainable([dense], False))
    steps = controller.undo_stack.count()
    chosen = right_click_and_choose(view, dense, "context_adapt_head", monkeypatch)
    assert chosen and "classes" in chosen[0]
    classes = int(chosen[0].split("(")[1].split()[0])
    node = controller.graph.nodes[dense]
    assert node.params["units"] == classes != 7 and controller.graph.transfer.trainable(dense)
    assert controller.undo_stack.count() == steps + 1
    controller.undo_stack.undo()
    assert node.params["units"] == 7 and not controller.graph.transfer.trainable(dense)


def test_summary_and_training_panel_show_trainable_and_frozen(qtbot, controller):
    summary = SummaryPanel(controller)
    label = TransferCountLabel(controller)
    qtbot.addWidget(summary)
    qtbot.addWidget(label)
    total = controller.network_analysis.total_params
    assert label.text() == f"{total:,} trainable · 0 frozen parameters"
    conv = controller.ids[1]
    controller.push(SetTrainable([conv], False))
    frozen = controller.network_analysis.nodes[conv].params
    # both refresh once the command has finished (the next event-loop turn)
    qtbot.waitUntil(lambda: label.text() == f"{total - frozen:,} trainable · {frozen:,} frozen parameters")
    assert f"{total - frozen:,} trainable · {frozen:,} frozen" in summary.totals.text()
    controller.undo_stack.undo()
    qtbot.waitUntil(lambda: "frozen" not in summary.totals.text())


def test_training_panel_has_the_counts_and_the_bn_option(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from visionstudio.ui.training.panel import TrainingPanel

    from .test_training_run import make_controller

    widget = TrainingPanel(make_controller(tmp_path, monkeypatch))
    qtbot.addWidget(widget)
    assert widget.parameter_split.text().endswith("0 frozen parameters")
    editor = widget.training_form.editor("frozen_bn_eval")  # the form is made from the schema
    assert editor is not None


def test_lr_multiplier_from_the_menu_on_the_selection(view, controller, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    conv, dense = controller.ids[1], controller.ids[3]
    controller.set_selection([conv, dense])
    monkeypatch.setattr(QInputDialog, "getDouble", staticmethod(lambda *a, **k: (10.0, True)))
    assert right_click_and_choose(view, dense, "context_lr_multiplier", monkeypatch)
    assert controller.graph.transfer.multipliers == {conv: 10.0, dense: 10.0}
    assert view.graph_scene.node_item(dense).lr_multiplier == 10.0
    assert controller.undo_stack.count() == 1
    controller.undo_stack.undo()
    assert controller.graph.transfer.is_default()
