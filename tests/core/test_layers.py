"""Every layer kind: shape rule, parameter count and FLOPs against the real torch module."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from visionstudio.core.layers import CATEGORIES, LAYERS, ShapeError, fmt_shape, palette_groups
from visionstudio.core.layers.block_ports import BLOCK_KINDS
from visionstudio.core.params import validate_all

from .support import torch_threads

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


IMG = (3, 9, 11)

# (kind, input shapes, params): at least one case per registered kind.
CASES = [
    ("conv2d", [IMG], {"out_channels": 4}),
    ("conv2d", [IMG], {"out_channels": 6, "kernel_size": [3, 5], "stride": [2, 1], "padding": [1, 2]}),
    ("conv2d", [IMG], {"out_channels": 6, "kernel_size": 4, "padding": "same", "dilation": 2}),
    ("conv2d", [IMG], {"out_channels": 5, "kernel_size": 2, "padding": "valid", "bias": False,
                       "activation": "relu"}),
    ("conv2d", [(4, 8, 8)], {"out_channels": 8, "kernel_size": 3, "groups": 4, "stride": 3,
                             "activation": "softmax"}),
    ("conv2d", [(4, 8, 8)], {"out_channels": 4, "kernel_size": 3, "groups": 4, "dilation": [2, 3]}),
    ("conv2d", [(1, 1, 1)], {"out_channels": 2, "kernel_size": 1, "activation": "gelu"}),
    ("dense", [(20,)], {"units": 7}),
    ("dense", [(20,)], {"units": 3, "bias": False, "activation": "softmax"}),
    ("dense", [(1,)], {"units": 1, "activation": "leaky_relu"}),
    ("flatten", [IMG], {}),
    ("dropout", [IMG], {"p": 0.3}),
    ("dropout", [(5,)], {"p": 0.0}),
    ("batchnorm2d", [IMG], {}),
    ("batchnorm2d", [IMG], {"affine": False, "eps": 1e-3, "momentum": 0.5}),
    ("relu", [IMG], {}),
    ("relu", [(4,)], {}),
    ("leaky_relu", [IMG], {"negative_slope": 0.2}),
    ("elu", [IMG], {"alpha": 0.5}),
    ("gelu", [IMG], {}),
    ("sigmoid", [IMG], {}),
    ("tanh", [(6,)], {}),
    ("softmax", [(6,)], {}),
    ("softmax", [IMG], {}),
    ("maxpool2d", [IMG], {}),
    ("maxpool2d", [IMG], {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("maxpool2d", [IMG], {"kernel_size": [2, 3], "stride": [1, 2], "ceil_mode": True}),
    ("maxpool2d", [(2, 5, 5)], {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("maxpool2d", [IMG], {"kernel_size": [2, 3], "dilation": [2, 1], "padding": 1, "ceil_mode": True}),
    ("avgpool2d", [IMG], {}),
    ("avgpool2d", [IMG], {"kernel_size": 3, "stride": 3, "ceil_mode": True}),
    ("avgpool2d", [(2, 5, 6)], {"kernel_size": 4, "stride": 1, "padding": 2}),
    ("global_avgpool", [IMG], {}),
    ("conv_transpose2d", [IMG], {}),
    ("conv_transpose2d", [(4, 5, 6)], {"out_channels": 6, "kernel_size": [3, 2], "stride": [2, 3],
                                       "padding": 1, "output_padding": [1, 0], "groups": 2,
                                       "dilation": 2, "bias": False}),
    ("upsample", [IMG], {}),
    ("upsample", [IMG], {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True}),
    ("upsample", [IMG], {"by": "size", "size": [4, 17], "mode": "bilinear"}),
    ("zeropad2d", [IMG], {"left": 0, "right": 2, "top": 3, "bottom": 1}),
    ("adaptive_avgpool2d", [IMG], {"output_size": [4, 3]}),
    ("adaptive_maxpool2d", [IMG], {"output_size": [2, 5]}),
    # the pointwise kinds (more cases in test_layers_pointwise.py)
    *[(k, [IMG], {}) for k in ("relu6", "silu", "hardswish", "hardsigmoid", "mish", "softplus",
                               "log_softmax", "prelu", "layernorm", "instancenorm2d", "dropout2d",
                               "identity")],
    ("groupnorm", [IMG], {"num_groups": 3}),
    ("multiply", [IMG, (3, 1, 1)], {}),
    ("maximum", [IMG, IMG], {}),
    ("add", [IMG, IMG], {}),
    ("add", [(5,), (5,), (5,)], {}),
    ("average", [IMG, IMG, IMG], {}),
    ("concat", [IMG, (2, 9, 11)], {}),
    ("concat", [(3,), (4,), (1,)], {}),
    ("weighted_sum", [IMG, IMG], {}),
    ("weighted_sum", [IMG, IMG, IMG], {"weights": [0.5, -1.0, 2.0]}),
    ("weighted_sum", [(4,), (4,)], {"weights": [1.0, 3.0], "learnable": True}),
    ("weighted_sum", [IMG, IMG], {"learnable": True}),
    ("output", [(5,)], {}),
    ("output", [(4,)], {"target": "box", "loss": "l1", "weight": 5.0}),
    ("detect", [(8, 4, 4)], {}),
    ("detect", [(6, 3, 5)], {"conf_threshold": 0.5, "box_loss": "l1", "objectness_loss": "focal"}),
]


def _clean(kind, params):
    spec = LAYERS.get(kind)
    clean, problems = validate_all(spec.params, params)
    assert not problems, problems
    return spec, clean


def _ids(case):
    kind, shapes, params = case
    return f"{kind}-{'+'.join(fmt_shape(s) for s in shapes)}-{params}"


def test_every_kind_has_a_case():
    covered = {kind for kind, _, _ in CASES} | {"input"} | BLOCK_KINDS  # blocks: tests/core/test_blocks_*
    assert set(LAYERS.keys()) <= covered, set(LAYERS.keys()) - covered


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_shape_params_and_flops_match_torch(case):
    kind, in_shapes, params = case
    spec, clean = _clean(kind, params)
    out = spec.infer(in_shapes, clean)
    module = spec.build(in_shapes, clean)
    assert module is not None
    module.eval()
    torch.manual_seed(0)
    xs = [torch.randn(2, *s) for s in in_shapes]
    with torch.no_grad():
        y = module(*xs)
    assert tuple(y.shape) == (2, *out)
    real_params = sum(p.numel() for p in module.parameters())
    assert spec.count_params(in_shapes, out, clean) == real_params
    xs1 = [x[:1] for x in xs]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*xs1)
    assert spec.count_flops(in_shapes, out, clean) == counter.get_total_flops()


def test_input_layer_shape_comes_from_its_params():
    spec, clean = _clean("input", {"channels": 3, "height": 32, "width": 24})
    assert spec.infer([], clean) == (3, 32, 24)
    assert spec.build([], clean) is None
    assert spec.is_source and not spec.is_merge
    assert spec.count_params([], (3, 32, 24), clean) == 0


def test_merges_take_two_or_more_inputs():
    for kind in ("add", "concat", "average", "weighted_sum"):
        spec = LAYERS.get(kind)
        assert spec.is_merge and spec.min_inputs == 2 and spec.max_inputs is None
        assert spec.category == "Merge"


def test_learnable_weighted_sum_counts_one_weight_per_input():
    spec, clean = _clean("weighted_sum", {"learnable": True})
    assert spec.count_params([IMG] * 3, IMG, clean) == 3
    module = spec.build([IMG] * 3, clean)
    assert [n for n, _ in module.named_parameters()] == ["weight"]
    assert torch.allclose(module.weight, torch.full((3,), 1 / 3))
    spec, clean = _clean("weighted_sum", {"learnable": False, "weights": [1.0, 2.0]})
    assert spec.count_params([IMG] * 2, IMG, clean) == 0
    module = spec.build([IMG] * 2, clean)
    assert list(module.parameters()) == [] and module.weight.tolist() == [1.0, 2.0]
    a, b = torch.ones(1, *IMG), torch.full((1, *IMG), 3.0)
    assert torch.allclose(module(a, b), torch.full((1, *IMG), 7.0))


def test_fused_activation_keeps_plain_state_dict_keys():
    spec, clean = _clean("conv2d", {"out_channels": 2, "activation": "relu"})
    assert set(spec.build([IMG], clean).state_dict()) == {"weight", "bias"}
    spec, clean = _clean("dense", {"units": 2, "activation": "tanh", "bias": False})
    assert set(spec.build([(4,)], clean).state_dict()) == {"weight"}


@pytest.mark.parametrize("kind, shapes, params, message", [
    ("conv2d", [(3, 3, 3)], {"kernel_size": 5}, "kernel 5×5 is larger than its 3×3 input"),
    ("conv2d", [(3, 3, 3)], {"kernel_size": 6, "padding": 1},
     "kernel 6×6 is larger than its padded 5×5 input"),
    ("conv2d", [(3, 4, 4)], {"kernel_size": 3, "dilation": 2},
     "dilated kernel 5×5 is larger than its 4×4 input"),
    ("conv2d", [(3, 8, 8)], {"padding": "same", "stride": 2}, "padding 'same' only works with stride 1"),
    ("conv2d", [(3, 8, 8)], {"groups": 2}, "its 3 input channels cannot be split into 2 groups"),
    ("conv2d", [(4, 8, 8)], {"groups": 4, "out_channels": 6},
     "its 6 output channels cannot be split into 4 groups"),
    ("conv2d", [(48,)], {}, "receives a 48 vector; move it before the Flatten"),
    ("maxpool2d", [(3, 1, 1)], {"kernel_size": 2}, "window 2×2 is larger than its 1×1 input"),
    ("avgpool2d", [(3, 8, 8)], {"kernel_size": 3, "padding": 2},
     "padding 2×2 must be at most half the 3×3 window"),
    ("global_avgpool", [(10,)], {}, "needs an image-like input but receives a 10 vector"),
    ("batchnorm2d", [(10,)], {}, "receives a 10 vector"),
    ("dense", [(8, 4, 4)], {}, "receives a 8×4×4 feature map (a 4-D tensor with the batch) but "
                               "needs a vector; add a Flatten (or GlobalAvgPool) before it"),
    ("add", [(8, 4, 4), (16, 4, 4)], {},
     "inputs have different shapes 8×4×4 and 16×4×4; match the channels with a 1×1 Conv2d"),
    ("average", [(8, 4, 4), (8, 2, 2)], {}, "match the sizes (same strides and pooling"),
    ("concat", [(8, 4, 4), (8, 2, 2)], {},
     "inputs must have the same height and width to join along channels; got 8×4×4 and 8×2×2"),
    ("concat", [(8, 4, 4), (8,)], {}, "cannot join feature maps and vectors (8×4×4 and 8)"),
    ("weighted_sum", [(4,), (4,), (4,)], {"weights": [1.0, 2.0]},
     "has 3 inputs but 2 weights; give one weight per input"),
])
def test_shape_errors_speak_to_the_user(kind, shapes, params, message):
    spec, clean = _clean(kind, params)
    with pytest.raises(ShapeError) as info:
        spec.infer(shapes, clean)
    assert message in str(info.value)


def test_specs_are_complete():
    for key, spec in LAYERS.items():
        assert spec.key == key and spec.title and spec.description
        assert spec.category in CATEGORIES
        assert spec.name_prefix.isidentifier()
        for p in spec.params:
            assert p.validate(p.default) == p.default or p.default is None
            assert p.describe()
        clean, problems = validate_all(spec.params, {})
        assert not problems
        assert isinstance(spec.summary(clean), str)
    flat = [k for _, keys in palette_groups() for k in keys]
    assert sorted(flat) == sorted(set(LAYERS.keys()) - BLOCK_KINDS)  # blocks: the palette's Blocks section
    assert palette_groups()[0][0] == "Input"
