"""Write the regression template project (run from the repository root).

    .venv/bin/python resources/templates/make_regression_template.py          # rewrite it
    .venv/bin/python resources/templates/make_regression_template.py --check  # exit 1 if stale

``regression``: a small CNN measuring a drawn square's size, angle and centre on the
built-in shapes_regress set. Strided 3×3 convolutions rather than max-pools bring
32×32 down to 4×4, and Flatten (not global pooling) keeps where things are, so the
position survives to the dense layers; the last Dense gives one number per target and
an Output node trains them with MSE (on standardised targets; metrics in pixels and
degrees). Node ids are uuid5 values of the template key and layer name, so
regenerating gives the same file (as make_box_templates.py does).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from resources.templates.template_files import write_templates  # noqa: E402 - after the path set-up
from visionstudio.core.data.config import DatasetConfig  # noqa: E402 - after the path set-up
from visionstudio.core.graph import Edge, GraphModel, make_node  # noqa: E402 - after the path set-up
from visionstudio.core.project import ProjectDocument  # noqa: E402 - after the path set-up
from visionstudio.core.training.config import TrainingConfig  # noqa: E402 - after the path set-up

NAMESPACE = uuid.UUID("0c9f4d2e-7b1a-4e35-9d8c-6a2b1f0e3c57")
ROW = 130.0
TARGETS = ("size", "angle", "x", "y")   # shapes_regress's default targets


def regression() -> ProjectDocument:
    graph = GraphModel()
    last: str | None = None

    def add(kind: str, name: str, **params) -> None:
        nonlocal last
        node = make_node(graph, kind, name, params, uuid.uuid5(NAMESPACE, f"regression/{name}").hex)
        graph.nodes[node.id] = node
        graph.positions[node.id] = (0.0, len(graph.positions) * ROW)
        if last is not None:
            graph.edges.append(Edge(last, node.id, 0))
        last = node.id

    add("input", "input", channels=1, height=32, width=32)
    for i, (channels, stride) in enumerate(((16, 1), (32, 2), (32, 1), (64, 2), (64, 2)), start=1):
        add("conv2d", f"conv{i}", out_channels=channels, kernel_size=3, stride=stride, padding=1,
            activation="relu")                                  # 32 → 32 → 16 → 16 → 8 → 4
    add("flatten", "flatten")
    add("dense", "dense1", units=128, activation="relu")
    add("dense", "values", units=len(TARGETS))
    add("output", "head", target="values", loss="mse")
    config = TrainingConfig.from_dict({
        "epochs": 8, "batch_size": 64,
        "optimizer": {"key": "adam", "params": {"lr": 0.002}},
        "scheduler": {"key": "one_cycle", "params": {}},
    })
    dataset = DatasetConfig.from_dict({"key": "shapes_regress", "params": {}})
    return ProjectDocument(
        graph, dataset, config, "Regression",
        "Measures a drawn square: its size (pixels), angle (degrees, 0–60) and centre x, y "
        "(pixels) on 1×32×32 images of the built-in shapes-regression set. Five 3×3 "
        "convolutions (three of stride 2, so 32×32 becomes 4×4 without max-pooling away the "
        "position), Flatten, a 128-unit dense layer and one output per target, trained with "
        "MSE on standardised targets; the run reports MAE, RMSE and R² per target.",
        task="regression")


TEMPLATES = {"regression": regression}


def main(argv: list[str] | None = None) -> int:
    # The loss and scheduler params are left empty (their registry defaults, as the other
    # templates do); the optimizer keeps its learning rate.
    return write_templates(TEMPLATES, argv, description=__doc__.splitlines()[0],
                           sections=("loss", "scheduler"))


if __name__ == "__main__":
    sys.exit(main())
