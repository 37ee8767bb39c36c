"""Inspection of the tasks beyond classification in the feature viewer: the live
regression scatter, predicted and true boxes with the threshold slider, Grad-CAM of a
clicked box, the missed/false gallery and the task's metrics in the Evaluation tab."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip("pyqtgraph")

from visionstudio.core.build import build_model
from visionstudio.core.graph import analyze
from visionstudio.core.inspect.task_evaluation import TaskEvaluation, image_errors, worst_images
from visionstudio.core.templates import load_template
from visionstudio.core.training.records import ValidationRecord
from visionstudio.ui.features.regression_scatter import RegressionScatter
from visionstudio.ui.features.task_views import TaskEvaluationPanel

NAMES = ["circle", "square", "triangle"]


def _record(epoch: int, n: int, r2: float | None = None) -> ValidationRecord:
    true = tuple(float(i) for i in range(n))
    metrics = (("r2", 0.5), ("r2/size", r2)) if r2 is not None else ()
    return ValidationRecord(epoch=epoch, step=epoch * 10, loss=0.1, accuracy=float("nan"), top5=None,
                            samples=n, seconds=0.1, metrics=metrics,
                            scatter=(("size", true, tuple(v + 0.5 for v in true)),
                                     ("angle", true[:2], true[:2])))


def test_scatter_fed_two_records_shows_the_newest_points(qtbot):
    scatter = RegressionScatter()
    qtbot.addWidget(scatter)
    scatter.add_record(_record(1, 3, r2=0.25))
    assert scatter.point_count() == 3 and "R² 0.250" in scatter.plot.plotItem.titleLabel.text
    scatter.add_record(_record(2, 5))
    assert scatter.point_count() == 5 and "epoch 2" in scatter.plot.plotItem.titleLabel.text
    xs, ys = scatter.points.getData()
    assert list(xs) == [0, 1, 2, 3, 4] and list(ys) == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert "R² 0.875" in scatter.plot.plotItem.titleLabel.text     # 1 − 5·0.25 / 10, from the points
    scatter.target_combo.setCurrentText("angle")
    assert scatter.point_count() == 2 and "R² 1.000" in scatter.plot.plotItem.titleLabel.text
    scatter.add_record(ValidationRecord(3, 30, 0.1, 0.0, None, 5, 0.1))   # no scatter: kept as it was
    assert scatter.point_count() == 2


def _open(qtbot, template: str, labels: torch.Tensor, **data):
    """The feature viewer on ``template``'s network (seeded weights) and a tiny given set."""
    from visionstudio.ui.features.feature_map_view import FeatureMapView
    from visionstudio.ui.shell.controller import DocumentController

    doc = load_template(template)
    view = FeatureMapView(DocumentController(doc))
    qtbot.addWidget(view)
    view.resize(1000, 700)
    st = view.state
    st._dataset_key = st._wanted_dataset_key()
    analysis = analyze(doc.graph)
    st.set_model(build_model(doc.graph, analysis, seed=0), "test weights")
    shape = tuple(analysis.input_shape)
    gen = torch.Generator().manual_seed(0)
    st.set_dataset(SimpleNamespace(
        val_images=torch.randint(0, 255, (len(labels), *shape), dtype=torch.uint8, generator=gen),
        val_labels=labels, mean=(0.5,) * shape[0], std=(0.25,) * shape[0], **data))
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.fixture
def detection_view(qtbot):
    labels = torch.full((4, 3, 5), -1.0)
    labels[:, 0] = torch.tensor([0, 0.3, 0.3, 0.25, 0.25])
    labels[2, 1] = torch.tensor([2, 0.7, 0.7, 0.3, 0.2])
    view = _open(qtbot, "detection_grid", labels, class_names=NAMES, task="detection", target_names=[],
                 train_targets=None)
    yield view
    view.shutdown()


def test_localization_sample_shows_its_box_class_and_iou(qtbot):
    labels = torch.tensor([[1, 0.5, 0.5, 0.4, 0.3], [0, 0.3, 0.3, 0.2, 0.2]])
    view = _open(qtbot, "localization", labels, class_names=NAMES, task="localization", target_names=[],
                 train_targets=None)
    try:
        view.tabs.setCurrentIndex(2)
        assert view.prediction_stack.currentWidget() is view.boxes
        assert "IoU" in view.boxes.caption.text() and "true square" in view.boxes.caption.text()
        assert len(view.boxes.shown_indices()) == 1 and len(view.boxes.truths[0]) == 1
        assert not view.boxes.controls.isVisibleTo(view.boxes)
        view.tabs.setCurrentIndex(3)
        assert "class head" in view.cam_caption.text() and view.overlay.heatmap.shape == (64, 64)
    finally:
        view.shutdown()


def test_regression_sample_and_live_scatter_in_the_viewer(qtbot):
    names = ["size", "angle", "x", "y"]
    labels = torch.tensor([[10.0, 45.0, 0.5, 0.5], [20.0, 90.0, 0.2, 0.7], [15.0, 10.0, 0.4, 0.4]])
    view = _open(qtbot, "regression", labels, class_names=[], task="regression", target_names=names,
                 train_targets=labels)
    try:
        view.tabs.setCurrentIndex(2)
        text = view.boxes.caption.text()
        assert "size: predicted" in text and "true 10" in text and "angle" in text
        assert view.evaluation_stack.currentWidget() is view.task_evaluation
        view.state.runs.validation.emit(_record(1, 3))      # as the run controller forwards it
        assert view.task_evaluation.scatter.point_count() == 3
        view.state.runs.fit_started.emit(None)
        assert view.task_evaluation.scatter.point_count() == 0
    finally:
        view.shutdown()


def test_threshold_slider_changes_how_many_boxes_are_drawn(detection_view):
    view = detection_view
    assert view.evaluation_stack.currentWidget() is view.task_evaluation
    view.tabs.setCurrentIndex(2)
    assert view.prediction_stack.currentWidget() is view.boxes
    boxes = view.boxes
    assert boxes.threshold == pytest.approx(0.25)           # the Detect layer's threshold
    assert len(boxes.truths[0]) == 1 and "1 true boxes" in boxes.caption.text()
    scores = boxes.predictions[1]
    assert len(scores) > 1
    boxes.set_threshold(0.0)
    everything = len(boxes.shown_indices())
    assert everything == len(scores)
    boxes.set_threshold(float(np.median(scores)) + 0.005)
    assert 0 < len(boxes.shown_indices()) < everything
    boxes.set_threshold(1.0)
    assert boxes.shown_indices() == []
    # the class filter keeps the images holding a box of that class
    view.class_filter.setCurrentIndex(1 + 2)
    assert list(view._filtered) == [2]


def test_clicking_a_box_shows_its_grad_cam(detection_view):
    view = detection_view
    view.tabs.setCurrentIndex(2)
    boxes = view.boxes
    boxes.set_threshold(0.0)
    x1, y1, x2, y2 = boxes.predictions[0][0]
    index = boxes.box_at((x1 + x2) / 2, (y1 + y2) / 2)
    assert index is not None
    boxes.box_clicked.emit(index)
    assert view.tabs.currentIndex() == 3
    assert "grid cell" in view.cam_caption.text() and NAMES[int(boxes.predictions[2][index])] in \
        view.cam_caption.text()
    heat = view.overlay.heatmap
    assert heat.shape == (64, 64) and np.isfinite(heat).all()


def test_missed_and_false_gallery_lists_the_expected_images(detection_view, qtbot):
    view = detection_view
    gt = torch.tensor([[0.1, 0.1, 0.4, 0.4]])
    one = torch.tensor([0])
    none = torch.zeros(0, dtype=torch.int64)
    errors = worst_images([
        image_errors(0, (torch.zeros(0, 4), torch.zeros(0), none), (gt, one)),                 # 1 missed
        image_errors(1, (gt, torch.tensor([0.9]), one), (gt, one)),                             # right
        image_errors(2, (torch.cat([gt, gt + 0.5]), torch.tensor([0.8, 0.7]), torch.tensor([1, 2])),
                     (gt, one)),                                                               # 1 + 2
    ])
    result = TaskEvaluation("detection", {"map50": 0.4, "map": 0.2, "precision": 0.5, "recall": 0.5}, 3,
                            errors=errors, pr_curve=((0.0, 0.5, 1.0), (1.0, 0.8, 0.0)))
    panel = view.task_evaluation
    panel.show_result(result)
    assert panel.gallery_indices() == [2, 0]
    assert "1 missed · 2 false" in panel.gallery.item(0).text()
    assert "mAP@0.5 40.0%" in panel.summary.text() and panel.pr_plot.isVisibleTo(panel)
    with qtbot.waitSignal(panel.sample_chosen) as chosen:
        panel._on_gallery_item(panel.gallery.item(1))
    assert chosen.args == [0]


def test_evaluating_a_detection_run_in_the_background(detection_view, qtbot):
    panel = detection_view.task_evaluation
    task = panel.run_evaluation()
    with qtbot.waitSignal(task.done, timeout=60_000):
        pass
    assert panel.result is not None and panel.result.images == 4
    assert "mAP@0.5" in panel.summary.text() and panel.table.rowCount() == 4
    assert panel.gallery_indices() == [e.index for e in panel.result.errors]


def test_evaluation_view_shows_r2_for_a_regression_run(qtbot):
    images = torch.randint(0, 255, (4, 1, 8, 8), dtype=torch.uint8)
    state = SimpleNamespace(dataset=SimpleNamespace(val_images=images), class_names=[],
                            describe=lambda: "Run 1, after epoch 3")
    panel = TaskEvaluationPanel(state)
    qtbot.addWidget(panel)
    true = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    pred = np.array([[1.1, 10.0], [2.0, 26.0], [2.9, 30.0], [4.0, 40.0]])
    metrics = {"mae": 0.8, "rmse": 2.1, "r2": 0.85, "mae/size": 0.05, "r2/size": 0.99, "r2/angle": 0.71}
    panel.show_result(TaskEvaluation("regression", metrics, 4, ("size", "angle"), true, pred))
    assert "R² 0.85" in panel.summary.text() and "4 validation images" in panel.summary.text()
    rows = [panel.table.verticalHeaderItem(i).text() for i in range(panel.table.rowCount())]
    assert "R² of size" in rows and "MAE of size" in rows
    assert panel.scatter.isVisibleTo(panel) and not panel.pr_plot.isVisibleTo(panel)
    assert panel.scatter.point_count() == 4
    assert panel.gallery_indices()[:2] == [0, 2]                   # size: the 0.1 errors first
    panel.scatter.target_combo.setCurrentText("angle")
    assert panel.gallery_indices()[0] == 1 and "26" in panel.gallery.item(0).text()
