"""The Detect layer: its shape rule, the grid decode with class-aware NMS on hand-made
grids, and the exported model.py decoding exactly as the app does."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch

from visionstudio.core.build import build_model
from visionstudio.core.export.codegen import generate_model_source
from visionstudio.core.graph import analyze
from visionstudio.core.layers import LAYERS, ShapeError
from visionstudio.core.layers.detect import DECODE_MODULE, channels_for, classes_of
from visionstudio.core.params import validate_all
from visionstudio.core.project import document_from_dict
from visionstudio.core.tasks.detection_decode import decode_detections, grid_boxes

from .support import import_file

SPEC = LAYERS.get("detect")


def _clean(**params):
    clean, problems = validate_all(SPEC.params, params)
    assert not problems
    return clean


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _grid(classes: int, gh: int, gw: int) -> torch.Tensor:
    """An empty grid: every cell says 'no object'."""
    raw = torch.zeros(1, 5 + classes, gh, gw)
    raw[:, 0] = -20.0
    return raw


def _put(raw, row, col, *, obj=10.0, x=0.5, y=0.5, w=0.25, h=0.25, cls=0, strength=8.0):
    raw[0, 0, row, col] = obj
    raw[0, 1, row, col], raw[0, 2, row, col] = _logit(x), _logit(y)
    raw[0, 3, row, col], raw[0, 4, row, col] = _logit(w), _logit(h)
    raw[0, 5 + cls, row, col] = strength


def test_shape_rule_passes_the_grid_and_names_the_channels():
    assert SPEC.is_head and SPEC.category == "Output"
    assert SPEC.infer([(8, 4, 4)], _clean()) == (8, 4, 4)
    assert SPEC.infer([(6, 3, 5)], _clean()) == (6, 3, 5)       # a grid may be rectangular
    assert channels_for(3) == 8 and classes_of((8, 4, 4)) == 3
    for channels in (4, 5):
        with pytest.raises(ShapeError) as info:
            SPEC.infer([(channels, 4, 4)], _clean())
        assert str(info.value) == ("the Detect layer needs 5 + one channel per class (objectness, 4 box "
                                   f"numbers, class scores); it gets {channels}")
        assert "5 + (number of classes)" in info.value.hint
    with pytest.raises(ShapeError, match="needs a grid of cells .* receives a 48 vector"):
        SPEC.infer([(48,)], _clean())


def test_params_are_the_contracts():
    p = _clean()
    assert (p["conf_threshold"], p["iou_threshold"], p["max_detections"]) == (0.25, 0.5, 100)
    assert (p["box_loss"], p["objectness_loss"]) == ("giou", "bce")
    assert (p["box_weight"], p["objectness_weight"], p["class_weight"]) == (5.0, 1.0, 1.0)
    _, problems = validate_all(SPEC.params, {"box_loss": "ciou", "conf_threshold": 2})
    assert len(problems) == 2


def test_one_cell_decodes_to_its_box_in_pixels():
    raw = _grid(2, 4, 4)
    _put(raw, 1, 2, x=0.5, y=0.5, w=0.25, h=0.5, cls=1)
    (boxes, scores, labels), = decode_detections(raw, (40, 80))
    # centre ((2 + 0.5) / 4, (1 + 0.5) / 4) = (0.625, 0.375) of an 80-wide, 40-high image
    torch.testing.assert_close(boxes, torch.tensor([[40.0, 5.0, 60.0, 25.0]]))
    expected = torch.sigmoid(torch.tensor(10.0)) * torch.softmax(torch.tensor([0.0, 8.0]), 0)[1]
    torch.testing.assert_close(scores, expected.reshape(1))
    assert labels.tolist() == [1] and labels.dtype == torch.int64
    centre = grid_boxes(raw)[0, 1 * 4 + 2]
    torch.testing.assert_close(centre, torch.tensor([0.625, 0.375, 0.25, 0.5]))


def test_boxes_are_clipped_to_the_image():
    raw = _grid(1, 2, 2)
    _put(raw, 0, 0, x=0.01, y=0.01, w=0.9, h=0.9)
    (boxes, _, _), = decode_detections(raw, (10, 10))
    assert boxes.min() >= 0 and boxes.max() <= 10 and boxes[0, 0] == 0 and boxes[0, 1] == 0


def test_nms_is_class_aware_and_thresholds_apply():
    raw = _grid(2, 4, 4)
    # two neighbouring cells predicting nearly the same box of class 0: one survives
    _put(raw, 1, 1, x=0.9, y=0.5, w=0.4, h=0.4, cls=0, obj=6.0)
    _put(raw, 1, 2, x=0.1, y=0.5, w=0.4, h=0.4, cls=0, obj=4.0)
    # overlapping them (IoU 0.52) as class 1: kept beside them (NMS compares boxes of one class)
    _put(raw, 2, 1, x=0.9, y=0.01, w=0.4, h=0.4, cls=1, obj=3.0)
    # a faint box far away, below the confidence threshold
    _put(raw, 3, 3, cls=0, obj=-3.0)
    (boxes, scores, labels), = decode_detections(raw, (1, 1), 0.25, 0.5, 100)
    assert labels.tolist() == [0, 1]
    assert scores[0] > scores[1] and scores[0] == pytest.approx(torch.sigmoid(torch.tensor(6.0)).item(),
                                                                rel=1e-3)
    assert len(decode_detections(raw, (1, 1), 0.25, 0.99, 100)[0][0]) == 3   # IoU 0.99: both class-0 boxes
    assert len(decode_detections(raw, (1, 1), 0.01, 0.5, 100)[0][0]) == 3    # the faint one comes in
    assert decode_detections(raw, (1, 1), 0.25, 0.5, 1)[0][2].tolist() == [0]  # max detections
    assert len(decode_detections(_grid(2, 4, 4), (8, 8))[0][0]) == 0         # nothing anywhere
    raw[0, 5:, 2, 1] = torch.tensor([8.0, 0.0])                              # now of class 0: removed
    assert decode_detections(raw, (1, 1), 0.25, 0.5, 100)[0][2].tolist() == [0]


def test_batch_decodes_each_image_on_its_own():
    a, b = _grid(3, 2, 3), _grid(3, 2, 3)
    _put(b, 1, 2, cls=2)
    found = decode_detections(torch.cat((a, b)), (20, 30))
    assert [len(f[0]) for f in found] == [0, 1] and found[1][2].tolist() == [2]


def test_decode_module_imports_nothing_of_the_app():
    tree = ast.parse(Path(DECODE_MODULE).read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0])
    assert names <= {"__future__", "torch", "torchvision"}, names


def _detector_doc():
    return document_from_dict({"name": "det", "graph": {"nodes": [
        {"id": "i", "kind": "input", "name": "input", "params": {"channels": 3, "height": 16, "width": 16}},
        {"id": "c", "kind": "conv2d", "name": "conv1", "params": {"out_channels": 7, "kernel_size": 4,
                                                                  "stride": 4}},
        {"id": "d", "kind": "detect", "name": "detect1",
         "params": {"conf_threshold": 0.1, "iou_threshold": 0.4, "max_detections": 5}}],
        "edges": [{"src": "i", "dst": "c"}, {"src": "c", "dst": "d"}]}})


def test_exported_model_decodes_as_the_app(tmp_path):
    doc = _detector_doc()
    analysis = analyze(doc.graph)
    assert analysis.ok and analysis.output_shape == (7, 4, 4)
    torch.manual_seed(0)
    app = build_model(doc.graph, analysis).eval()
    generated = generate_model_source(doc.graph, project_name="det", analysis=analysis)
    assert "def decode_detections(" in generated.source and "class Detect(nn.Module)" in generated.source
    assert "Detect(conf_threshold=0.1, iou_threshold=0.4, max_detections=5)" in generated.source
    path = tmp_path / "model.py"
    path.write_text(generated.source, encoding="utf-8")
    ours = getattr(import_file(path, "det_model"), generated.class_name)().eval()
    ours.load_state_dict(app.state_dict(), strict=True)
    x = torch.rand(4, 3, 16, 16) * 4
    with torch.no_grad():
        raw_app, raw_ours = app(x), ours(x)
    torch.testing.assert_close(raw_ours, raw_app)
    mine = [m for m in app.modules() if type(m).__name__ == "Detect"][0]
    theirs = ours.detect1
    for (b1, s1, l1), (b2, s2, l2) in zip(mine.decode(raw_app, (16, 16)), theirs.decode(raw_ours, (16, 16))):
        torch.testing.assert_close(b1, b2)
        torch.testing.assert_close(s1, s2)
        assert torch.equal(l1, l2) and len(b1) <= 5
