"""End to end through the real widgets: build the classic CNN on an empty canvas with
palette double-clicks and inspector edits, save it, reopen it, read the summary."""

from __future__ import annotations

from PySide6.QtCore import Qt

from visionstudio.core.templates import load_template
from visionstudio.ui.canvas.palette import LayerPalette
from visionstudio.ui.inspector import InspectorPanel


def _load_shell_helpers():
    """tests/ui/shell_helpers.py, by path (tests/ is not a package on sys.path)."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "ui" / "shell_helpers.py"
    spec = importlib.util.spec_from_file_location("_vs_shell_helpers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_helpers = _load_shell_helpers()
Answers, make_window = _helpers.Answers, _helpers.make_window

# (palette key, {parameter: value typed into the inspector})
RECIPE = [
    ("input", {}),
    ("conv2d", {"out_channels": 32, "activation": "relu"}),
    ("maxpool2d", {}),
    ("conv2d", {"out_channels": 64, "activation": "relu"}),
    ("maxpool2d", {}),
    ("flatten", {}),
    ("dense", {"units": 64, "activation": "relu"}),
    ("dense", {"units": 10}),
]


def _double_click_palette(qtbot, palette: LayerPalette, key: str) -> None:
    item = palette.item_for(key)
    palette.tree.scrollToItem(item)
    rect = palette.tree.visualItemRect(item)
    assert rect.isValid(), f"{key} is not visible in the palette"
    qtbot.mouseClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _edit_in_inspector(qtbot, inspector: InspectorPanel, name: str, value) -> None:
    field = inspector.editor(name).field
    if isinstance(value, str):  # a choice: type its name into the combo box
        field.setFocus()
        qtbot.keyClicks(field, value)
        assert field.currentText() == value
    else:  # a spin box: type the number and press Enter
        field.setFocus()
        field.selectAll()
        qtbot.keyClicks(field, str(value))
        qtbot.keyClick(field, Qt.Key.Key_Return)
        assert field.value() == value


def test_build_save_reopen_classic_cnn(qtbot, tmp_path):
    answers = Answers()
    w = make_window(qtbot, tmp_path, answers=answers, show=True)
    assert isinstance(w.palette, LayerPalette) and isinstance(w.inspector, InspectorPanel)
    answers.template = ""  # File > New > Blank project
    w.actions_by_name["new"].trigger()
    c = w.controller
    assert not c.graph.nodes and "0 layers" in w.summary.totals.text()

    for key, edits in RECIPE:
        before = set(c.graph.nodes)
        _double_click_palette(qtbot, w.palette, key)
        qtbot.waitUntil(lambda before=before: len(c.graph.nodes) == len(before) + 1, timeout=20_000)
        new_id, = set(c.graph.nodes) - before
        assert c.selection == [new_id]  # the inspector shows the new layer
        for name, value in edits.items():
            _edit_in_inspector(qtbot, w.inspector, name, value)
            assert c.graph.nodes[new_id].params[name] == value
    assert c.analysis.ok, c.analysis.errors
    assert c.analysis.total_params == 121_930
    assert "121,930 parameters" in w.summary.totals.text()
    assert w.isWindowModified()

    answers.save_path = str(tmp_path / "mine.vsproj")
    w.actions_by_name["save_as"].trigger()
    assert not w.isWindowModified()
    answers.template = "lenet5"
    w.actions_by_name["new"].trigger()
    assert c.analysis.total_params != 121_930
    answers.open_path = str(tmp_path / "mine.vsproj")
    w.actions_by_name["open"].trigger()
    assert w.windowTitle().startswith("mine.vsproj[*]")
    assert "121,930 parameters" in w.summary.totals.text()
    # Same layer sequence and shapes as the shipped template.
    template = load_template("classic_cnn")
    kinds = [c.graph.nodes[nid].kind for nid in c.analysis.order]
    assert kinds == [template.graph.nodes[n].kind for n in template.graph.nodes]
    assert [w.summary.table.item(r, 2).text() for r in range(w.summary.table.rowCount())][-1] == "10"
    undo_texts = [w.history.model().index(i, 0).data() for i in range(w.history.model().rowCount())]
    assert len(undo_texts) == 1  # reopened: a fresh history
