"""One user action re-runs shape analysis once: a macro of many steps announces one change.

Each gesture goes through the real window (canvas drop, port drag, Delete key, paste,
the Undo and Redo actions), and the analyze the controller calls is counted.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

import visionstudio.ui.shell.controller as controller_module
from visionstudio.core.graph import Edge
from visionstudio.core.project import ProjectDocument

from .canvas_helpers import add, drag, drop, layer_mime, vpos, wire
from .shell_helpers import make_window


class Counter:
    """Counts analyze() calls and analysis_changed emissions from the moment it starts."""

    def __init__(self, monkeypatch, controller) -> None:
        self.analyses = 0
        self.announced = 0
        real = controller_module.analyze

        def counting(graph):
            self.analyses += 1
            return real(graph)

        monkeypatch.setattr(controller_module, "analyze", counting)
        controller.analysis_changed.connect(self._on_analysis_changed)

    def _on_analysis_changed(self, _analysis) -> None:
        self.announced += 1

    def reset(self) -> None:
        self.analyses = self.announced = 0

    @property
    def counts(self) -> tuple[int, int]:
        return self.analyses, self.announced


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    w.resize(1400, 900)
    w.controller.replace_document(ProjectDocument())  # the window opens with a starter model
    view = w.canvas
    view.set_zoom(1.0)
    view.centerOn(0, 150)
    return w


@pytest.fixture
def chain(window):
    """input -> conv2d, 300 px apart, with room on the edge for a drop."""
    c = window.controller
    a = add(c, "input", (0, 0))
    b = add(c, "conv2d", (0, 300))
    wire(c, a, b)
    return a, b


def _insert_on_edge(window, a, b) -> None:
    view = window.canvas
    edge_item = view.graph_scene.edge_item(Edge(a, b, 0))
    mid = edge_item.path().pointAtPercent(0.5) + QPointF(3, 0)
    assert drop(view, layer_mime("relu"), vpos(view, mid))
    assert len(window.controller.graph.edges) == 2


def test_insert_on_edge_analyzes_once(window, chain, monkeypatch):
    counter = Counter(monkeypatch, window.controller)
    _insert_on_edge(window, *chain)
    assert counter.counts == (1, 1)


def test_connect_by_drag_analyzes_once(window, monkeypatch):
    c, view = window.controller, window.canvas
    a = add(c, "input", (0, 0))
    b = add(c, "conv2d", (40, 200))
    counter = Counter(monkeypatch, c)
    sa, sb = view.graph_scene.node_item(a), view.graph_scene.node_item(b)
    drag(view, vpos(view, sa.output_anchor()), vpos(view, sb.input_anchor()))
    assert c.graph.edges == [Edge(a, b, 0)]
    assert counter.counts == (1, 1)


def test_delete_selection_analyzes_once(window, chain, monkeypatch):
    c, view = window.controller, window.canvas
    relu = add(c, "relu", (0, 450))
    wire(c, chain[1], relu)
    counter = Counter(monkeypatch, c)
    c.set_selection([chain[1], relu])
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert list(c.graph.nodes) == [chain[0]] and not c.graph.edges
    assert counter.counts == (1, 1)


def test_paste_analyzes_once(window, chain, monkeypatch):
    c, view = window.controller, window.canvas
    c.set_selection(list(chain))
    assert view.copy_selection()
    counter = Counter(monkeypatch, c)
    assert len(view.paste()) == 2
    assert len(c.graph.nodes) == 4 and len(c.graph.edges) == 2
    assert counter.counts == (1, 1)


def test_undo_and_redo_analyze_once_each(window, chain, monkeypatch):
    c = window.controller
    _insert_on_edge(window, *chain)
    counter = Counter(monkeypatch, c)
    window.actions_by_name["undo"].trigger()
    assert {(e.src, e.dst) for e in c.graph.edges} == {chain}
    assert counter.counts == (1, 1)
    counter.reset()
    window.actions_by_name["redo"].trigger()
    assert len(c.graph.edges) == 2
    assert counter.counts == (1, 1)


def test_the_counter_sees_every_separate_edit(window, monkeypatch):
    """Two pushes are two analyses: the counts above would catch a macro that announced per step."""
    c = window.controller
    counter = Counter(monkeypatch, c)
    add(c, "input", (0, 0))
    add(c, "relu", (0, 200))
    assert counter.counts == (2, 2)
