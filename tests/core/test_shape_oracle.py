"""The oracle: shape inference, parameter and FLOP counts agree with real torch modules.

Random valid graphs are analysed and then built and run; every node's inferred output
shape must be the shape of the tensor it really produces, every node's parameter count
the numel of its module's parameters, and the FLOP total what FlopCounterMode counts.
Random broken graphs must give diagnostics and never raise.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, note, settings
from torch.utils.flop_counter import FlopCounterMode

from visionstudio.core.build import BuildError, build_model
from visionstudio.core.graph import analyze

from .graph_strategies import GraphBuilder, invalid_graphs, pointwise_graphs, resize_graphs, valid_graphs
from .support import torch_threads

# torch warns that padding='same' with even kernels copies the input: expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    with torch_threads(1):
        yield


ORACLE_SETTINGS = settings(max_examples=200, deadline=None,
                           suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run_with_hooks(graph, module, input_shape):
    """(per node id: real output shape without batch, per node id: real param numel, flops)."""
    by_attr = {}
    for attr, name in module.node_names.items():
        node = graph.node_by_name(name)
        by_attr[attr] = node.id
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for attr, child in module.named_children():
        def hook(mod, args, out, _nid=by_attr[attr]):
            shapes[_nid] = tuple(out.shape[1:])
        handles.append(child.register_forward_hook(hook))
    x = torch.randn(1, *input_shape)
    module.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module(x)
    for h in handles:
        h.remove()
    input_node = graph.node_by_name(module.node_names[module.input_name])
    shapes[input_node.id] = tuple(x.shape[1:])
    params = {by_attr[attr]: sum(p.numel() for p in child.parameters())
              for attr, child in module.named_children()}
    return shapes, params, counter.get_total_flops(), tuple(y.shape[1:])


@ORACLE_SETTINGS
@given(valid_graphs())
def test_inferred_shapes_params_and_flops_match_torch(drawn):
    graph, expected = drawn
    note(repr(graph.to_dict()))
    analysis = analyze(graph)
    assert analysis.ok, [str(d) for d in analysis.diagnostics]
    assert not analysis.diagnostics
    for nid, shape in expected.items():
        assert analysis.nodes[nid].output_shape == shape, graph.nodes[nid].name

    module = build_model(graph, analysis, seed=0)
    real_shapes, real_params, real_flops, out_shape = run_with_hooks(
        graph, module, analysis.input_shape)
    assert set(real_shapes) == set(graph.nodes)
    for nid, node in graph.nodes.items():
        info = analysis.nodes[nid]
        assert info.output_shape == real_shapes[nid], node.name
        assert info.params == real_params.get(nid, 0), node.name
    assert out_shape == analysis.output_shape
    assert analysis.total_params == sum(p.numel() for p in module.parameters())
    assert analysis.total_flops == real_flops


@settings(ORACLE_SETTINGS, max_examples=60)
@given(pointwise_graphs())
def test_pointwise_kinds_match_torch(drawn):
    """The same oracle on graphs made mostly of activations, norms and broadcasting merges."""
    test_inferred_shapes_params_and_flops_match_torch.hypothesis.inner_test(drawn)


@settings(ORACLE_SETTINGS, max_examples=40)
@given(resize_graphs())
def test_resize_kinds_match_torch(drawn):
    """The same oracle on graphs made mostly of transposed convolutions, upsampling, zero
    padding, adaptive pools and ceil-mode pooling with windows larger than the input."""
    test_inferred_shapes_params_and_flops_match_torch.hypothesis.inner_test(drawn)


@ORACLE_SETTINGS
@given(invalid_graphs())
def test_broken_graphs_give_diagnostics_and_never_raise(drawn):
    graph, mutations = drawn
    note(repr(graph.to_dict()))
    note(repr(mutations))
    analysis = analyze(graph)  # must not raise
    assert set(analysis.nodes) == set(graph.nodes)
    assert analysis.errors, "a broken graph passed analysis"
    messages = [str(d) for d in analysis.diagnostics]
    for info in analysis.nodes.values():
        for d in info.diagnostics:
            messages.append(str(d))
    if len(mutations) == 1:
        m = mutations[0]
        prefix = f"{m.node}: " if m.node else ""
        assert any(msg.startswith(prefix) and m.expect in msg for msg in messages), (m, messages)
    try:
        build_model(graph, analysis)
    except BuildError as exc:
        assert exc.diagnostics
    else:  # pragma: no cover - reported as a failure
        raise AssertionError("build_model accepted a broken graph")


def test_module_attributes_never_collide():
    """A node named like an nn.Module member is renamed for torch; the new name must not
    collide with another node's ("forward" -> "forward_" while "forward_" exists)."""
    b = GraphBuilder()
    x = b.add("input", channels=1, height=4, width=4)
    x = b.add("conv2d", x, name="forward", out_channels=2, padding=1)
    x = b.add("conv2d", x, name="forward_", out_channels=3, padding=1)
    x = b.add("conv2d", x, name="training", out_channels=4, padding=1)
    b.add("flatten", x, name="training_")
    module = build_model(b.graph, seed=0)
    names = {n.split(".")[0] for n, _ in module.named_parameters()}
    assert names == {"forward__", "forward_", "training__"}
    assert module(torch.randn(2, 1, 4, 4)).shape == (2, 64)
    assert set(module.node_names.values()) == {n.name for n in b.graph.nodes.values()}


def test_parameters_are_named_after_nodes_and_seeded():
    b = GraphBuilder()
    x = b.add("input", channels=1, height=6, width=6)
    x = b.add("conv2d", x, out_channels=2)
    x = b.add("batchnorm2d", x)
    x = b.add("flatten", x)
    b.add("dense", x, units=3)
    one, two = build_model(b.graph, seed=7), build_model(b.graph, seed=7)
    assert [n for n, _ in one.named_parameters()] == [
        "conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "dense1.weight", "dense1.bias"]
    for (_, p), (_, q) in zip(one.named_parameters(), two.named_parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("name", ["training", "forward", "input_name", "node_names", "eval",
                                  "parameters", "type", "cuda"])
def test_node_named_like_a_module_member_builds(name):
    b = GraphBuilder()
    x = b.add("input", channels=1, height=4, width=4)
    x = b.add("conv2d", x, name=name, out_channels=2, padding=1)
    b.add("flatten", x)
    module = build_model(b.graph, seed=0)
    assert module(torch.randn(1, 1, 4, 4)).shape == (1, 32)
    assert {n.split(".")[0] for n, _ in module.named_parameters()} == {f"{name}_"}
