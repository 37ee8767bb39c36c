"""Shared bits for the training tests: a tiny network and tiny in-memory data."""

from __future__ import annotations

import torch

from visionstudio.core.build import build_model
from visionstudio.core.graph import GraphModel, make_node
from visionstudio.core.graph.model import Edge
from visionstudio.core.training.config import TrainingConfig
from visionstudio.core.training.feed import TrainData


def chain(*layers: tuple[str, dict]) -> GraphModel:
    graph = GraphModel()
    prev = None
    for kind, params in layers:
        node = make_node(graph, kind, params=params)
        graph.nodes[node.id] = node
        if prev is not None:
            graph.edges.append(Edge(prev, node.id, 0))
        prev = node.id
    return graph


def tiny_graph(classes: int = 4, size: int = 8, head_activation: str = "none",
               softmax_node: bool = False) -> GraphModel:
    layers = [("input", {"channels": 1, "height": size, "width": size}),
              ("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1, "activation": "relu"}),
              ("maxpool2d", {}),
              ("flatten", {}),
              ("dense", {"units": classes, "activation": head_activation})]
    if softmax_node:
        layers.append(("softmax", {}))
    return chain(*layers)


def tiny_model(seed: int = 0, **kw):
    return build_model(tiny_graph(**kw), seed=seed)


def tiny_data(n: int = 64, classes: int = 4, size: int = 8, n_val: int = 16, seed: int = 0) -> TrainData:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randint(0, 60, (n, 1, size, size), generator=g, dtype=torch.uint8)
    # a learnable signal: class k brightens row block k
    for k in range(classes):
        x[y == k, :, k * size // classes:(k + 1) * size // classes, :] += 150
    vy = torch.arange(n_val) % classes
    vx = torch.randint(0, 60, (n_val, 1, size, size), generator=g, dtype=torch.uint8)
    for k in range(classes):
        vx[vy == k, :, k * size // classes:(k + 1) * size // classes, :] += 150
    return TrainData.from_tensors(x, y, vx, vy, num_classes=classes)


def config(**changes) -> TrainingConfig:
    base = {"epochs": 2, "batch_size": 16, "device": "cpu", "seed": 0}
    base.update(changes)
    return TrainingConfig.from_dict(base)


class Recorder:
    """A callback that keeps every record it is given."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)
        return lambda trainer, *args: self.calls.append((hook, *args))

    def of(self, hook):
        return [args[0] if args else None for h, *args in self.calls if h == hook]


def one_thread():
    """Generator for an autouse fixture: 1 intra-op thread (the test machine is shared and
    2 threads under contention make tiny ops 10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
