"""Receptive fields against analytic values (stacks, strides, dilations, branches,
blocks) and against torch autograd: the input pixels one output pixel depends on."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

import pytest
import torch

from tests.core.block_graphs import one_block
from visionstudio.core.blocks.commands import Ungroup
from visionstudio.core.build import build_model
from visionstudio.core.graph import Edge, GraphModel, make_node
from visionstudio.core.graph.analysis import analyze
from visionstudio.core.inspect.receptive_field import (
    describe,
    fields_by_path,
    input_region,
    receptive_fields,
)


class Net:
    """A graph built layer by layer; ``add`` returns the new node's id."""

    def __init__(self, h: int = 16, w: int = 16, c: int = 1) -> None:
        self.graph = GraphModel()
        self.input = self.add("input", {"channels": c, "height": h, "width": w}, [])

    def add(self, kind: str, params: dict[str, Any], after: list[str] | None = None) -> str:
        node = make_node(self.graph, kind, params=params)
        self.graph.nodes[node.id] = node
        for port, src in enumerate(self.last if after is None else after):
            self.graph.edges.append(Edge(src, node.id, port))
        self.last = [node.id]
        return node.id

    def conv(self, k: int = 3, s: int = 1, p: Any = 1, d: int = 1, after: list[str] | None = None,
             channels: int = 1) -> str:
        return self.add("conv2d", {"out_channels": channels, "kernel_size": k, "stride": s, "padding": p,
                                   "dilation": d, "bias": False}, after)

    def fields(self):
        analysis = analyze(self.graph)
        assert analysis.ok, analysis.errors
        return analysis, receptive_fields(self.graph, analysis)


def triple(field) -> tuple[Fraction, Fraction | None, Fraction]:
    assert field.height.size == field.width.size
    return field.height.size, field.height.jump, field.height.start


@pytest.mark.parametrize("n", [1, 2, 5])
def test_stack_of_3x3_convolutions_grows_by_two_per_layer(n: int) -> None:
    net = Net()
    ids = [net.conv() for _ in range(n)]
    _, fields = net.fields()
    assert [triple(fields[i]) for i in ids] == [(1 + 2 * (i + 1), 1, 0) for i in range(n)]
    assert triple(fields[net.input]) == (1, 1, 0)


def test_classic_cnn_strides() -> None:
    net = Net(32, 32)
    c1 = net.conv()
    p1 = net.add("maxpool2d", {"kernel_size": 2, "stride": 2})
    c2 = net.conv()
    p2 = net.add("maxpool2d", {"kernel_size": 2, "stride": 2})
    c3 = net.conv()
    _, f = net.fields()
    assert triple(f[c1]) == (3, 1, 0)
    assert triple(f[p1]) == (4, 2, Fraction(1, 2))
    assert triple(f[c2]) == (8, 2, Fraction(1, 2))
    assert triple(f[p2]) == (10, 4, Fraction(3, 2))
    assert triple(f[c3]) == (18, 4, Fraction(3, 2))
    assert describe(f[c3]) == "18×18 px · jump 4 · offset 1.5"
    # output pixel (1, 2) of c3: centre (1.5 + 4, 1.5 + 8), 18 wide, clipped at 0
    assert input_region(f[c3], 1, 2) == (0, 1, 15, 19)


def test_strided_convolutions_and_valid_padding() -> None:
    net = Net(9, 9)
    a = net.conv(3, 2, 1)
    b = net.conv(3, 2, 1)
    c = net.conv(3, 1, "valid")
    _, f = net.fields()
    assert triple(f[a]) == (3, 2, 0)
    assert triple(f[b]) == (7, 4, 0)
    assert triple(f[c]) == (15, 4, 4)


@pytest.mark.parametrize("dilations", [[1, 2, 4], [2, 2], [3]])
def test_dilations_grow_the_field_by_twice_the_dilation(dilations: list[int]) -> None:
    net = Net(40, 40)
    ids = [net.conv(3, 1, d, d) for d in dilations]
    _, f = net.fields()
    expected = 1
    for nid, d in zip(ids, dilations, strict=True):
        expected += 2 * d
        assert triple(f[nid]) == (expected, 1, 0)


def test_same_padding_with_an_even_kernel_puts_the_extra_pixel_at_the_end() -> None:
    net = Net(8, 8)
    a = net.conv(4, 1, "same")
    _, f = net.fields()
    # torch pads 1 before and 2 after: output 0 sees input -1..2
    assert triple(f[a]) == (4, 1, Fraction(1, 2))
    assert input_region(f[a], 0, 7) == (0, 6, 3, 8)


def test_a_branch_and_add_take_the_extent_covering_both() -> None:
    net = Net(16, 16)
    deep = net.conv()
    deep = net.conv()
    short = net.conv(1, 1, 0, after=[net.input])
    add = net.add("add", {}, [deep, short])
    _, f = net.fields()
    assert triple(f[add]) == (5, 1, 0)
    # one branch shifted by asymmetric padding: interval [-2, 0] joins [-1, 1]
    net = Net(16, 16)
    centred = net.conv()
    pad = net.add("zeropad2d", {"top": 2, "bottom": 0, "left": 0, "right": 2}, [net.input])
    shifted = net.conv(3, 1, 0, after=[pad])
    add = net.add("add", {}, [centred, shifted])
    _, f = net.fields()
    assert (f[add].height.size, f[add].height.start) == (4, Fraction(-1, 2))
    assert (f[add].width.size, f[add].width.start) == (4, Fraction(1, 2))
    assert input_region(f[add], 5, 5) == (3, 4, 7, 8)


def test_branches_with_different_jumps_are_reported_not_uniform() -> None:
    net = Net(8, 8)
    adaptive = net.add("adaptive_avgpool2d", {"output_size": 3})
    strided = net.conv(3, 3, 1, after=[net.input])
    add = net.add("add", {}, [adaptive, strided])
    _, f = net.fields()
    field = f[add]
    assert not field.uniform and field.height.jump is None
    assert "not uniform" in describe(field)
    # pixel 2: the adaptive window is rows 5..7, the strided conv's 5..7 as well
    assert input_region(field, 2, 2) == (5, 5, 8, 8)
    assert input_region(field, 1, 0)[0] == 2  # adaptive window 2..5, conv 2..4


def test_global_pooling_flatten_and_dense_see_the_whole_image() -> None:
    net = Net(12, 10)
    net.conv()
    gap = net.add("global_avgpool", {})
    dense = net.add("dense", {"units": 3})
    _, f = net.fields()
    for nid in (gap, dense):
        assert f[nid].whole and input_region(f[nid], 0, 0) == (0, 0, 12, 10)
        assert describe(f[nid]) == "12×10 px · the whole image"
    net = Net(6, 6)
    flat = net.add("flatten", {})
    _, f = net.fields()
    assert f[flat].whole and input_region(f[flat], 0, 0) == (0, 0, 6, 6)
    # valid convolutions and a flooring pool never reach the last rows: not the whole image
    net = Net(9, 9)
    net.conv(3, 1, 0)
    net.add("maxpool2d", {"kernel_size": 2})                   # 7 rows -> 3: the 7th is dropped
    gap = net.add("global_avgpool", {})
    _, f = net.fields()
    assert input_region(f[gap], 0, 0) == (0, 0, 8, 8)
    assert describe(f[gap]) == "8×8 px · offset 3.5 · all of its input map"


def test_squeeze_and_excitation_gives_every_pixel_the_whole_image() -> None:
    net = Net(16, 16)
    features = net.conv(channels=4)
    pooled = net.add("adaptive_avgpool2d", {"output_size": 1})
    weights = net.conv(1, 1, 0, channels=4)
    scaled = net.add("multiply", {}, [net.add("sigmoid", {}, [weights]), features])
    after = net.conv(after=[scaled], channels=4)
    _, f = net.fields()
    assert f[pooled].height.jump == 0                # one value, the same wherever broadcast
    for nid in (scaled, after):
        assert f[nid].uniform and f[nid].whole
        assert input_region(f[nid], 9, 3) == (0, 0, 16, 16)
        assert describe(f[nid]) == "16×16 px · the whole image"
    graph = one_block("squeeze_excitation", (8, 12, 12), channels=8, squeeze_channels=2)
    analysis = analyze(graph)
    block = receptive_fields(graph, analysis)[analysis.output_id]
    assert block.whole and input_region(block, 5, 5) == (0, 0, 12, 12)


def test_transposed_convolution_has_a_fractional_jump() -> None:
    net = Net(8, 8)
    down = net.conv(2, 2, 0)
    up = net.add("conv_transpose2d", {"out_channels": 1, "kernel_size": 2, "stride": 2, "padding": 0})
    _, f = net.fields()
    assert triple(f[down]) == (2, 2, Fraction(1, 2))
    size, jump, start = triple(f[up])
    assert jump == 1 and size == 3 and start == 0
    # output 3 reads down's pixel 1 (rows 2..3): the bound holds it, one row wider, as
    # the fractional jump is rounded once at the end
    assert input_region(f[up], 3, 3) == (2, 2, 5, 5)


def test_a_block_instance_equals_its_inlined_layers() -> None:
    graph = one_block("basic_block_projection", (4, 16, 16), channels=8, stride=2)
    analysis = analyze(graph)
    assert analysis.ok
    fields = receptive_fields(graph, analysis)
    block_field = fields[analysis.output_id]
    assert block_field.height.size > 1
    flat = graph.copy()
    Ungroup(analysis.output_id).apply(flat)
    flat_analysis = analyze(flat)
    assert flat_analysis.ok
    flat_fields = receptive_fields(flat, flat_analysis)
    assert flat_fields[flat_analysis.output_id] == block_field
    # the layers inside, by the dotted names the feature viewer uses
    named = fields_by_path(graph, analysis)
    inner_conv = next(n for n in flat.nodes.values() if n.name.endswith("conv1"))
    assert named["block1.conv1"] == flat_fields[inner_conv.id]
    assert named["block1"] == block_field


def _random_net(rng: random.Random) -> tuple[Net, str, bool]:
    """A valid random network, its output, and whether its fields have holes (dilation,
    or a stride larger than the kernel), where autograd sees only part of the extent."""
    while True:
        net, out, holes = _draw_net(rng)
        if analyze(net.graph).ok:
            return net, out, holes


def _draw_net(rng: random.Random) -> tuple[Net, str, bool]:
    net = Net(rng.choice([11, 14]), rng.choice([9, 12]), 2)
    heads, holes = [net.input], False
    for _ in range(rng.randint(2, 5)):
        choice = rng.random()
        if choice < 0.45:
            k, d = rng.choice([1, 2, 3, 5]), rng.choice([1, 1, 1, 2])
            s = rng.choice([1, 1, 2]) if d == 1 and k > 1 else 1
            p = rng.choice([0, k // 2, "same"] if k % 2 else [0, k // 2]) if s == 1 else rng.choice([0, 1])
            holes = holes or d > 1 or s > k
            heads = [net.conv(k, s, p, d, after=heads[-1:], channels=2)]
        elif choice < 0.6:
            heads = [net.add("avgpool2d", {"kernel_size": 2, "stride": rng.choice([1, 2]),
                                           "ceil_mode": rng.random() < 0.5}, heads[-1:])]
        elif choice < 0.75 and heads == [net.input]:  # see the limit in the module's docstring
            heads = [net.add("zeropad2d", {"top": rng.randint(0, 2), "bottom": rng.randint(0, 2),
                                           "left": rng.randint(0, 2), "right": 0}, heads[-1:])]
        else:  # a residual-like branch: same size, different extents
            k = rng.choice([3, 5])
            branch = net.conv(k, 1, k // 2, after=heads[-1:], channels=2)
            heads = [net.add(rng.choice(["add", "concat", "average"]), {}, [branch, heads[-1]])]
    return net, heads[-1], holes


def _seen(net: Net, out_id: str, analysis, y: int, x: int) -> torch.Tensor:
    model = build_model(net.graph, analysis).double()
    with torch.no_grad():
        for param in model.parameters():
            param.fill_(1.0)
    shape = analysis.input_shape
    image = (torch.rand(1, *shape, dtype=torch.float64) + 0.5).requires_grad_(True)
    model(image)[0, 0, y, x].backward()
    return image.grad[0].abs().sum(0) > 0


@pytest.mark.parametrize("seed", range(10))
def test_random_networks_match_autograd(seed: int) -> None:
    rng = random.Random(seed)
    net, out_id, holes = _random_net(rng)
    analysis = analyze(net.graph)
    field = receptive_fields(net.graph, analysis)[out_id]
    _, oh, ow = analysis.output_shape
    for y, x in {(0, 0), (oh - 1, ow - 1), (oh // 2, ow // 3)}:
        seen = _seen(net, out_id, analysis, y, x)
        rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
        top, left, bottom, right = input_region(field, y, x)
        if rows.numel() == 0:  # the pixel sees only padding (or, with holes, falls between pixels)
            assert holes or bottom == top or right == left, (seed, y, x)
            continue
        box = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
        if holes:  # the extent still bounds every pixel seen
            assert top <= box[0] and left <= box[1] and box[2] <= bottom and box[3] <= right, (seed, y, x)
        else:  # every pixel of the region is seen, and no other
            assert box == (top, left, bottom, right), (seed, y, x)
            assert bool(seen[top:bottom, left:right].all())


def test_nearest_upsampling_matches_autograd() -> None:
    net = Net(8, 8)
    net.conv(3, 2, 1)
    up = net.add("upsample", {"by": "scale", "scale_factor": 2.0, "mode": "nearest"})
    net.conv()
    out = net.last[0]
    analysis, fields = net.fields()
    assert fields[up].height.jump == 1
    for y, x in [(0, 0), (3, 4), (7, 7)]:
        seen = _seen(net, out, analysis, y, x)
        rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
        top, left, bottom, right = input_region(fields[out], y, x)
        # a conservative bound with a fractional jump in the middle: never misses a pixel
        assert top <= int(rows.min()) and int(rows.max()) < bottom
        assert left <= int(cols.min()) and int(cols.max()) < right
