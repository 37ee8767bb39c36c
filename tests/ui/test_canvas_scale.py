"""The canvas on hostile sizes: building, moving and arranging stay linear in edges.

A crafted project with 10,000 layers and 100,000 connections froze the editor: every
edge asked the scene for all its items, every added edge re-routed all inputs of its
target, every move re-routed every edge, and auto-layout made one placeholder per row
each edge skips. These tests count the work instead of timing it (timings are in
benchmarks/shape_inference.py).
"""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QRectF, Qt

from visionstudio.core.graph import MoveNodes, RemoveNodes
from visionstudio.core.project import ProjectDocument, parse_project
from visionstudio.ui.canvas.edge_item import EdgeItem
from visionstudio.ui.canvas.items import NodeItem
from visionstudio.ui.canvas.layout import PLACEHOLDER_BUDGET, layer_rows, layered_positions
from visionstudio.ui.canvas.routing import curve, plan_route
from visionstudio.ui.canvas.scene import GraphScene
from visionstudio.ui.shell.controller import DocumentController


def _project(nodes: list[dict], edges: list[tuple[int, int, int]], positions: list[tuple[float, float]]):
    data = ProjectDocument(name="scale").to_dict()
    ids = [n["id"] for n in nodes]
    data["graph"] = {"nodes": nodes,
                     "edges": [{"src": ids[s], "dst": ids[d], "port": p} for s, d, p in edges]}
    data["layout"] = {"positions": {nid: list(pos) for nid, pos in zip(ids, positions)}}
    return parse_project(json.dumps(data))


def lattice(n: int, window: int = 8, per_row: int = 25):
    """An Input, a ReLU, then Add merges fed by the ``window`` layers before each, laid
    out in rows (the benchmark's attack, smaller): the row wraps make long edges."""
    ids = [f"n{i:04d}" for i in range(n)]
    nodes = [{"id": ids[0], "kind": "input", "name": "input",
              "params": {"channels": 2, "height": 4, "width": 4}},
             {"id": ids[1], "kind": "relu", "name": "relu1", "params": {}}]
    nodes += [{"id": ids[i], "kind": "add", "name": f"add{i}", "params": {}} for i in range(2, n)]
    edges = [(i - k, i, k - 1) for i in range(1, n) for k in range(1, min(i, window) + 1)]
    positions = [((i % per_row) * 220.0, (i // per_row) * 160.0) for i in range(n)]
    return _project(nodes, edges, positions)


def chain_with_skips(n: int, skip_every: int = 0):
    """An Input, then ``n`` layers stacked straight down; with ``skip_every`` the Input
    also feeds every that-many-th layer (Add), so long edges run past the chain."""
    ids = [f"c{i:04d}" for i in range(n + 1)]
    nodes = [{"id": ids[0], "kind": "input", "name": "input",
              "params": {"channels": 2, "height": 4, "width": 4}}]
    edges = []
    for i in range(1, n + 1):
        merge = skip_every and i % skip_every == 0
        nodes.append({"id": ids[i], "kind": "add" if merge else "relu", "name": f"l{i}", "params": {}})
        edges.append((i - 1, i, 0))
        if merge:
            edges.append((0, i, 1))
    return _project(nodes, edges, [(0.0, i * 130.0) for i in range(n + 1)])


class Routes:
    """Counts EdgeItem.update_path calls per edge item."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[EdgeItem] = []
        original = EdgeItem.update_path

        def counted(item):
            self.calls.append(item)
            return original(item)

        monkeypatch.setattr(EdgeItem, "update_path", counted)

    def clear(self) -> None:
        self.calls.clear()


def _scan_route(item: EdgeItem):
    """The routing rule (routing.plan_route) fed by scanning the whole scene: the reference."""
    p1, p2 = item.src.output_anchor(), item.dst.input_anchor(item.dst_offset)
    scene = item.scene()

    def near(rect):
        found = scene.items(rect, Qt.ItemSelectionMode.IntersectsItemBoundingRect)
        return [i.mapRectToScene(i.body_rect()) for i in found
                if isinstance(i, NodeItem) and i is not item.src and i is not item.dst]

    body = item.src.mapRectToScene(item.src.body_rect()), item.dst.mapRectToScene(item.dst.body_rect())
    return plan_route(p1, p2, *body, near)[0]


def _scan_detour(item: EdgeItem):
    """The route when it is not the plain S-curve (it goes round a layer), else None."""
    p1, p2 = item.src.output_anchor(), item.dst.input_anchor(item.dst_offset)
    path = _scan_route(item)
    return None if path == curve(p1, p2) else path


def _expected_rect(item: EdgeItem) -> QRectF:
    return _scan_route(item).boundingRect()


def test_building_a_big_scene_routes_each_edge_once(qtbot, monkeypatch):
    doc = lattice(300)
    routes = Routes(monkeypatch)
    spreads = []
    original_spread = GraphScene._spread_inputs
    monkeypatch.setattr(GraphScene, "_spread_inputs", lambda self, dst: (spreads.append(dst),
                                                                         original_spread(self, dst)))
    scene = GraphScene(DocumentController(doc))
    edges = scene.edge_items()
    assert len(edges) == len(doc.graph.edges) > 2000
    assert len(routes.calls) == len(edges)  # was: every input of a merge again per added edge
    assert len(set(routes.calls)) == len(edges)
    assert len(spreads) <= len(scene.node_items())
    # merges still spread their inputs side by side, in port order
    last = scene.node_item("n0299")
    offsets = sorted((e.edge.port, e.dst_offset) for e in last.edges if e.dst is last)
    assert [o for _, o in offsets] == sorted(o for _, o in offsets) and offsets[0][1] < 0 < offsets[-1][1]
    assert last.connected_inputs == 8


def test_grid_routing_matches_a_full_scene_scan(qtbot):
    scene = GraphScene(DocumentController(lattice(60, per_row=10)))
    detoured = 0
    for item in scene.edge_items():
        assert item.path().boundingRect() == _expected_rect(item), item.edge
        detoured += _scan_detour(item) is not None
    assert detoured > 10  # the row wraps really are routed around the layers they cross


def test_moving_one_layer_reroutes_only_its_own_edges(qtbot, monkeypatch):
    doc = chain_with_skips(400)
    controller = DocumentController(doc)
    scene = GraphScene(controller)
    routes = Routes(monkeypatch)
    middle = "c0200"
    x, y = doc.graph.positions[middle]
    assert controller.push(MoveNodes({middle: (x + 40.0, y)}))
    assert set(routes.calls) == scene.node_item(middle).edges  # 2 of 400 edges, was all 400
    assert len(routes.calls) <= 2 * len(scene.node_item(middle).edges)


def test_a_moved_layer_still_pushes_a_skip_aside_and_frees_it(qtbot):
    """Only nearby long edges are re-routed, but those still are: a layer moved into a
    skip's lane makes it detour; moved away again, the skip runs straight."""
    doc = chain_with_skips(6, skip_every=6)
    controller = DocumentController(doc)
    scene = GraphScene(controller)
    # a skip from the Input to a layer far below, well right of the chain
    far = scene.node_item("c0006")
    assert controller.push(MoveNodes({"c0006": (900.0, far.pos().y())}))
    skip_edge = next(e for e in scene.edge_items() if e.edge.src == "c0000" and e.edge.dst == "c0006")
    assert _scan_detour(skip_edge) is not None  # it crosses the chain: routed around it
    # clear its lane: move the Input over to the far layer's column, then block it again
    assert controller.push(MoveNodes({"c0000": (900.0, 0.0)}))
    assert _scan_detour(skip_edge) is None
    assert skip_edge.path().boundingRect() == _expected_rect(skip_edge)
    straight = skip_edge.path().boundingRect()
    assert controller.push(MoveNodes({"c0003": (900.0, 3 * 130.0)}))  # an unrelated layer steps in
    assert _scan_detour(skip_edge) is not None
    assert skip_edge.path().boundingRect() == _expected_rect(skip_edge) != straight
    assert controller.push(MoveNodes({"c0003": (0.0, 3 * 130.0)}))  # and out again
    assert skip_edge.path().boundingRect() == straight
    for item in scene.edge_items():
        assert item.path().boundingRect() == _expected_rect(item), item.edge


def test_deleting_a_layer_frees_the_lane_it_blocked(qtbot):
    doc = chain_with_skips(6, skip_every=6)
    controller = DocumentController(doc)
    scene = GraphScene(controller)
    assert controller.push(MoveNodes({"c0000": (900.0, 0.0), "c0006": (900.0, 6 * 130.0),
                                      "c0003": (900.0, 3 * 130.0)}))
    assert controller.push(RemoveNodes(["c0003"]))
    for item in scene.edge_items():
        assert item.path().boundingRect() == _expected_rect(item), item.edge


def test_auto_layout_placeholders_are_bounded(qtbot):
    """An Input feeding every other layer of a long chain: one placeholder per row
    skipped would be ~n^2/4 (250,000 here, ~5x10^7 for 10,000 layers)."""
    doc = chain_with_skips(1000, skip_every=2)
    graph = doc.graph
    rank, rows, _ = layer_rows(graph)
    placeholders = sum(1 for members in rows.values() for m in members if m.startswith("~"))
    unbounded = sum(max(0, rank[e.dst] - rank[e.src] - 1) for e in graph.edges)
    assert unbounded > 200_000
    assert placeholders <= PLACEHOLDER_BUDGET * (len(graph.nodes) + len(graph.edges))
    assert placeholders > 0  # the shorter skips still get their slots
    pos = layered_positions(graph)
    assert set(pos) == set(graph.nodes)
    ys = [pos[f"c{i:04d}"][1] for i in range(1001)]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)  # the chain still runs top to bottom


@pytest.mark.parametrize("template", ["small_resnet", "inception_block", "classic_cnn"])
def test_ordinary_networks_keep_every_placeholder(template):
    from pathlib import Path

    from visionstudio.core.project import load_project

    root = Path(__file__).resolve().parents[2] / "resources" / "templates"
    graph = load_project(root / f"{template}.vsproj").graph
    rank, rows, _ = layer_rows(graph)
    placeholders = sum(1 for members in rows.values() for m in members if m.startswith("~"))
    assert placeholders == sum(max(0, rank[e.dst] - rank[e.src] - 1) for e in graph.edges)

