"""Edges go round the layers between their ends (issue #13: before Auto Layout, edges
crossed the layers in their way). Each case is one where the plain S-curve does cross
the layer, so these tests fail without the routing."""

from __future__ import annotations

import json

import pytest
from PySide6.QtGui import QPainterPathStroker

from visionstudio.core.graph import MoveNodes
from visionstudio.core.project import ProjectDocument, parse_project
from visionstudio.ui.canvas.routing import curve
from visionstudio.ui.canvas.scene import GraphScene
from visionstudio.ui.shell.controller import DocumentController


def _three(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]):
    """An Input ``a`` feeding a ReLU ``c``; a ReLU ``b`` (fed by ``a`` too) placed between."""
    data = ProjectDocument(name="route").to_dict()
    data["graph"] = {
        "nodes": [{"id": "a", "kind": "input", "name": "input",
                   "params": {"channels": 2, "height": 4, "width": 4}},
                  {"id": "b", "kind": "relu", "name": "between", "params": {}},
                  {"id": "c", "kind": "relu", "name": "target", "params": {}}],
        "edges": [{"src": "a", "dst": "c", "port": 0}, {"src": "a", "dst": "b", "port": 0}],
    }
    data["layout"] = {"positions": {"a": list(a), "b": list(b), "c": list(c)}}
    controller = DocumentController(parse_project(json.dumps(data)))
    return controller, GraphScene(controller)


def _meets(path, rect) -> bool:
    """The drawn line (1.8 px pen) touches ``rect`` (QPainterPath.intersects would count
    the area an open path encloses)."""
    stroker = QPainterPathStroker()
    stroker.setWidth(1.8)
    return stroker.createStroke(path).intersects(rect)


def _body(item):
    return item.mapRectToScene(item.body_rect())  # what is drawn (its shadow may be crossed)


def _edge(scene, src: str, dst: str):
    return next(e for e in scene.edge_items() if (e.edge.src, e.edge.dst) == (src, dst))


CASES = {
    "a skip down past a layer": ((0, 0), (0, 160), (0, 320)),
    "sideways along a row": ((0, 0), (220, 0), (440, 0)),
    "back up past a layer": ((440, 300), (220, 150), (0, 0)),
    "a short drop across a wide row": ((0, 0), (300, 40), (620, 100)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_edge_does_not_cross_a_layer_in_its_way(qtbot, case):
    controller, scene = _three(*CASES[case])
    edge = _edge(scene, "a", "c")
    between = _body(scene.node_item("b"))
    p1, p2 = edge.src.output_anchor(), edge.dst.input_anchor(edge.dst_offset)
    assert _meets(curve(p1, p2), between), "the plain curve must cross the layer for this case"
    path = edge.path()
    assert not _meets(path, between), case
    ends = path.pointAtPercent(0).toPoint(), path.pointAtPercent(1).toPoint()
    assert ends == (p1.toPoint(), p2.toPoint())
    for own in (edge.src, edge.dst):  # nor through its own layers, apart from the ports
        inner = _body(own).adjusted(2, 4, -2, -4)
        assert not _meets(path, inner), (case, own.name)


def test_moving_the_layer_away_straightens_and_back_bends_again(qtbot):
    controller, scene = _three((0, 0), (300, 600), (620, 100))  # a short drop; nothing in its way
    edge = _edge(scene, "a", "c")
    p1, p2 = edge.src.output_anchor(), edge.dst.input_anchor(edge.dst_offset)
    assert edge.path() == curve(p1, p2)
    assert controller.push(MoveNodes({"b": (300.0, 40.0)}))  # steps into its sweep
    between = _body(scene.node_item("b"))
    assert edge.path() != curve(p1, p2) and not _meets(edge.path(), between)
    assert controller.push(MoveNodes({"b": (300.0, 600.0)}))  # and out again
    assert edge.path() == curve(p1, p2)
