"""The pointwise kinds of #15 (modern activations, batch-free normalisations, Dropout2d,
Identity and the broadcasting Multiply/Maximum): shape rules, parameter and FLOP counts
against the real modules, torch's broadcasting, emitted code and ONNX against the app's
model, quick fixes on a broadcasting merge, and a final LogSoftmax in training."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from visionstudio.core.build import build_model
from visionstudio.core.export.codegen import generate_model_source
from visionstudio.core.graph import analyze
from visionstudio.core.graph.fixes import quick_fixes
from visionstudio.core.layers import LAYERS, ShapeError
from visionstudio.core.params import validate_all
from visionstudio.core.project import ProjectDocument
from visionstudio.core.training.losses import TrainingLoss
from visionstudio.core.training.model_prep import training_view
from visionstudio.core.training.trainer import Trainer

from .graph_strategies import GraphBuilder
from .support import import_file, torch_threads
from .training_helpers import chain, config, tiny_data

IMG = (4, 6, 5)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


CASES = [
    *[(k, [IMG], {}) for k in ("relu6", "silu", "hardswish", "hardsigmoid", "mish", "softplus",
                               "log_softmax", "prelu", "groupnorm", "layernorm", "instancenorm2d",
                               "dropout2d", "identity")],
    *[(k, [(7,)], {}) for k in ("relu6", "silu", "mish", "log_softmax", "prelu", "layernorm",
                                "groupnorm", "identity")],
    ("softplus", [IMG], {"beta": 2.5, "threshold": 3.0}),
    ("prelu", [IMG], {"per_channel": True, "init": -0.3}),
    ("prelu", [(7,)], {"per_channel": True}),
    ("groupnorm", [IMG], {"num_groups": 2, "eps": 1e-3, "affine": False}),
    ("groupnorm", [(6,)], {"num_groups": 3}),
    ("layernorm", [IMG], {"affine": False, "eps": 1e-6}),
    ("instancenorm2d", [IMG], {"affine": True, "track_running_stats": True, "momentum": 0.3}),
    ("dropout2d", [IMG], {"p": 0.2}),
    ("multiply", [IMG, IMG], {}),
    ("multiply", [IMG, (4, 1, 1)], {}),
    ("multiply", [(1, 6, 5), IMG, (4, 1, 1)], {}),
    ("multiply", [(1, 6, 1), (4, 1, 5)], {}),
    ("multiply", [(7,), (1,)], {}),
    ("maximum", [IMG, (4, 1, 1)], {}),
    ("maximum", [(4, 1, 1), IMG, IMG], {}),
    ("maximum", [(7,), (7,)], {}),
]


def _clean(kind, params):
    spec = LAYERS.get(kind)
    clean, problems = validate_all(spec.params, params)
    assert not problems, problems
    return spec, clean


@pytest.mark.parametrize("kind, shapes, params", CASES)
def test_shape_params_and_flops_match_torch(kind, shapes, params):
    spec, clean = _clean(kind, params)
    out = spec.infer(shapes, clean)
    module = spec.build(shapes, clean).eval()
    xs = [torch.randn(2, *s) for s in shapes]
    with torch.no_grad():
        y = module(*xs)
    assert tuple(y.shape) == (2, *out)
    assert spec.count_params(shapes, out, clean) == sum(p.numel() for p in module.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*[x[:1] for x in xs])
    assert spec.count_flops(shapes, out, clean) == counter.get_total_flops()


def test_merges_broadcast_exactly_as_torch_does():
    shapes = list(itertools.product((1, 2, 3), repeat=3)) + [(1,), (2,), (3,)]
    spec, clean = _clean("multiply", {})
    for a, b in itertools.product(shapes, repeat=2):
        try:
            want = tuple(torch.broadcast_shapes((5, *a), (5, *b))[1:]) if len(a) == len(b) else None
        except RuntimeError:
            want = None
        if want is None:
            with pytest.raises(ShapeError):
                spec.infer([a, b], clean)
        else:
            assert spec.infer([a, b], clean) == want, (a, b)


@pytest.mark.parametrize("kind, shapes, params, message, hint", [
    ("multiply", [(8, 4, 4), (4, 1, 1)], {},
     "inputs of shapes 8×4×4 and 4×1×1 cannot be combined element by element: channels 8 and 4 "
     "differ and neither is 1", "a C×1×1 gate"),
    ("maximum", [(8, 4, 4), (8, 2, 2)], {}, "height 4 and 2 differ", "same shape"),
    ("multiply", [(8, 4, 4), (8,)], {},
     "cannot combine a feature map and a vector element by element (8×4×4 and 8)",
     "AdaptiveAvgPool2d"),
    ("groupnorm", [(6, 4, 4)], {"num_groups": 4}, "its 6 channels cannot be split into 4 groups",
     "divides 6 (1, 2, 3, 6)"),
    ("groupnorm", [(4, 1, 1)], {"num_groups": 4},
     "each of its 4 groups would hold a single value (one channel of a 1×1 map)", "fewer groups"),
    ("groupnorm", [(3,)], {"num_groups": 3}, "would hold a single value (one channel)",
     "fewer groups"),
    ("instancenorm2d", [(6, 1, 1)], {}, "receives a 1×1 feature map", "LayerNorm or GroupNorm"),
    ("instancenorm2d", [(6,)], {}, "receives a 6 vector", "Flatten"),
    ("dropout2d", [(6,)], {}, "drops whole channels of a feature map but receives a 6 vector",
     "use Dropout on vectors"),
])
def test_shape_errors_speak_to_the_user(kind, shapes, params, message, hint):
    spec, clean = _clean(kind, params)
    with pytest.raises(ShapeError) as info:
        spec.infer(shapes, clean)
    assert message in str(info.value)
    assert hint in info.value.hint


def every_pointwise_kind():
    """One network with every kind of this module, most with non-default settings."""
    b = GraphBuilder()
    x0 = b.add("input", channels=4, height=8, width=8)
    x = x0
    for kind, params in [("relu6", {}), ("silu", {}), ("hardswish", {}), ("hardsigmoid", {}),
                         ("mish", {}), ("softplus", {"beta": 2.0, "threshold": 5.0}),
                         ("prelu", {"per_channel": True, "init": 0.1}),
                         ("groupnorm", {"num_groups": 2, "eps": 1e-3}), ("layernorm", {}),
                         ("instancenorm2d", {"affine": True, "track_running_stats": True}),
                         ("instancenorm2d", {}), ("dropout2d", {"p": 0.3}), ("identity", {})]:
        x = b.add(kind, x, **params)
    squeeze = b.add("conv2d", x, out_channels=2, kernel_size=8, activation="relu")
    gate = b.add("hardsigmoid", b.add("conv2d", squeeze, out_channels=4, kernel_size=1))
    se = b.add("multiply", x, gate)
    spatial = b.add("conv2d", x0, out_channels=1, kernel_size=3, padding="same")
    x = b.add("maximum", se, spatial, x0)
    x = b.add("prelu", x)
    x = b.add("flatten", x)
    x = b.add("layernorm", x, affine=False)
    x = b.add("groupnorm", x, num_groups=4)
    scores = b.add("dense", x, units=6)
    scale = b.add("dense", x, units=1, activation="sigmoid")
    x = b.add("multiply", scale, scores)
    x = b.add("maximum", x, b.add("silu", x))
    b.add("log_softmax", x)
    return b.graph


def _trained(graph):
    model = build_model(graph, seed=3)
    for name, buf in model.named_buffers():
        if name.endswith("running_var"):
            buf.uniform_(0.5, 2.0)
        elif name.endswith("running_mean"):
            buf.normal_()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if not name.endswith(".weight") or "conv" in name or "dense" in name:
                continue
            param.uniform_(0.5, 1.5)  # norm scales and PReLU slopes away from their init
    return model.eval()


def test_emitted_code_matches_the_app(tmp_path):
    graph = every_pointwise_kind()
    analysis = analyze(graph)
    assert analysis.ok, analysis.errors
    assert {n.kind for n in graph.nodes.values()} >= {
        "relu6", "silu", "hardswish", "hardsigmoid", "mish", "softplus", "prelu", "log_softmax",
        "groupnorm", "layernorm", "instancenorm2d", "dropout2d", "identity", "multiply", "maximum"}
    app = _trained(graph)
    weights = {k: v.clone() for k, v in app.state_dict().items()}
    generated = generate_model_source(graph, project_name="Pointwise", analysis=analysis)
    path = tmp_path / "model.py"
    path.write_text(generated.source, encoding="utf-8")
    assert "class LayerNorm2d(nn.LayerNorm):" in generated.source
    assert "F.softplus(x, beta=2.0, threshold=5.0)" in generated.source
    ours = getattr(import_file(path, "pointwise_model"), generated.class_name)().eval()
    ours.load_state_dict(weights, strict=True)
    x = torch.randn(3, 4, 8, 8)
    with torch.no_grad():
        want = app(x)
        torch.testing.assert_close(ours(x), want, rtol=1e-5, atol=1e-6)


def test_projection_fix_on_a_broadcasting_merge():
    b = GraphBuilder()
    x = b.add("input", channels=3, height=8, width=8)
    a = b.add("conv2d", x, out_channels=8, kernel_size=3, padding=1)
    g = b.add("conv2d", x, out_channels=4, kernel_size=8)  # 4×1×1: not 8 channels
    m = b.add("multiply", a, g)
    b.add("flatten", m)
    analysis = analyze(b.graph)
    (problem,) = analysis.nodes[m].diagnostics
    assert "insert a 1×1 Conv2d with 8 filters on the 4-channel branch (after conv2)" in problem.hint
    assert "match the sizes" not in problem.hint  # a 1×1 gate stretches over 8×8
    titles = [f.title for f in quick_fixes(b.graph, analysis, m)]
    assert "Insert a 1×1 Conv2d with 8 filters after conv2 (4 channels)" in titles
    fix = next(f for f in quick_fixes(b.graph, analysis, m) if "8 filters" in f.title)
    fix.command.do(ProjectDocument(graph=b.graph))
    after = analyze(b.graph)
    assert after.ok and after.nodes[m].output_shape == (8, 8, 8)


def _classifier(final: str):
    b = GraphBuilder()
    x = b.add("input", channels=1, height=4, width=4)
    x = b.add("dense", b.add("flatten", x), units=5)
    b.add(final, x)
    return build_model(b.graph, seed=0)


def test_a_final_log_softmax_trains_correctly_with_nll_and_cross_entropy():
    model = _classifier("log_softmax")
    x, labels = torch.randn(6, 1, 4, 4), torch.tensor([0, 1, 2, 3, 4, 0])
    logits = model.dense1(model.flatten1(x))
    expected = F.cross_entropy(logits, labels)
    view, log_softmax, notes = training_view(model, "nll")
    assert view is model and not log_softmax and notes == []  # already log-probabilities
    nll = TrainingLoss("nll", {}, 5, torch.device("cpu"), log_softmax=log_softmax)
    torch.testing.assert_close(nll(view(x), labels), expected)
    view, log_softmax, notes = training_view(model, "cross_entropy")
    assert view is not model and not log_softmax
    assert notes and "final LogSoftmax of logsoftmax1 is folded" in notes[0]
    torch.testing.assert_close(view(x), logits)  # the raw scores, parameters shared
    ce = TrainingLoss("cross_entropy", {"label_smoothing": 0.0}, 5, torch.device("cpu"),
                      log_softmax=log_softmax)
    torch.testing.assert_close(ce(view(x), labels), expected)
    assert isinstance(model.logsoftmax1, torch.nn.LogSoftmax)  # predictions keep it
    _, _, notes = training_view(model, "bce_with_logits")
    assert "ends in a LogSoftmax" in notes[0]


def test_a_final_softmax_is_still_turned_into_log_softmax_for_nll():
    view, log_softmax, notes = training_view(_classifier("softmax"), "nll")
    assert log_softmax and "applied as a log-softmax" in notes[0]


def test_padding_fix_walks_through_an_identity():
    b = GraphBuilder()
    x = b.add("input", channels=3, height=8, width=8)
    stem = b.add("conv2d", x, out_channels=8, kernel_size=3, padding=1)
    main = b.add("identity", b.add("conv2d", stem, out_channels=8, kernel_size=3, name="main"))
    add = b.add("add", main, stem)
    b.add("flatten", add)
    analysis = analyze(b.graph)
    titles = [f.title for f in quick_fixes(b.graph, analysis, add)]
    assert "Set padding of main to same (keep its input's size)" in titles
    assert "padding 'same' on main" in analysis.nodes[add].diagnostics[0].hint


@pytest.mark.parametrize("loss", ["nll", "cross_entropy"])
def test_a_network_ending_in_log_softmax_learns(loss):
    """The trainer end to end: the same loss NLL-on-log-probabilities and cross-entropy
    on the folded scores, and a learnt tiny signal either way."""
    layers = [("input", {"channels": 1, "height": 8, "width": 8}), ("flatten", {}),
              ("dense", {"units": 4}), ("log_softmax", {})]
    model = build_model(chain(*layers), seed=0)
    result = Trainer(model, config(epochs=3, loss={"key": loss},
                                   optimizer={"key": "adam", "params": {"lr": 0.02}})).fit(tiny_data())
    assert result.status == "completed"
    assert not any("log-probabilities" in n for n in result.notes)  # the LogSoftmax is seen
    assert result.history[-1].val_accuracy >= 0.9
    assert result.history[-1].train_loss < result.history[0].train_loss
