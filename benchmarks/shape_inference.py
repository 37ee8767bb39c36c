"""Shape-inference benchmark: is re-checking a 200-node graph cheap enough for every edit?

Builds a valid 200-node network (conv/bn/relu stacks, residual Add blocks, Concat
branches, pools, a GlobalAvgPool + Dense head) and times

  (a) a full ``analyze()`` pass, median of many runs;
  (b) one ``SetParam`` edit through ``UndoHistory`` followed by a re-analysis,
      which is what the canvas does on every keystroke in the inspector.

Target: under 10 ms each. Then the same for a 200-node graph of which ``--instances``
(10) nodes are block instances (built-in basic and squeeze-and-excitation blocks), with
the ratio to the flat graph, an edit of an instance's exposed value, and the analysis
after an edit inside a definition (every instance analysed afresh).

Then the hostile-file case of issue #11: a project at the loader's limits, 10,000
layers and 100,000 connections (a lattice of Add merges, each fed by the ten layers
before it), timing

  (c) ``parse_project`` of its JSON text, ``analyze()``, ``summarize()`` and the
      in-process ``visionstudio summary FILE`` command (load + analysis + table), best
      of three — target under 1 s each (issue #11 measured 51 s for the summary);
  (d) the editor: building the canvas scene for it and one parameter edit with the
      canvas open, in a child process (offscreen Qt) that is stopped after
      ``--scene-timeout`` seconds. Reported, no target.

Run: ``python benchmarks/shape_inference.py [--runs N] [--large-nodes N --large-edges N]
[--no-large] [--no-scene]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from visionstudio.core.commands import UndoHistory
from visionstudio.core.graph import (
    AddNode,
    Connect,
    GraphModel,
    RemoveNodes,
    SetParam,
    analyze,
)
from visionstudio.core.project import ProjectDocument

TARGET_MS = 10.0
LARGE_TARGET_S = 1.0


class _Builder:
    def __init__(self) -> None:
        self.graph = GraphModel()
        self.n = 0

    def add(self, kind: str, *inputs: str, **params) -> str:
        self.n += 1
        cmd = AddNode(kind, (self.n * 40.0, 0.0), params=params or None)
        cmd.apply(self.graph)
        for src in inputs:
            Connect(src, cmd.node_id).apply(self.graph)
        return cmd.node_id


def build_graph(size: int = 200, instances: int = 0) -> tuple[GraphModel, list[str]]:
    """A valid graph of exactly ``size`` nodes; returns it and its conv node ids. With
    ``instances``, that many of its residual blocks are block instances instead (the
    built-in basic block and squeeze-and-excitation, taking turns), one node each."""
    b = _Builder()
    if instances:
        from visionstudio.core.blocks.builtin import basic_block, squeeze_excitation

        b.graph.blocks.add(basic_block())
        b.graph.blocks.add(squeeze_excitation())
    x = b.add("input", channels=3, height=64, width=64)
    convs: list[str] = []
    channels, block = 16, 0
    x = b.add("conv2d", x, out_channels=channels, kernel_size=3, padding=1)
    convs.append(x)
    head = 4  # gap, dense, relu/dropout, dense
    while b.n < size - head:
        left = size - head - b.n
        kind = block % 4
        if kind in (0, 1) and instances:      # one block instance: 1 node
            which = "basic_block" if instances % 2 else "squeeze_excitation"
            values = {"channels": channels} if which == "basic_block" else {
                "channels": channels, "squeeze_channels": 4}
            x = b.add("block", x, block=which, **values)
            instances -= 1
        elif kind in (0, 1) and left >= 7:      # residual block: 7 nodes
            y = b.add("conv2d", x, out_channels=channels, kernel_size=3, padding="same")
            convs.append(y)
            y = b.add("batchnorm2d", y)
            y = b.add("relu", y)
            y = b.add("conv2d", y, out_channels=channels, kernel_size=3, padding=1)
            convs.append(y)
            y = b.add("batchnorm2d", y)
            x = b.add("relu", b.add("add", x, y))
        elif kind == 2 and left >= 6:         # inception-like Concat: 6 nodes
            a = b.add("conv2d", x, out_channels=8, kernel_size=1)
            c = b.add("conv2d", x, out_channels=8, kernel_size=3, padding=1)
            d = b.add("maxpool2d", x, kernel_size=3, stride=1, padding=1)
            d = b.add("conv2d", d, out_channels=channels - 16 if channels > 16 else 8, kernel_size=1)
            convs += [a, c, d]
            x = b.add("concat", a, c, d)
            channels = 16 + (channels - 16 if channels > 16 else 8)
            x = b.add("conv2d", x, out_channels=channels, kernel_size=1)
            convs.append(x)
        elif kind == 3 and left >= 3:         # downsample: 3 nodes
            x = b.add("conv2d", x, out_channels=channels, kernel_size=3, stride=1, padding=1)
            convs.append(x)
            x = b.add("batchnorm2d", x)
            x = b.add("maxpool2d", x) if block % 8 == 3 else b.add("dropout", x, p=0.1)
        else:                                  # fill up with activations
            x = b.add("relu", x)
        block += 1
    x = b.add("global_avgpool", x)
    x = b.add("dense", x, units=64)
    x = b.add("dropout", x, p=0.2)
    b.add("dense", x, units=10)
    return b.graph, convs


def lattice_project(nodes: int = 10_000, edges: int = 100_000, window: int = 10) -> dict:
    """Plain project data: an Input, a ReLU, then Add merges each fed by up to ``window``
    (+1 where needed to reach ``edges``) layers just before it. Every shape is the same,
    so the network is valid and analysis does the full work for every node and edge."""
    from visionstudio.core.project import ProjectDocument

    fan_in = [0, 1] + [min(i, window) for i in range(2, nodes)]
    extra = edges - sum(fan_in)
    for i in range(nodes - 1, 1, -1):  # top up from the end, one more input each
        if extra <= 0:
            break
        if fan_in[i] < i:
            fan_in[i] += 1
            extra -= 1
    if extra != 0:
        raise ValueError(f"cannot place {edges} connections on {nodes} layers")
    ids = [f"n{i:05d}" for i in range(nodes)]
    node_list = [{"id": ids[0], "kind": "input", "name": "input",
                  "params": {"channels": 4, "height": 8, "width": 8}},
                 {"id": ids[1], "kind": "relu", "name": "relu1", "params": {}}]
    node_list += [{"id": ids[i], "kind": "add", "name": f"add{i}", "params": {}} for i in range(2, nodes)]
    edge_list = [{"src": ids[i - k], "dst": ids[i], "port": k - 1}
                 for i in range(1, nodes) for k in range(1, fan_in[i] + 1)]
    data = ProjectDocument(name="lattice").to_dict()
    data["graph"] = {"nodes": node_list, "edges": edge_list}
    data["layout"] = {"positions": {nid: [float((i % 100) * 220), float((i // 100) * 160)]
                                    for i, nid in enumerate(ids)}}
    return data


def _timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0, time.process_time() - c0


def _best_of(fn, runs: int = 3):
    """(result, best wall s, best CPU s) of ``runs`` calls: a shared machine adds noise."""
    timings = [_timed(fn) for _ in range(runs)]
    return timings[-1][0], min(t[1] for t in timings), min(t[2] for t in timings)


def run_large(nodes: int, edges: int, scene: bool, scene_timeout: float) -> bool:
    from visionstudio.cli import main as cli_main
    from visionstudio.core.project import parse_project
    from visionstudio.core.summary import summarize

    text = json.dumps(lattice_project(nodes, edges))
    print(f"\nlarge project: {nodes:,} layers, {edges:,} connections, "
          f"{len(text.encode('utf-8')) / 2**20:.1f} MiB of JSON")
    doc, *load = _best_of(lambda: parse_project(text))
    analysis, *ana = _best_of(lambda: analyze(doc.graph))
    assert analysis.ok, [str(d) for d in analysis.errors[:5]]
    summary, *summ = _best_of(lambda: summarize(doc.graph, doc.name))
    assert len(summary.rows) == nodes
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lattice.vsproj"
        path.write_text(text, encoding="utf-8")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code, *cli = _best_of(lambda: cli_main(["summary", str(path)]))
        assert code == 0, out.getvalue()[-2000:]
        timings = [("(c) parse_project (load):      ", load), ("(c) analyze():                 ", ana),
                   ("(c) summarize():               ", summ), ("(c) visionstudio summary FILE: ", cli)]
        ok = True
        for label, (wall, cpu) in timings:
            verdict = "under" if wall < LARGE_TARGET_S else "OVER"
            ok = ok and wall < LARGE_TARGET_S
            print(f"{label} {wall:7.3f} s wall ({cpu:.3f} s CPU)  {verdict} the {LARGE_TARGET_S:g} s target")
        if scene:
            # Smaller lattices first, to show how the canvas grows; stop at the first
            # size that runs out of time.
            for n in sorted({n for n in (100, 200, 1000) if n < nodes} | {nodes}):
                small = path if n == nodes else Path(tmp) / f"lattice_{n}.vsproj"
                if n != nodes:
                    small.write_text(json.dumps(lattice_project(n, edges * n // nodes)), encoding="utf-8")
                if not _scene_in_child(small, scene_timeout, n):
                    break
    return ok


def _scene_in_child(path: Path, timeout: float, nodes: int) -> bool:
    """Canvas timings in a fresh offscreen Qt process, stopped after ``timeout`` s."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    print(f"(d) editor, {nodes:,} layers:")
    try:
        proc = subprocess.run([sys.executable, __file__, "--scene-only", str(path)], env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        print("\n".join(ln for ln in out.splitlines() if ln.startswith("(d)")))
        print(f"(d)   ... stopped: not finished within {timeout:g} s")
        return False
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("(d)")]
    print("\n".join(lines) if lines else f"(d)   failed\n{proc.stderr[-2000:]}")
    return True


def scene_only(path: str) -> int:
    """Child-process part of (d): open the file, build the scene, make one edit."""
    from PySide6.QtWidgets import QApplication

    from visionstudio.core.project import load_project
    from visionstudio.ui.canvas.scene import GraphScene
    from visionstudio.ui.shell.controller import DocumentController

    app = QApplication.instance() or QApplication([])
    doc = load_project(path)
    controller, *ctl = _timed(lambda: DocumentController(doc))
    print(f"(d)   controller (analysis)      {ctl[0]:7.3f} s wall", flush=True)
    scene, *built = _timed(lambda: GraphScene(controller))
    print(f"(d)   build the canvas scene     {built[0]:7.3f} s wall "
          f"({len(scene.node_items()):,} layers, {len(scene.edge_items()):,} edges)", flush=True)
    target = next(n.id for n in doc.graph.nodes.values() if n.kind == "input")
    _, *edit = _timed(lambda: controller.push(SetParam(target, "height", 9)))
    print(f"(d)   one parameter edit         {edit[0]:7.3f} s wall (re-analysis + canvas update)",
          flush=True)
    middle = list(doc.graph.nodes)[len(doc.graph.nodes) // 2]
    _, *removed = _timed(lambda: controller.push(RemoveNodes([middle])))
    print(f"(d)   delete one merge layer     {removed[0]:7.3f} s wall", flush=True)
    _, *undone = _timed(controller.undo_stack.undo)
    print(f"(d)   undo the delete            {undone[0]:7.3f} s wall", flush=True)
    app.processEvents()
    return 0


def _median_ms(fn, runs: int) -> tuple[float, float, float]:
    """(median wall ms, min wall ms, median CPU ms). On a shared, loaded machine the
    wall clock includes time spent waiting for a core; CPU time does not."""
    fn()  # warm up
    wall, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def _report(label: str, timing: tuple[float, float, float]) -> None:
    med, low, cpu = timing
    verdict = "under" if med < TARGET_MS else "OVER"
    print(f"{label} median {med:6.2f} ms wall (min {low:.2f}, median CPU {cpu:.2f})  "
          f"{verdict} the {TARGET_MS:g} ms target")


def run_small(size: int, instances: int, runs: int) -> dict[str, tuple[float, float, float]]:
    """(a) and (b) on the ``size``-node graph; with instances also (b') an edit of one
    instance's exposed value and (a') the re-analysis after an edit inside a definition
    (which empties the library's memo of instance analyses)."""
    graph, convs = build_graph(size, instances)
    analysis = analyze(graph)
    assert analysis.ok, [str(d) for d in analysis.errors]
    assert len(graph.nodes) == size, len(graph.nodes)
    inner = sum(len(graph.blocks.get(n.params["block"]).graph.nodes)
                for n in graph.nodes.values() if n.kind == "block")
    what = f", {instances} of them block instances ({inner} layers inside)" if instances else " (flat)"
    print(f"\ngraph: {len(graph.nodes)} nodes{what}, {len(graph.edges)} edges, "
          f"{analysis.total_params:,} params, {analysis.total_flops / 1e6:.1f} MFLOPs, "
          f"output {analysis.output_shape}")
    out = {"a": _median_ms(lambda: analyze(graph), runs)}
    history = UndoHistory(ProjectDocument(graph=graph))
    # a "same"-padded conv from the middle on: kernel 3 <-> 5 keeps every shape valid
    target = next(c for c in convs[len(convs) // 2:] if graph.nodes[c].params["padding"] == "same")
    state = {"k": 0}

    def edit() -> None:
        state["k"] += 1
        history.push(SetParam(target, "kernel_size", 3 if state["k"] % 2 else 5))
        assert analyze(graph).ok

    out["b"] = _median_ms(edit, runs)
    _report("(a) full analyze():           ", out["a"])
    _report("(b) SetParam edit + analyze():", out["b"])
    if instances:
        se = next(n.id for n in graph.nodes.values() if n.params.get("block") == "squeeze_excitation")

        def exposed_edit() -> None:
            state["k"] += 1
            history.push(SetParam(se, "squeeze_channels", 4 if state["k"] % 2 else 8))
            assert analyze(graph).ok

        def after_definition_edit() -> None:
            graph.blocks.touch("basic_block")
            assert analyze(graph).ok

        out["b'"] = _median_ms(exposed_edit, runs)
        out["a'"] = _median_ms(after_definition_edit, runs)
        _report("(b') exposed value edit + analyze():", out["b'"])
        _report("(a') analyze() after a definition edit:", out["a'"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--instances", type=int, default=10,
                        help="block instances in the second 200-node graph")
    parser.add_argument("--large-nodes", type=int, default=10_000)
    parser.add_argument("--large-edges", type=int, default=100_000)
    parser.add_argument("--no-large", action="store_true", help="skip the 10,000-layer case")
    parser.add_argument("--no-scene", action="store_true", help="skip the canvas timings")
    parser.add_argument("--scene-timeout", type=float, default=60.0,
                        help="seconds each canvas measurement may take")
    parser.add_argument("--scene-only", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scene_only:
        return scene_only(args.scene_only)

    flat = run_small(args.size, 0, args.runs)
    blocks = run_small(args.size, args.instances, args.runs)
    ok = all(med < TARGET_MS for med, _, _ in (*flat.values(), *blocks.values()))
    for what, i in (("median wall", 0), ("min wall", 1), ("median CPU", 2)):
        print(f"with {args.instances} block instances / flat graph ({what}): "
              f"(a) {blocks['a'][i] / flat['a'][i]:.2f}x, (b) {blocks['b'][i] / flat['b'][i]:.2f}x")
    if not args.no_large:
        ok = run_large(args.large_nodes, args.large_edges, not args.no_scene, args.scene_timeout) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
