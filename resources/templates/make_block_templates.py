"""Write the template projects built from blocks (run from the repository root).

    .venv/bin/python resources/templates/make_block_templates.py          # rewrite them
    .venv/bin/python resources/templates/make_block_templates.py --check  # exit 1 if stale

The networks are chains of built-in block instances (visionstudio.core.blocks.builtin)
between a stem and a head; node ids are uuid5 values of the template key and layer
name, so regenerating gives the same file. The classic templates are written by
packaging/make_templates.py.
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

NAMESPACE = uuid.UUID("9d3e2b6a-41c7-4f0e-8b6d-2a7f5c1e9b34")
ROW = 130.0


class Chain:
    """A network in one column: each layer or block instance takes the previous one."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.graph = GraphModel()
        self.last: str | None = None

    def add(self, kind: str, name: str, **params) -> Chain:
        node_id = uuid.uuid5(NAMESPACE, f"{self.key}/{name}").hex
        node = make_node(self.graph, kind, name, params, node_id)
        self.graph.nodes[node.id] = node
        self.graph.positions[node.id] = (0.0, len(self.graph.positions) * ROW)
        if self.last is not None:
            self.graph.edges.append(Edge(self.last, node.id, 0))
        self.last = node.id
        return self

    def block(self, key: str, name: str, **values) -> Chain:
        if key not in self.graph.blocks:
            self.graph.blocks.add(BUILTIN_BLOCKS[key]())
        return self.add("block", name, block=key, **values)

    def doc(self, name: str, description: str, dataset: dict, **training) -> ProjectDocument:
        config = TrainingConfig.from_dict({"epochs": 5, "batch_size": 64, **training})
        return ProjectDocument(self.graph, DatasetConfig.from_dict({"key": "shapes", "params": dataset}),
                               config, name, description)


def _resnet18_stages(net: Chain) -> Chain:
    """The four stages of ResNet-18: two basic blocks each, 64-128-256-512 channels; the
    first block of stages 2-4 halves the size with a projection shortcut (torchvision's
    ``downsample``)."""
    net.block("basic_block", "layer1_0", channels=64).block("basic_block", "layer1_1", channels=64)
    for stage, channels in ((2, 128), (3, 256), (4, 512)):
        net.block("basic_block_projection", f"layer{stage}_0", channels=channels, stride=2)
        net.block("basic_block", f"layer{stage}_1", channels=channels)
    return net.add("global_avgpool", "avgpool").add("dense", "fc", units=10, activation="softmax")


def resnet18() -> ProjectDocument:
    net = Chain("resnet18").add("input", "input", channels=3, height=224, width=224)
    net.add("conv2d", "conv1", out_channels=64, kernel_size=7, stride=2, padding=3, bias=False)
    net.add("batchnorm2d", "bn1").add("relu", "relu").add("maxpool2d", "maxpool", kernel_size=3,
                                                          stride=2, padding=1)
    _resnet18_stages(net)
    return net.doc("ResNet-18", "ResNet-18 (He et al. 2016) for 3×224×224 images, built from basic "
                   "blocks: the 7×7 stride-2 stem and max-pool, four stages of two basic blocks "
                   "(projection shortcuts where the size halves), global average pool, 10 classes. "
                   "11,181,642 parameters, as torchvision's resnet18(num_classes=10).",
                   {"image_size": 224, "channels": 3, "samples": 600, "val_samples": 120},
                   batch_size=32)


def resnet18_cifar() -> ProjectDocument:
    net = Chain("resnet18_cifar").add("input", "input", channels=3, height=32, width=32)
    net.add("conv2d", "conv1", out_channels=64, kernel_size=3, padding=1, bias=False)
    net.add("batchnorm2d", "bn1").add("relu", "relu")
    _resnet18_stages(net)
    return net.doc("ResNet-18 (32×32)", "ResNet-18 for 3×32×32 images (CIFAR-sized), built from "
                   "basic blocks. Stem: one 3×3 stride-1 convolution with 64 filters and no "
                   "max-pool (the usual CIFAR variant: the 7×7 stride-2 stem and pool would shrink "
                   "32×32 to 8×8 at once), then ResNet-18's four stages (4×4 at the end), global "
                   "average pool, 10 classes. 11,173,962 parameters.",
                   {"image_size": 32, "channels": 3, "samples": 6000, "val_samples": 1000})


# MobileNet (Howard et al. 2017, table 1) for 32×32: (output channels, stride) of its 13
# depthwise-separable units with the stem at stride 1 (the usual CIFAR variant), so the
# last stage still has 2×2 pixels.
MOBILENET_UNITS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                   (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
SE_AFTER = {2, 4, 10, 12}  # the last unit at each size gets squeeze-and-excitation (reduction 16)


def mobilenet_se() -> ProjectDocument:
    net = Chain("mobilenet_se").add("input", "input", channels=3, height=32, width=32)
    net.add("conv2d", "conv1", out_channels=32, kernel_size=3, padding=1, bias=False)
    net.add("batchnorm2d", "bn1").add("relu", "relu")
    channels = 32
    for i, (out, stride) in enumerate(MOBILENET_UNITS):
        net.block("depthwise_separable", f"ds{i + 1}", in_channels=channels, out_channels=out,
                  stride=stride)
        channels = out
        if i in SE_AFTER:
            net.block("squeeze_excitation", f"se{i + 1}", channels=out, squeeze_channels=out // 16)
    net.add("global_avgpool", "avgpool").add("dense", "fc", units=10, activation="softmax")
    return net.doc("MobileNet with SE", "MobileNet (Howard et al. 2017) for 3×32×32 images: a 3×3 "
                   "stem, 13 depthwise-separable blocks (3×3 depthwise + 1×1 pointwise, BN and "
                   "ReLU), a squeeze-and-excitation block (Hu et al. 2018, reduction 16) after the "
                   "last block at each size, global average pool, 10 classes. 3,393,346 parameters "
                   "(torchvision has no MobileNet v1 to compare with).",
                   {"image_size": 32, "channels": 3, "samples": 6000, "val_samples": 1000})


TEMPLATES = {"resnet18_cifar": resnet18_cifar, "resnet18": resnet18, "mobilenet_se": mobilenet_se}


def main(argv: list[str] | None = None) -> int:
    # The loss/optimizer/scheduler params are left empty (their registry defaults, as the
    # classic templates do); the dataset keeps its size and channels.
    return write_templates(TEMPLATES, argv, description=__doc__.splitlines()[0],
                           sections=("loss", "optimizer", "scheduler"))


if __name__ == "__main__":
    sys.exit(main())
