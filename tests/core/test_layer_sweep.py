"""Every small configuration of the convolution, pooling and resize kinds against torch.

The hypothesis oracle draws random graphs; this sweeps exhaustively instead: each input
size 1-13 with every small kernel, stride, padding, dilation and ceil mode. Where the real
torch module raises, the spec must raise ShapeError (with a message for the user); where
it runs, the spec must give the shape it produced (an empty output, which only
ConvTranspose2d gives instead of raising, counts as refused).

torch computes height and width independently with the same formula, so the full sweep
uses square inputs and square settings, and a seeded sample of rectangular inputs with
different height/width settings checks that the two axes are not mixed up. A module does
not depend on the input size, so each one is built once and run on all 13 sizes
(1×C×H×W tensors, a few microseconds each).
"""

from __future__ import annotations

import itertools
import random

import pytest
import torch
from torch import nn

from visionstudio.core.layers import LAYERS, ShapeError
from visionstudio.core.params import validate_all

from .support import torch_threads

# torch warns that padding="same" with even kernels copies the input: expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.")

SIZES = range(1, 14)
TORCH_ERRORS = (RuntimeError, ValueError)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


def _spec_shape(kind: str, params: dict, shape: tuple[int, ...]):
    spec = LAYERS.get(kind)
    clean, problems = validate_all(spec.params, params)
    assert not problems, (kind, params, problems)
    try:
        return spec.infer([shape], clean)
    except ShapeError as exc:
        assert str(exc) and exc.hint, (kind, params, shape, "an error needs a message and a hint")
        return "error"


def _torch_shape(module, shape: tuple[int, ...]):
    """The output shape ``module`` gives one sample of ``shape``, or "error"."""
    try:
        with torch.no_grad():
            out = tuple(module(torch.zeros(1, *shape)).shape[1:])
    except TORCH_ERRORS:
        return "error"
    # ConvTranspose2d alone hands back an empty tensor where every other kind raises (an
    # output size of exactly 0); no layer after it could use that, so the spec refuses it too
    return "error" if 0 in out else out


class _Sweep:
    """Collects disagreements so one failure lists the first few of them."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.checked = self.refused = 0
        self.wrong: list[str] = []

    def check(self, params: dict, shapes, cls, *args, **kwargs) -> None:
        """The spec with ``params`` against ``cls(*args, **kwargs)`` on each input shape."""
        try:
            module = cls(*args, **kwargs)
        except TORCH_ERRORS:
            module = None
        for shape in shapes:
            want = "error" if module is None else _torch_shape(module, shape)
            got = _spec_shape(self.kind, params, shape)
            self.checked += 1
            self.refused += want == "error"
            if got != want:
                self.wrong.append(f"{params} on {shape}: spec {got}, torch {want}")

    def done(self, least: int, refusals: bool = True) -> None:
        """``refusals``: torch refuses some of the sweep (False: none at all)."""
        assert not self.wrong, f"{len(self.wrong)} of {self.checked} disagree:\n" + "\n".join(self.wrong[:10])
        assert self.checked >= least, self.checked
        assert (0 < self.refused < self.checked) if refusals else self.refused == 0, self.refused


def _square(c: int = 1):
    return [(c, n, n) for n in SIZES]


def _rectangles(rng: random.Random, count: int, c: int = 1):
    return [(c, rng.choice(SIZES), rng.choice(SIZES)) for _ in range(count)]


def _hw(value: int | list[int]) -> tuple[int, int]:
    return (value[0], value[1]) if isinstance(value, list) else (value, value)


def test_conv2d_sweep():
    sweep = _Sweep("conv2d")
    for k, s, pad, d in itertools.product(range(1, 6), range(1, 4), (0, 1, 2, "same", "valid"), range(1, 4)):
        params = {"out_channels": 1, "kernel_size": k, "stride": s, "padding": pad, "dilation": d}
        sweep.check(params, _square(), nn.Conv2d, 1, 1, k, stride=s, padding=pad, dilation=d)
    rng = random.Random(1)
    for _ in range(150):
        k, s, d = [rng.randint(1, 5), rng.randint(1, 5)], [rng.randint(1, 3), 1], [1, rng.randint(1, 3)]
        pad = rng.choice([[rng.randint(0, 2), rng.randint(0, 2)], "same", "valid"])
        params = {"out_channels": 1, "kernel_size": k, "stride": s, "padding": pad, "dilation": d}
        torch_pad = pad if isinstance(pad, str) else _hw(pad)
        sweep.check(params, _rectangles(rng, 3), nn.Conv2d, 1, 1, _hw(k), stride=_hw(s),
                    padding=torch_pad, dilation=_hw(d))
    sweep.done(least=3000)


def test_conv_transpose2d_sweep():
    sweep = _Sweep("conv_transpose2d")
    for k, s, pad, op, d in itertools.product(range(1, 5), range(1, 4), range(3), range(3), range(1, 3)):
        params = {"out_channels": 1, "kernel_size": k, "stride": s, "padding": pad,
                  "output_padding": op, "dilation": d}
        sweep.check(params, _square(), nn.ConvTranspose2d, 1, 1, k, stride=s, padding=pad,
                    output_padding=op, dilation=d)
    rng = random.Random(2)
    for _ in range(150):
        k, s, pad = [rng.randint(1, 4), rng.randint(1, 4)], [rng.randint(1, 3), 2], [rng.randint(0, 2), 0]
        op, d = [rng.randint(0, 2), rng.randint(0, 1)], [1, rng.randint(1, 2)]
        params = {"out_channels": 1, "kernel_size": k, "stride": s, "padding": pad,
                  "output_padding": op, "dilation": d}
        sweep.check(params, _rectangles(rng, 3), nn.ConvTranspose2d, 1, 1, _hw(k), stride=_hw(s),
                    padding=_hw(pad), output_padding=_hw(op), dilation=_hw(d))
    sweep.done(least=2500)


@pytest.mark.parametrize("kind", ["conv2d", "conv_transpose2d"])
def test_channel_groups_sweep(kind):
    sweep = _Sweep(kind)
    cls = nn.Conv2d if kind == "conv2d" else nn.ConvTranspose2d
    for c, oc, g in itertools.product(range(1, 7), range(1, 7), range(1, 7)):
        params = {"out_channels": oc, "kernel_size": 1, "stride": 1, "padding": 0, "groups": g}
        sweep.check(params, [(c, 3, 2)], cls, c, oc, 1, groups=g)
    sweep.done(least=216)


def test_dilated_maxpool2d_sweep():
    sweep = _Sweep("maxpool2d")
    for k, s, pad, d, ceil in itertools.product(range(1, 5), (None, 1, 2, 3), range(3), range(2, 4),
                                                (False, True)):
        params = {"kernel_size": k, "stride": s, "padding": pad, "dilation": d, "ceil_mode": ceil}
        sweep.check(params, _square(), nn.MaxPool2d, k, stride=s, padding=pad, dilation=d, ceil_mode=ceil)
    rng = random.Random(4)
    for _ in range(100):
        k, d, s = [rng.randint(1, 4), rng.randint(1, 4)], [rng.randint(1, 3), rng.randint(1, 3)], [1, 2]
        pad, ceil = [rng.randint(0, 2), rng.randint(0, 2)], rng.random() < 0.5
        params = {"kernel_size": k, "stride": s, "padding": pad, "dilation": d, "ceil_mode": ceil}
        sweep.check(params, _rectangles(rng, 3), nn.MaxPool2d, _hw(k), stride=_hw(s), padding=_hw(pad),
                    dilation=_hw(d), ceil_mode=ceil)
    sweep.done(least=2500)


@pytest.mark.parametrize("kind", ["maxpool2d", "avgpool2d"])
def test_pool_sweep(kind):
    cls = nn.MaxPool2d if kind == "maxpool2d" else nn.AvgPool2d
    sweep = _Sweep(kind)
    for k, s, pad, ceil in itertools.product(range(1, 6), (None, 1, 2, 3), range(3), (False, True)):
        params = {"kernel_size": k, "stride": s, "padding": pad, "ceil_mode": ceil}
        sweep.check(params, _square(), cls, k, stride=s, padding=pad, ceil_mode=ceil)
    rng = random.Random(3)
    for _ in range(150):
        k, pad = [rng.randint(1, 5), rng.randint(1, 5)], [rng.randint(0, 2), rng.randint(0, 1)]
        s = rng.choice([None, [rng.randint(1, 3), rng.randint(1, 3)]])
        ceil = rng.random() < 0.5
        params = {"kernel_size": k, "stride": s, "padding": pad, "ceil_mode": ceil}
        sweep.check(params, _rectangles(rng, 3), cls, _hw(k), stride=_hw(s) if s else None,
                    padding=_hw(pad), ceil_mode=ceil)
    sweep.done(least=1900)


def test_ceil_mode_window_larger_than_the_input_gives_one_window():
    """The case #15 reported: torch gives 1×1, the spec used to refuse it."""
    assert _spec_shape("maxpool2d", {"kernel_size": 3, "ceil_mode": True}, (1, 2, 2)) == (1, 1, 1)
    assert _torch_shape(nn.MaxPool2d(3, ceil_mode=True), (1, 2, 2)) == (1, 1, 1)


@pytest.mark.parametrize("kind", ["adaptive_avgpool2d", "adaptive_maxpool2d"])
def test_adaptive_pool_sweep(kind):
    cls = nn.AdaptiveAvgPool2d if kind == "adaptive_avgpool2d" else nn.AdaptiveMaxPool2d
    sweep = _Sweep(kind)
    for out in itertools.product(range(1, 16), (1, 2, 7, 15)):
        sweep.check({"output_size": list(out)}, _square() + [(1, 13, 1), (1, 2, 11)], cls, out)
    sweep.done(least=900, refusals=False)


def test_upsample_sweep():
    sweep = _Sweep("upsample")
    scales = (0.1, 0.25, 0.3, 1 / 3, 0.5, 0.7, 1.0, 1.5, 2.0, 2.5, 3.0)
    for scale, mode, align in itertools.product(scales, ("nearest", "bilinear"), (False, True)):
        params = {"by": "scale", "scale_factor": scale, "mode": mode, "align_corners": align}
        kwargs = {"align_corners": align} if align else {}
        sweep.check(params, _square() + [(1, 3, 13), (1, 13, 2)], nn.Upsample, scale_factor=scale,
                    mode=mode, **kwargs)
    for size, mode in itertools.product(([1, 1], [4, 4], [3, 17], [16, 2]), ("nearest", "bilinear")):
        sweep.check({"by": "size", "size": size, "mode": mode}, _square(), nn.Upsample,
                    size=tuple(size), mode=mode)
    sweep.done(least=650)


def test_zeropad2d_sweep():
    sweep = _Sweep("zeropad2d")
    for sides in itertools.product(range(3), repeat=4):
        params = dict(zip(("left", "right", "top", "bottom"), sides))
        sweep.check(params, [(1, 1, 1), (2, 3, 5), (1, 13, 2)], nn.ZeroPad2d, sides)
    sweep.done(least=240, refusals=False)
