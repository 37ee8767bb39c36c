"""The model summary panel: same numbers as `visionstudio summary`, row <-> selection."""

from __future__ import annotations

from PySide6.QtCore import Qt

from visionstudio.core.graph import SetParam
from visionstudio.core.summary import summarize
from visionstudio.core.templates import load_template
from visionstudio.ui.inspector.summary_panel import SummaryPanel
from visionstudio.ui.shell.controller import DocumentController


def _panel(qtbot, key: str = "classic_cnn") -> SummaryPanel:
    panel = SummaryPanel(DocumentController(load_template(key)))
    qtbot.addWidget(panel)
    return panel


def test_rows_and_totals_match_the_cli_summary(qtbot):
    panel = _panel(qtbot)
    c = panel.controller
    expected = summarize(c.graph, c.document.name)
    assert panel.objectName() == "summaryPanel" and panel.table.accessibleName()
    assert panel.table.rowCount() == len(expected.rows)
    for r, row in enumerate(expected.rows):
        assert panel.table.item(r, 0).text() == row.name
        assert panel.table.item(r, 3).text() == f"{row.params:,}"
    assert "121,930 parameters" in panel.totals.text()
    assert "output 10" in panel.totals.text()


def test_clicking_a_row_selects_the_layer_and_back(qtbot):
    panel = _panel(qtbot)
    panel.show()
    qtbot.waitExposed(panel)
    c = panel.controller
    ids = panel.node_ids()
    rect = panel.table.visualItemRect(panel.table.item(2, 0))
    with qtbot.waitSignal(panel.node_activated) as picked:  # the window scrolls the canvas to it
        qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert c.selection == [ids[2]] and picked.args == [ids[2]]
    c.set_selection([ids[4]])
    assert sorted({i.row() for i in panel.table.selectedIndexes()}) == [4]


def test_edits_and_errors_update_the_table(qtbot):
    panel = _panel(qtbot)
    c = panel.controller
    dense = next(n for n in c.graph.nodes.values() if n.kind == "dense")
    c.push(SetParam(dense.id, "units", 128))
    assert f"{c.analysis.total_params:,} parameters" in panel.totals.text()
    conv = next(n for n in c.graph.nodes.values() if n.kind == "conv2d")
    c.push(SetParam(conv.id, "kernel_size", 29))  # larger than the 28x28 input
    row = panel.node_ids().index(conv.id)
    assert "larger than" in panel.table.item(row, 0).toolTip()
    assert "problem" in panel.totals.text()


def test_resnet_template_has_merge_rows(qtbot):
    panel = _panel(qtbot, "small_resnet")
    kinds = [panel.table.item(r, 1).text() for r in range(panel.table.rowCount())]
    assert any(k.startswith("Add") for k in kinds)
