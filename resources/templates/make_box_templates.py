"""Write the box-task template projects (run from the repository root).

    .venv/bin/python resources/templates/make_box_templates.py          # rewrite them
    .venv/bin/python resources/templates/make_box_templates.py --check  # exit 1 if stale

``detection_grid``: a small single-stage, anchor-free grid detector (the Detect layer's
encoding, docs/tasks.md) for the built-in shapes_detect set. ``localization``: one object,
a class head and a box head, for shapes_localize. Node ids are uuid5 values of the
template key and layer name, so regenerating gives the same file (as
make_block_templates.py does for the classification templates built from blocks).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from resources.templates.template_files import write_templates  # noqa: E402 - after the path set-up
from visionstudio.core.blocks.builtin import BUILTIN_BLOCKS  # noqa: E402 - after the path set-up
from visionstudio.core.data.config import DatasetConfig  # noqa: E402 - after the path set-up
from visionstudio.core.graph import Edge, GraphModel, make_node  # noqa: E402 - after the path set-up
from visionstudio.core.project import ProjectDocument  # noqa: E402 - after the path set-up
from visionstudio.core.training.config import TrainingConfig  # noqa: E402 - after the path set-up

NAMESPACE = uuid.UUID("5b0c7e2a-93d1-4c6f-a8e4-1f2d3c4b5a69")
ROW, COLUMN = 130.0, 220.0
CLASSES = 3          # the shapes sets' default number of classes
GRID = 8             # detection cells per side: 64 / 8 = 8 pixels per cell


class Net:
    """A network laid out top to bottom: ``add`` puts a layer under ``after`` (default:
    the last one added) in column ``column``."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.graph = GraphModel()
        self.last: str | None = None
        self.rows: dict[str, int] = {}

    def add(self, kind: str, name: str, *, after: str | None = None, column: int = 0, **params) -> Net:
        node_id = uuid.uuid5(NAMESPACE, f"{self.key}/{name}").hex
        node = make_node(self.graph, kind, name, params, node_id)
        src = self.last if after is None else self.graph.node_by_name(after).id
        row = self.rows[src] + 1 if src is not None else 0
        self.graph.nodes[node.id] = node
        self.graph.positions[node.id] = (column * COLUMN, row * ROW)
        self.rows[node.id] = row
        if src is not None:
            self.graph.edges.append(Edge(src, node.id, 0))
        self.last = node.id
        return self

    def block(self, key: str, name: str, **values) -> Net:
        if key not in self.graph.blocks:
            self.graph.blocks.add(BUILTIN_BLOCKS[key]())
        return self.add("block", name, block=key, **values)

    def conv_stage(self, i: int, channels: int, pool: bool = True) -> Net:
        """conv (3×3, same size) → batch norm → ReLU, then a 2×2 max-pool."""
        self.add("conv2d", f"conv{i}", out_channels=channels, kernel_size=3, padding=1, bias=False)
        self.add("batchnorm2d", f"bn{i}").add("relu", f"relu{i}")
        return self.add("maxpool2d", f"pool{i}", kernel_size=2) if pool else self

    def doc(self, name: str, description: str, task: str, dataset: str, **training) -> ProjectDocument:
        config = TrainingConfig.from_dict({"epochs": 20, "batch_size": 32, **training})
        return ProjectDocument(self.graph, DatasetConfig.from_dict({"key": dataset, "params": {}}),
                               config, name, description, task=task)


def detection_grid() -> ProjectDocument:
    net = Net("detection_grid").add("input", "input", channels=3, height=64, width=64)
    for i, channels in enumerate((16, 32, 64), start=1):   # 64 → 32 → 16 → 8 pixels
        net.conv_stage(i, channels)
    net.block("basic_block", "res4", channels=64)            # sees each cell's neighbours
    net.add("conv2d", "grid", out_channels=5 + CLASSES, kernel_size=1)
    net.add("detect", "detect")
    return net.doc(
        "Grid detector", "A small single-stage, anchor-free detector (YOLO-style) for 3×64×64 "
        f"images: three conv-BN-ReLU-pool stages and a residual block bring the image to an "
        f"{GRID}×{GRID} grid of cells (8 pixels each); a 1×1 convolution gives each cell "
        f"5 + {CLASSES} numbers (objectness, the box's centre offset and size, one score per "
        "class) and the Detect layer decodes them: confidence threshold, then class-aware "
        "non-maximum suppression. Trained on the built-in shapes-detect set (1–4 shapes per "
        "image); docs/tasks.md describes the encoding and the loss.",
        "detection", "shapes_detect", epochs=12, optimizer={"key": "adam", "params": {"lr": 0.003}},
        scheduler={"key": "cosine", "params": {}})


def localization() -> ProjectDocument:
    net = Net("localization").add("input", "input", channels=3, height=64, width=64)
    for i, channels in enumerate((16, 32, 64), start=1):
        net.conv_stage(i, channels)
    net.add("flatten", "flatten").add("dense", "dense1", units=128, activation="relu")
    net.add("dense", "class_scores", units=CLASSES, column=-1)
    net.add("output", "cls", target="class", loss="cross_entropy", column=-1)
    net.add("dense", "box_numbers", after="dense1", units=4, column=1)
    net.add("output", "box", target="box", loss="smooth_l1", weight=5.0, column=1)
    return net.doc(
        "Localization", "One object per 3×64×64 image: its class and its box. Three "
        "conv-BN-ReLU-pool stages and a dense layer feed two heads: the class head scores "
        f"the {CLASSES} classes (cross-entropy) and the box head gives the box's centre x, y, "
        "width and height as fractions of the image (smooth L1, weight 5). Trained on the "
        "built-in shapes-localize set.",
        "localization", "shapes_localize")


TEMPLATES = {"detection_grid": detection_grid, "localization": localization}


def main(argv: list[str] | None = None) -> int:
    # The loss and scheduler params are left empty (their registry defaults, as the other
    # templates do); the optimizer keeps its learning rate.
    return write_templates(TEMPLATES, argv, description=__doc__.splitlines()[0],
                           sections=("loss", "scheduler"))


if __name__ == "__main__":
    sys.exit(main())
