"""A tiny project for the sweep tests: a conv, one residual block instance, a dense head,
trained on a few Shapes images in well under a second per run."""

from __future__ import annotations

from tests.core.block_helpers import add, chain, residual_block
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.project.document import ProjectDocument

ISSUE_EXAMPLE = {"sampler": "random", "trials": 3,
                 "objective": {"metric": "val_loss", "direction": "minimize"}, "epochs": 1,
                 "parameters": {"optimizer.lr": {"low": 1e-4, "high": 1e-2, "log": True}}}


def tiny_project() -> ProjectDocument:
    doc = ProjectDocument(name="tiny")
    graph = doc.graph
    graph.blocks.add(residual_block("residual"))
    inp = add(graph, "input", "input", channels=1, height=12, width=12)
    conv = add(graph, "conv2d", "conv1", out_channels=4, kernel_size=3, padding=1, activation="relu")
    res = add(graph, "block", "res_1", block="residual")
    flat = add(graph, "flatten", "flatten")
    dense = add(graph, "dense", "dense", units=3)
    chain(graph, inp, conv, res, flat, dense)
    doc.set_dataset(DatasetConfig.from_dict({"key": "shapes", "params": {
        "image_size": 12, "classes": 3, "samples": 30, "val_samples": 15}}))
    doc.set_training(doc.training.replace(device="cpu", batch_size=15, epochs=1, layer_health=False))
    return doc
