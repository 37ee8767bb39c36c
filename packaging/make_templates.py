"""Write the template projects in resources/templates/ (run from the repository root).

    .venv/bin/python packaging/make_templates.py          # rewrite every template
    .venv/bin/python packaging/make_templates.py --check  # exit 1 if a file is out of date

The .vsproj files are committed; this script only keeps them consistent. Node ids are
uuid5 values derived from the template key and node name, so regenerating gives the
same file and diffs stay readable. Layout: one column top to bottom, parallel branches
side by side.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resources.templates.template_files import write_templates  # noqa: E402 - after the path set-up
from visionstudio.core.data.config import DatasetConfig  # noqa: E402
from visionstudio.core.graph import Edge, GraphModel, make_node  # noqa: E402
from visionstudio.core.project import ProjectDocument  # noqa: E402
from visionstudio.core.training.config import TrainingConfig  # noqa: E402

NAMESPACE = uuid.UUID("5b0f3c1e-2f8e-4d5e-9a43-7a1c2f6b9d10")
ROW, COL = 130.0, 240.0


class Builder:
    def __init__(self, key: str) -> None:
        self.key = key
        self.graph = GraphModel()
        self.row = 0

    def add(self, kind: str, name: str, *inputs: str, col: float = 0.0, row: int | None = None,
            **params) -> str:
        node_id = uuid.uuid5(NAMESPACE, f"{self.key}/{name}").hex
        node = make_node(self.graph, kind, name, params, node_id)
        self.graph.nodes[node.id] = node
        if row is None:
            row = self.row
            self.row += 1
        self.graph.positions[node.id] = (col * COL, row * ROW)
        for port, src in enumerate(inputs):
            src_id = self.graph.node_by_name(src).id
            self.graph.edges.append(Edge(src_id, node.id, port if len(inputs) > 1 else 0))
        return name

    def doc(self, name: str, description: str, **training) -> ProjectDocument:
        config = TrainingConfig.from_dict({"epochs": 5, "batch_size": 64, **training})
        return ProjectDocument(self.graph, DatasetConfig.from_dict({"key": "shapes"}), config,
                               name, description)


def classic_cnn() -> ProjectDocument:
    b = Builder("classic_cnn")
    b.add("input", "input", channels=1, height=28, width=28)
    b.add("conv2d", "conv1", "input", out_channels=32, kernel_size=3, activation="relu")
    b.add("maxpool2d", "pool1", "conv1", kernel_size=2)
    b.add("conv2d", "conv2", "pool1", out_channels=64, kernel_size=3, activation="relu")
    b.add("maxpool2d", "pool2", "conv2", kernel_size=2)
    b.add("flatten", "flatten", "pool2")
    b.add("dense", "dense1", "flatten", units=64, activation="relu")
    b.add("dense", "dense2", "dense1", units=10, activation="softmax")
    return b.doc("Classic CNN", "The classic small CNN for 28×28 grey images: two 3×3 "
                 "convolution + max-pool stages and two dense layers (121,930 parameters).")


def lenet5() -> ProjectDocument:
    b = Builder("lenet5")
    b.add("input", "input", channels=1, height=28, width=28)
    b.add("conv2d", "conv1", "input", out_channels=6, kernel_size=5, padding=2, activation="tanh")
    b.add("avgpool2d", "pool1", "conv1", kernel_size=2)
    b.add("conv2d", "conv2", "pool1", out_channels=16, kernel_size=5, activation="tanh")
    b.add("avgpool2d", "pool2", "conv2", kernel_size=2)
    b.add("flatten", "flatten", "pool2")
    b.add("dense", "dense1", "flatten", units=120, activation="tanh")
    b.add("dense", "dense2", "dense1", units=84, activation="tanh")
    b.add("dense", "dense3", "dense2", units=10, activation="softmax")
    return b.doc("LeNet-5", "LeCun et al. (1998): 5×5 convolutions with tanh and average "
                 "pooling, then 120-84-10 dense layers; the 28×28 input is padded to 32×32 "
                 "by the first convolution.")


def small_vgg() -> ProjectDocument:
    b = Builder("small_vgg")
    b.add("input", "input", channels=1, height=28, width=28)
    b.add("conv2d", "conv1", "input", out_channels=32, kernel_size=3, padding="same", activation="relu")
    b.add("conv2d", "conv2", "conv1", out_channels=32, kernel_size=3, padding="same", activation="relu")
    b.add("maxpool2d", "pool1", "conv2", kernel_size=2)
    b.add("conv2d", "conv3", "pool1", out_channels=64, kernel_size=3, padding="same", activation="relu")
    b.add("conv2d", "conv4", "conv3", out_channels=64, kernel_size=3, padding="same", activation="relu")
    b.add("maxpool2d", "pool2", "conv4", kernel_size=2)
    b.add("flatten", "flatten", "pool2")
    b.add("dense", "dense1", "flatten", units=128, activation="relu")
    b.add("dropout", "dropout1", "dense1", p=0.5)
    b.add("dense", "dense2", "dropout1", units=10, activation="softmax")
    return b.doc("Small VGG", "VGG-style blocks of two 3×3 'same' convolutions and a max-pool "
                 "(32 then 64 filters), a 128-unit dense layer with dropout and a 10-way output.")


def small_resnet() -> ProjectDocument:
    b = Builder("small_resnet")
    b.add("input", "input", channels=1, height=28, width=28)
    b.add("conv2d", "stem_conv", "input", out_channels=16, kernel_size=3, padding=1, bias=False)
    b.add("batchnorm2d", "stem_bn", "stem_conv")
    b.add("relu", "stem_relu", "stem_bn")
    # Block 1: identity shortcut (16 -> 16 channels).
    b.add("conv2d", "res1_conv1", "stem_relu", out_channels=16, kernel_size=3, padding=1, bias=False)
    b.add("batchnorm2d", "res1_bn1", "res1_conv1")
    b.add("relu", "res1_relu1", "res1_bn1")
    b.add("conv2d", "res1_conv2", "res1_relu1", out_channels=16, kernel_size=3, padding=1, bias=False)
    b.add("batchnorm2d", "res1_bn2", "res1_conv2")
    b.add("add", "res1_add", "res1_bn2", "stem_relu")
    b.add("relu", "res1_relu2", "res1_add")
    # Block 2: 16 -> 32 channels at half size; a strided 1x1 projection on the shortcut.
    top = b.row
    b.add("conv2d", "res2_conv1", "res1_relu2", out_channels=32, kernel_size=3, stride=2,
          padding=1, bias=False)
    b.add("batchnorm2d", "res2_bn1", "res2_conv1")
    b.add("relu", "res2_relu1", "res2_bn1")
    b.add("conv2d", "res2_conv2", "res2_relu1", out_channels=32, kernel_size=3, padding=1, bias=False)
    b.add("batchnorm2d", "res2_bn2", "res2_conv2")
    b.add("conv2d", "res2_proj", "res1_relu2", out_channels=32, kernel_size=1, stride=2,
          bias=False, col=1, row=top + 1)
    b.add("batchnorm2d", "res2_proj_bn", "res2_proj", col=1, row=top + 2)
    b.add("add", "res2_add", "res2_bn2", "res2_proj_bn")
    b.add("relu", "res2_relu2", "res2_add")
    b.add("global_avgpool", "gap", "res2_relu2")
    b.add("dense", "dense1", "gap", units=10, activation="softmax")
    return b.doc("Small ResNet", "Two residual blocks with batch normalization: an identity "
                 "shortcut, then a stride-2 block whose shortcut is a 1×1 projection "
                 "convolution (16 -> 32 channels); global average pooling and a 10-way output.")


def inception_block() -> ProjectDocument:
    b = Builder("inception_block")
    b.add("input", "input", channels=1, height=28, width=28)
    b.add("conv2d", "stem_conv", "input", out_channels=32, kernel_size=3, padding="same", activation="relu")
    b.add("maxpool2d", "stem_pool", "stem_conv", kernel_size=2)
    top = b.row
    b.add("conv2d", "b1_conv1x1", "stem_pool", out_channels=16, kernel_size=1, activation="relu",
          col=-1.5, row=top)
    b.add("conv2d", "b3_reduce", "stem_pool", out_channels=16, kernel_size=1, activation="relu",
          col=-0.5, row=top)
    b.add("conv2d", "b3_conv3x3", "b3_reduce", out_channels=24, kernel_size=3, padding="same",
          activation="relu", col=-0.5, row=top + 1)
    b.add("conv2d", "b5_reduce", "stem_pool", out_channels=8, kernel_size=1, activation="relu",
          col=0.5, row=top)
    b.add("conv2d", "b5_conv5x5", "b5_reduce", out_channels=8, kernel_size=5, padding="same",
          activation="relu", col=0.5, row=top + 1)
    b.add("maxpool2d", "bp_pool", "stem_pool", kernel_size=3, stride=1, padding=1, col=1.5, row=top)
    b.add("conv2d", "bp_conv1x1", "bp_pool", out_channels=8, kernel_size=1, activation="relu",
          col=1.5, row=top + 1)
    b.row = top + 2
    b.add("concat", "concat", "b1_conv1x1", "b3_conv3x3", "b5_conv5x5", "bp_conv1x1")
    b.add("global_avgpool", "gap", "concat")
    b.add("dense", "dense1", "gap", units=10, activation="softmax")
    return b.doc("Inception block", "A stem convolution and one GoogLeNet-style Inception "
                 "module: parallel 1×1, 3×3 and 5×5 convolutions (with 1×1 reductions) and "
                 "a pooling branch, joined by Concat (56 channels).")


TEMPLATES = {
    "classic_cnn": classic_cnn,
    "lenet5": lenet5,
    "small_vgg": small_vgg,
    "small_resnet": small_resnet,
    "inception_block": inception_block,
}


def main(argv: list[str] | None = None) -> int:
    # The dataset/loss/optimizer/scheduler params are left empty (= their registry defaults).
    return write_templates(TEMPLATES, argv, description=__doc__.splitlines()[0],
                           sections=("loss", "optimizer", "scheduler"), dataset=True, unit="layers")


if __name__ == "__main__":
    sys.exit(main())
