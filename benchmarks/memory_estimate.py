"""The static memory estimate (visionstudio.core.memory) against what training really takes.

Each case runs in a fresh subprocess on the CPU: it builds the network, makes Adam, and
runs two training steps (Adam allocates its state on the first); the figure measured is
the peak resident set size (``ru_maxrss``) minus the resident size just before the
model was built. On the CPU that includes a fixed cost of torch's first training step
(kernels, autograd's buffers: about 200 MiB here), measured once as the classic CNN at
batch 1 and shown as "floor"; "net" is measured − floor. On CUDA (``--device cuda``)
it is ``torch.cuda.max_memory_allocated`` instead (no floor). The estimate is meant
to be within the same order of magnitude (it counts every layer's output twice for
the backward pass, which is an upper-side guess).

    .venv/bin/python benchmarks/memory_estimate.py            # the default cases
    .venv/bin/python benchmarks/memory_estimate.py --device cuda
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (template, input (channels, size) or None for the template's own, batch size)
CASES = [("classic_cnn", None, 64), ("classic_cnn", None, 512), ("small_vgg", (3, 64), 64),
         ("small_vgg", (3, 128), 64), ("small_resnet", (3, 64), 64)]
FLOOR_CASE = ("classic_cnn", None, 1)


def _document(template: str, shape):
    from visionstudio.core.graph.commands import SetParam
    from visionstudio.core.templates import load_template

    doc = load_template(template)
    if shape is not None:
        node = next(n for n in doc.graph.nodes.values() if n.kind == "input")
        channels, size = shape
        for name, value in (("channels", channels), ("height", size), ("width", size)):
            SetParam(node.id, name, value).do(doc)
    return doc


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        import os

        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(template: str, shape, batch: int, device: str) -> dict:
    """Runs in the child process."""
    import resource

    import torch

    from visionstudio.core.build import build_model
    from visionstudio.core.graph import analyze
    from visionstudio.core.memory import estimate_training_memory

    torch.set_num_threads(1)
    doc = _document(template, shape)
    analysis = analyze(doc.graph)
    estimate = estimate_training_memory(analysis, batch, "adam")
    x = torch.rand((batch, *analysis.input_shape), device=device)
    y = torch.randint(0, int(analysis.output_shape[0]), (batch,), device=device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = _rss_bytes()
    model = build_model(doc.graph, analysis, seed=0).to(device)
    opt = torch.optim.Adam(model.parameters())
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    return {"case": f"{template} {'x'.join(map(str, analysis.input_shape))} batch {batch}",
            "estimate": estimate.total, "measured": peak, "breakdown": estimate.breakdown()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        template, shape, batch = json.loads(args.child)
        print(json.dumps(measure(template, tuple(shape) if shape else None, batch, args.device)))
        return 0
    from visionstudio.core.memory import human_bytes

    def child(case) -> dict:
        out = subprocess.run([sys.executable, __file__, "--device", args.device, "--child", json.dumps(case)],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        return json.loads(out.stdout.strip().splitlines()[-1])

    floor = child(FLOOR_CASE)["measured"] if args.device == "cpu" else 0
    print(f"floor (torch's first step: {FLOOR_CASE[0]} at batch 1): {human_bytes(floor)}")
    print(f"{'case':<34} {'estimate':>10} {'measured':>10} {'net':>10}  estimate/net")
    for case in CASES:
        r = child(case)
        net = max(r["measured"] - floor, 1)
        print(f"{r['case']:<34} {human_bytes(r['estimate']):>10} {human_bytes(r['measured']):>10} "
              f"{human_bytes(net):>10}  {r['estimate'] / net:.2f}   ({r['breakdown']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
