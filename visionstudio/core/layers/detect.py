"""The Detect layer: the head of a detection network (a grid of cells, each with
objectness, a box and class scores; the encoding is in core/tasks/detection_decode.py
and docs/tasks.md).

The layer computes nothing: its module passes the raw grid on, so training, ONNX and
TorchScript see the raw heads and the loss reads them directly. What it adds is its
settings: the thresholds its ``decode`` uses and how the detection loss weighs its three
parts. The exported model.py carries the decode verbatim, as a plain function
(``decode_detections``) and the ``Detect`` class that calls it.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from visionstudio.core.layers.base import (
    Emitted,
    LayerCode,
    LayerSpec,
    Params,
    Shape,
    ShapeError,
    fmt_shape,
    register,
    require_image,
)
from visionstudio.core.layers.source import constructor, integer, num
from visionstudio.core.params import ParamSpec

FIXED_CHANNELS = 5  # objectness, then the box: centre x, y, width, height
BOX_LOSSES = ("giou", "l1")
OBJECTNESS_LOSSES = ("bce", "focal")


def _infer(inputs: list[Shape], p: Params) -> Shape:
    channels, _, _ = require_image(inputs, "a grid of cells (channels×height×width), such as a "
                                           "convolution's output")
    if channels <= FIXED_CHANNELS:
        raise ShapeError(
            f"the Detect layer needs 5 + one channel per class (objectness, 4 box numbers, "
            f"class scores); it gets {channels}",
            hint="give the 1×1 convolution before it 5 + (number of classes) output channels",
        )
    return inputs[0]


def _build(inputs: list[Shape], p: Params):
    # late: torch loads only when a model is built
    from visionstudio.core.tasks.detection_decode import Detect

    return Detect(float(p["conf_threshold"]), float(p["iou_threshold"]),
                                   int(p["max_detections"]))


def _emit(code: LayerCode) -> Emitted:
    p = code.params
    init = constructor("Detect", [], [("conf_threshold", num(float(p["conf_threshold"]))),
                                      ("iou_threshold", num(float(p["iou_threshold"]))),
                                      ("max_detections", integer(p["max_detections"]))])
    return Emitted(code.call(), init=init)


DECODE_MODULE = Path(__file__).resolve().parents[1] / "tasks" / "detection_decode.py"
# model.py gets the decode as readable functions, then the class whose decode calls them.
HELPER_DEFS = (("decode_detections", ("grid_boxes", "cxcywh_to_xyxy", "decode_detections")),
               ("Detect", ("Detect",)))


@functools.cache
def _helper_sources() -> tuple[tuple[str, str], ...]:
    text = DECODE_MODULE.read_text(encoding="utf-8")
    defs = {node.name: ast.get_source_segment(text, node) for node in ast.parse(text).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    return tuple((name, "\n\n\n".join(defs[d] for d in parts) + "\n") for name, parts in HELPER_DEFS)


class _DecodeSource:
    """The (name, source) pairs of ``code_helpers``: detection_decode.py's definitions as
    written there, read from the file when an export first asks (importing the layer
    library must not load torch, and a frozen app reads no source until it exports)."""

    def __iter__(self):
        return iter(_helper_sources())


def _summary(p: Params) -> str:
    return (f"conf {num(float(p['conf_threshold']))} · NMS {num(float(p['iou_threshold']))} · "
            f"{p['box_loss'].upper() if p['box_loss'] == 'giou' else 'L1'}")


def _weight(name: str, default: float, what: str) -> ParamSpec:
    return ParamSpec(name, "float", default, title=name.replace("_", " "), minimum=0.0, maximum=1000.0,
                     help=f"The {what} loss is multiplied by this before the three parts are added.")


def channels_for(num_classes: int) -> int:
    """The grid channels a Detect layer needs for ``num_classes`` classes."""
    return FIXED_CHANNELS + num_classes


def classes_of(shape: Shape) -> int:
    """How many classes a grid of ``shape`` scores (its channels after the first five)."""
    if len(shape) != 3:
        raise ShapeError(f"a detection grid is channels×height×width, not {fmt_shape(shape)}")
    return shape[0] - FIXED_CHANNELS


DETECT = register(LayerSpec(
    key="detect", title="Detect", category="Output",
    description="Ends a detection network: its input is a grid of cells (from a 1×1 "
                "convolution with 5 + one channel per class), each predicting whether an "
                "object's centre lies in it (objectness), that object's box and its class. "
                "Training compares the grid with the true boxes; decoding keeps the boxes "
                "scoring above the confidence threshold and removes overlapping boxes of the "
                "same class (non-maximum suppression).",
    params=(
        ParamSpec("conf_threshold", "float", 0.25, title="confidence threshold", minimum=0.0,
                  maximum=1.0, key=True,
                  help="A cell's box is kept when objectness × class probability reaches this."),
        ParamSpec("iou_threshold", "float", 0.5, title="NMS IoU threshold", minimum=0.0, maximum=1.0,
                  help="Of two boxes of one class overlapping more than this (intersection over "
                       "union), the lower-scoring one is removed."),
        ParamSpec("max_detections", "int", 100, title="max detections", minimum=1, maximum=10_000,
                  help="At most this many boxes per image, the best first."),
        ParamSpec("box_loss", "choice", "giou", title="box loss", choices=BOX_LOSSES,
                  help="giou: generalized IoU of the predicted and true boxes (scale-free); l1: "
                       "absolute difference of centre and size."),
        ParamSpec("objectness_loss", "choice", "bce", title="objectness loss", choices=OBJECTNESS_LOSSES,
                  help="bce: binary cross-entropy over every cell; focal: focal loss, which "
                       "down-weights the many easy empty cells."),
        _weight("box_weight", 5.0, "box"),
        _weight("objectness_weight", 1.0, "objectness"),
        _weight("class_weight", 1.0, "class"),
    ),
    infer=_infer, build=_build, emit=_emit, summary=_summary,
    name_prefix="detect", icon="detect", is_head=True,
    code_helpers=_DecodeSource(),  # type: ignore[arg-type]
    extra={"keeps_shape": True},
))
