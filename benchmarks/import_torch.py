"""PyTorch import figures: each listed torchvision architecture (weights=None) imported
for 3×64×64 images: top-level nodes, layers counted through the blocks, block
definitions, import time, the largest difference from torchvision's output, and the
time of one shape analysis of the imported graph (what the canvas runs on each edit).

    .venv/bin/python benchmarks/import_torch.py [name ...]
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
import torchvision

from visionstudio.core.build import build_model
from visionstudio.core.graph import analyze
from visionstudio.core.importers import ImportProblem
from visionstudio.core.importers.torch_fx import import_module
from visionstudio.core.importers.torch_sources import TESTED


def flat_count(graph) -> int:
    total = 0
    for node in graph.nodes.values():
        if node.kind == "block":
            total += flat_count(graph.blocks.get(node.params["block"]).graph) - 2
        else:
            total += 1
    return total


def analysis_ms(graph, repeats: int = 20) -> tuple[float, float]:
    """(the first analysis of a fresh copy: every definition analysed, the median of the
    next ones: what an edit outside the blocks costs), in milliseconds."""
    fresh = graph.copy()
    t = time.perf_counter()
    analyze(fresh)
    cold = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        analyze(fresh)
        times.append(time.perf_counter() - t)
    return cold * 1000, statistics.median(times) * 1000


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    print(f"{'architecture':20} {'nodes':>5} {'layers':>6} {'blocks':>6} {'import s':>8} "
          f"{'max diff':>9} {'analysis ms (first, next)':>26}")
    for name in names:
        kwargs = {"init_weights": False} if name == "googlenet" else {}
        model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
        t = time.perf_counter()
        try:
            result = import_module(model, (3, 64, 64), f"torchvision:{name}", name)
        except ImportProblem as exc:
            print(f"{name:20} refused: {len(exc.problems)} operations, e.g. {exc.problems[0][:80]}")
            continue
        seconds = time.perf_counter() - t
        graph = result.document.graph
        with torch.device("meta"):
            imported = build_model(graph, analyze(graph))
        imported.load_state_dict(result.weights, assign=True)
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            diff = (imported.eval()(x) - model(x)).abs().max().item()
        cold, warm = analysis_ms(graph)
        print(f"{name:20} {len(graph.nodes):5} {flat_count(graph):6} {len(graph.blocks):6} {seconds:8.2f} "
              f"{diff:9.1e} {cold:17.2f} {warm:8.2f}")


if __name__ == "__main__":
    main(sys.argv[1:] or [*TESTED, "convnext_tiny"])
