"""Layer health in the app: a network whose ReLU can never fire trains for a moment and
its node gets the dead badge, the words on its problem line and a row in the panel."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from PySide6.QtWidgets import QWidget

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.graph import GraphModel, make_node
from visionstudio.core.graph.model import Edge
from visionstudio.core.project import ProjectDocument
from visionstudio.ui.canvas.view import GraphView
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.training.health_panel import LayerHealthPanel, install
from visionstudio.ui.training.run_controller import runs_for

RUN_TIMEOUT_MS = 180_000


def _dead_relu_graph() -> GraphModel:
    """dense1's output, once weighted by 1 and once by -1, sums to exactly zero: relu1 sees
    only zeros and never fires, whatever the weights learn."""
    graph = GraphModel()

    def add(kind, **params):
        node = make_node(graph, kind, params=params)
        graph.nodes[node.id] = node
        return node.id

    ids = [add("input", channels=1, height=8, width=8), add("flatten"), add("dense", units=8)]
    graph.edges += [Edge(ids[0], ids[1], 0), Edge(ids[1], ids[2], 0)]
    wsum = add("weighted_sum", weights=[1.0, -1.0])
    graph.edges += [Edge(ids[2], wsum, 0), Edge(ids[2], wsum, 1)]
    relu, head = add("relu"), add("dense", units=4)
    graph.edges += [Edge(wsum, relu, 0), Edge(relu, head, 0)]
    return graph


def test_the_dead_relu_node_gets_the_dead_badge(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    doc = ProjectDocument(graph=_dead_relu_graph(), name="dead")
    doc.dataset = DatasetConfig.from_dict({"key": "shapes", "params": {
        "image_size": 8, "classes": 4, "samples": 64, "val_samples": 16}})
    doc.training = doc.training.replace(batch_size=16, epochs=1, device="cpu")
    assert doc.training.layer_health      # on by default
    controller = DocumentController(doc)
    window = QWidget()
    qtbot.addWidget(window)
    window.controller, window.canvas = controller, GraphView(controller, window)
    install(window)
    panel = LayerHealthPanel(controller)
    qtbot.addWidget(panel)
    runs = runs_for(controller)
    records = []
    runs.health.connect(records.append)
    assert runs.train()
    qtbot.waitUntil(lambda: runs.active_run is None, timeout=RUN_TIMEOUT_MS)
    assert runs.last_failure is None and records
    item = next(i for i in window.canvas.scene().node_items() if i.name == "relu1")
    assert item.health is not None and item.health.badge == "100% dead" and item.health.severe
    assert "relu1: 100% of its ReLU units never fire" in item.toolTip()
    badges = {i.name: i.health.badge for i in window.canvas.scene().node_items() if i.health}
    # nothing flows back through relu1: dense1 before it gets no gradient at all
    assert badges == {"relu1": "100% dead", "dense1": "∇ vanishing"}, badges
    rows = [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())]
    assert "relu1" in rows and "never fire" in panel.findings.text()
    runs.shutdown()


def test_an_opened_block_shows_its_layers_health_worst_instance_first(qtbot, tmp_path, monkeypatch):
    """Issue #18: the layers inside a block get badges too. Opened from an instance the
    canvas shows that instance's numbers; opened from the library, the worst instance's."""
    from tests.core.block_helpers import conv_block, network
    from visionstudio.core.training.layer_health import LayerHealth, LayerHealthRecord

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    graph = GraphModel()
    graph.blocks.add(conv_block())
    first, second = network(graph, ["conv_block", "conv_block"], shape=(1, 8, 8))
    controller = DocumentController(ProjectDocument(graph=graph, name="blocks"))
    window = QWidget()
    qtbot.addWidget(window)
    window.controller, window.canvas = controller, GraphView(controller, window)
    install(window)
    runs = runs_for(controller)
    text = "conv_block_2.relu1: 90% of its ReLU units never fire — lower the learning rate or use LeakyReLU"
    runs.health.emit(LayerHealthRecord(step=5, layers=(
        LayerHealth("conv_block_1", grad_norm=1.0), LayerHealth("conv_block_1.relu1", dead=0.3),
        LayerHealth("conv_block_2", grad_norm=1.0), LayerHealth("conv_block_2.relu1", dead=0.9)),
        findings=(("conv_block_2.relu1", text),)))

    def badge(name):
        item = next(i for i in window.canvas.scene().node_items() if i.name == name)
        return item.health

    # the network's level: the instances measured fine, their insides are not shown here
    assert not any(i.health for i in window.canvas.scene().node_items())
    assert controller.open_definition("conv_block", first)
    assert badge("relu1").badge == "" and badge("relu1").heat == 0.3   # block 1: only tinted
    controller.leave_definition()
    assert controller.open_definition("conv_block", second)
    assert badge("relu1").badge == "90% dead" and badge("relu1").severe
    controller.leave_definition()
    assert controller.open_definition("conv_block")   # from the library: the worst instance
    assert badge("relu1").badge == "90% dead"
    assert badge("conv1") is None
    runs.shutdown()


def test_a_record_fills_the_table_and_sizes_its_columns_once(qtbot, tmp_path, monkeypatch):
    """Each setItem re-measured its column while the columns were sized to their contents
    (16 ms a record on the GUI thread): the panel fills with fixed columns, then sizes them."""
    from PySide6.QtWidgets import QHeaderView

    from visionstudio.core.training.layer_health import LayerHealth, LayerHealthRecord

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    panel = LayerHealthPanel(DocumentController())
    qtbot.addWidget(panel)
    panel.resize(900, 300)
    panel.show()
    modes = []
    header = panel.table.horizontalHeader()
    original = header.setSectionResizeMode
    header.setSectionResizeMode = lambda *args: modes.append(args[-1]) or original(*args)
    long_name = "a_layer_with_a_rather_long_name"
    record = LayerHealthRecord(step=50, layers=tuple(
        LayerHealth(name, 0.25, 1.0, 0.05, 0.3, 1e-3) for name in ("conv1", long_name, "dense1")))
    panel.show_record(record)
    assert modes == [QHeaderView.ResizeMode.Interactive, QHeaderView.ResizeMode.ResizeToContents]
    assert header.sectionResizeMode(0) == QHeaderView.ResizeMode.ResizeToContents
    assert panel.table.updatesEnabled()
    assert [panel.table.item(r, 0).text() for r in range(3)] == ["conv1", long_name, "dense1"]
    width = panel.table.fontMetrics().horizontalAdvance(long_name)
    assert header.sectionSize(0) >= width                # sized to the longest name
