"""Projects for the memory tests: the crafted Dense 1,000,000→10,000 network of issue #11
(10^10 weights: 37 GiB of float32 before gradients and Adam's state), and the
24 GiB machine the refusal sentences are written for."""

from __future__ import annotations

from visionstudio.core.memory import AvailableMemory
from visionstudio.core.project import ProjectDocument, document_from_dict

GIB = 1 << 30
MACHINE_24_GIB = AvailableMemory(24 * GIB, "this machine", "test")


def huge_dense_dict(units: int = 10_000) -> dict:
    nodes = [
        {"id": "a" * 32, "kind": "input", "name": "input",
         "params": {"channels": 1, "height": 1000, "width": 1000}},
        {"id": "b" * 32, "kind": "flatten", "name": "flatten", "params": {}},
        {"id": "c" * 32, "kind": "dense", "name": "dense1", "params": {"units": units}},
    ]
    edges = [{"src": "a" * 32, "dst": "b" * 32, "port": 0}, {"src": "b" * 32, "dst": "c" * 32, "port": 0}]
    return {"format": "visionstudio.project", "schema_version": 1, "name": "Huge dense",
            "graph": {"nodes": nodes, "edges": edges},
            "dataset": {"key": "shapes", "params": {"samples": 64, "val_samples": 16}},
            "training": {"batch_size": 64, "epochs": 1, "device": "cpu"}}


def huge_dense_document() -> ProjectDocument:
    return document_from_dict(huge_dense_dict())


def forbid_building(monkeypatch) -> list:
    """Make ``build_model`` fail loudly; returns the list of attempted calls."""
    import visionstudio.core.build as build

    calls: list = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("build_model was called for a network that does not fit")

    monkeypatch.setattr(build, "build_model", refuse)
    return calls
