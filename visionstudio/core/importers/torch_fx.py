"""A PyTorch module onto the canvas through torch.fx symbolic tracing.

The trace stops at the leaf modules ``torch_ops`` maps (nn.Conv2d, nn.BatchNorm2d, ...)
and at *repeated* sub-modules: every class that occurs more than once in the network
(BasicBlock, Bottleneck, InvertedResidual, SqueezeExcitation, ...) becomes a block; its
instance is traced on its own as the block's inner graph, nested blocks inside it too.
Containers (nn.Sequential and its subclasses) and sub-modules used once are traced
through. ShapeProp runs the trace once on zeros, so every node carries its real shape:
each mapped layer's shape by the library's own rule must equal it, or the node is
listed. Nothing is kept unless every operation maps (``torch_graph.Assembly``).
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from visionstudio.core.importers.result import ImportProblem
from visionstudio.core.importers.torch_calls import describe, is_tensor, map_call, shape_of
from visionstudio.core.importers.torch_graph import PHANTOM, Assembly, Scope
from visionstudio.core.importers.torch_ops import Op, Unsupported, app_helper, leaf_types, map_module

MAX_MODULES = 20_000


class _Tracer(fx.Tracer):
    """Stops at mapped layers and at block candidates (other than the root)."""

    def __init__(self, leaves: tuple[type, ...], blocks: set[int], root: nn.Module) -> None:
        super().__init__()
        self.leaves = leaves
        self.blocks = blocks - {id(root)}

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if id(m) in self.blocks or isinstance(m, self.leaves) or app_helper(m) is not None:
            return True
        return super().is_leaf_module(m, module_qualified_name)


class _Propagate(nn.Module):
    """Runs ShapeProp as its forward, so torch.func.functional_call can swap the
    module's weights for meta tensors while it runs."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__()
        self.gm = gm

    def forward(self, *xs: torch.Tensor) -> Any:
        return ShapeProp(self.gm).propagate(*xs)


def _shape_prop(gm: fx.GraphModule, inputs: list[Any], meta: bool) -> None:
    wrapper = _Propagate(gm)
    with torch.no_grad():
        if not meta:
            wrapper(*inputs)
            return
        state = {k: torch.empty_like(v, device="meta")
                 for k, v in [*wrapper.named_parameters(), *wrapper.named_buffers()]}
        torch.func.functional_call(wrapper, state, tuple(inputs))


def block_candidates(root: nn.Module, leaves: tuple[type, ...]) -> set[int]:
    """Modules whose class occurs more than once and that are neither a mapped layer nor
    a container: what becomes a block."""
    def eligible(m: nn.Module) -> bool:
        return not isinstance(m, (*leaves, nn.Sequential, nn.ModuleList, nn.ModuleDict)) \
            and not type(m).__module__.startswith("torch.nn") and app_helper(m) is None

    modules = [m for m in root.modules() if m is not root and eligible(m)]
    counts = Counter(type(m) for m in modules)
    return {id(m) for m in modules if counts[type(m)] > 1}


def _attr(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), str(value.dtype))
    return repr(value)[:200]


def fingerprint(module: nn.Module) -> tuple[Any, ...]:
    """What a trace of ``module`` depends on besides its input shapes: every sub-module's
    class and public settings (channels, stride, use_res_connect...), not its weights.
    Two instances with equal fingerprints trace to the same graph."""
    return tuple((name, type(sub).__module__, type(sub).__qualname__,
                  tuple(sorted((k, _attr(v)) for k, v in vars(sub).items() if not k.startswith("_"))))
                 for name, sub in module.named_modules())


def snake(name: str) -> str:
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


@dataclass
class Traced:
    graph: fx.Graph
    module: nn.Module
    placeholders: list[fx.Node] = field(default_factory=list)
    fixed: list[Any] = field(default_factory=list)     # the specialised arguments' values


class TorchImporter:
    def __init__(self, source: str, root: nn.Module) -> None:
        self.source = source
        self.root = root
        self.leaves = leaf_types()
        if sum(1 for _ in root.modules()) > MAX_MODULES:
            raise ImportProblem(f"{source}: more than {MAX_MODULES:,} modules; too large to import")
        self.blocks = block_candidates(root, self.leaves)
        self.assembly = Assembly(source)
        self._traces: dict[Any, Traced] = {}   # (fingerprint, input shapes) -> a propagated trace

    # -- tracing --------------------------------------------------------------------------
    def _trace(self, module: nn.Module, where: str, n_inputs: int) -> Traced:
        params = list(inspect.signature(module.forward).parameters.values())
        concrete: dict[str, Any] = {}
        for p in params[n_inputs:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if p.default is inspect.Parameter.empty:
                raise ImportProblem(f"{self.source}: {where} needs more inputs than it is given "
                                    f"({p.name}); only networks of one image input are imported")
            concrete[p.name] = p.default
        tracer = _Tracer(self.leaves, self.blocks, module)
        try:
            graph = tracer.trace(module, concrete_args=concrete or None)
        except Exception as exc:  # noqa: BLE001 - any failure of the user's forward under tracing becomes one message
            raise ImportProblem(f"{self.source}: {where} cannot be traced with torch.fx "
                                f"({type(exc).__name__}: {str(exc)[:300]}); its forward probably "
                                "depends on the values of its input") from None
        # a specialised argument stays a placeholder (checked by an assert node): the
        # inputs are the placeholders before the specialised ones
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        placeholders = placeholders[:len(placeholders) - len(concrete)]
        return Traced(graph, module, placeholders, list(concrete.values()))

    def _propagate(self, traced: Traced, shapes: list[tuple[int, ...]], where: str) -> None:
        """Every node's shape, from a run on meta tensors (no arithmetic: a ResNet-50 in
        a fraction of a second); an operation without a meta kernel gets a real run on zeros."""
        gm = fx.GraphModule(traced.module, traced.graph)
        try:
            _shape_prop(gm, [torch.empty(s, device="meta") for s in shapes] + traced.fixed, meta=True)
            return
        except Exception:  # noqa: BLE001 - any op without a meta kernel: fall back to a real run below
            pass
        try:
            _shape_prop(gm, [torch.zeros(s) for s in shapes] + traced.fixed, meta=False)
        except Exception as exc:  # noqa: BLE001 - a forward that fails on the given input size is reported, not raised
            raise ImportProblem(f"{self.source}: {where} fails on a {'×'.join(map(str, shapes[0][1:]))} "
                                f"input ({type(exc).__name__}: {str(exc)[:300]})") from None

    # -- the walk -------------------------------------------------------------------------
    def run(self, input_shape: tuple[int, int, int], name: str):
        traced = self._trace(self.root, type(self.root).__name__, 1)
        if len(traced.placeholders) != 1:
            raise ImportProblem(f"{self.source}: the network takes {len(traced.placeholders)} inputs; "
                                "only networks of one image input are imported")
        self._propagate(traced, [(1, *input_shape)], type(self.root).__name__)
        scope = self._scope(traced, "", top=True)
        return self.assembly.finish(scope, name)

    def _scope(self, traced: Traced, prefix: str, top: bool) -> Scope:
        scope = Scope(self.assembly, prefix, top)
        values: dict[fx.Node, str] = {}   # fx node -> the scope node that makes it
        for node in traced.graph.nodes:
            if node.op == "placeholder":
                if node in traced.placeholders:
                    index = traced.placeholders.index(node)
                    values[node] = scope.port(index, shape_of(node)[1:])
                continue
            if node.op == "output":
                self._output(scope, node, values)
                continue
            if not is_tensor(node):
                continue             # x.size(0), x.shape: read by the op that uses them
            if not isinstance(node.meta["tensor_meta"], TensorMetadata):
                scope.problem(self._where(node, prefix, traced.module), "an operation with several outputs")
                values[node] = PHANTOM
                continue
            made = self._node(scope, node, values, traced.module, prefix)
            values[node] = PHANTOM if made is None else made
        return scope

    def _output(self, scope: Scope, node: fx.Node, values: dict[fx.Node, str]) -> None:
        result = node.args[0]
        if not isinstance(result, fx.Node) or result not in values:
            scope.problem(f"the output of {scope.prefix.rstrip('.') or 'the network'}",
                          "it is not one tensor (a tuple, a dict or a constant)")
            return
        scope.finish(values[result])

    def _where(self, node: fx.Node, prefix: str, module: nn.Module) -> str:
        if node.op == "call_module":
            sub = module.get_submodule(node.target)
            return f"{type(sub).__name__} at {prefix}{node.target}"
        stack = node.meta.get("nn_module_stack") or {}
        inside = ""
        if stack:
            last = list(stack.values())[-1]
            inside = last[0] if isinstance(last, tuple) else str(last)
        place = f"{prefix}{inside}".rstrip(".") or type(module).__name__
        return f"{describe(node)} at {place} ({node.name})"

    def _node(self, scope: Scope, node: fx.Node, values: dict[fx.Node, str], module: nn.Module,
              prefix: str) -> str | None:
        where = self._where(node, prefix, module)
        try:
            if node.op == "call_module":
                sub = module.get_submodule(node.target)
                args = [a for a in node.args]
                if id(sub) in self.blocks:
                    return self._instance(scope, node, sub, args, values, prefix, where)
                op = map_module(sub, [a for a in args if isinstance(a, fx.Node)])
                if len(args) != len(op.inputs) or node.kwargs:
                    raise Unsupported("called with more arguments than it takes")
            elif node.op in ("call_function", "call_method"):
                op = map_call(node)
            else:
                raise Unsupported("a tensor stored in the model, used directly")
        except Unsupported as exc:
            scope.problem(where, str(exc))
            return None
        return self._add(scope, node, op, values, where)

    def _add(self, scope: Scope, node: fx.Node, op: Op, values: dict[fx.Node, str], where: str) -> str | None:
        if any(i not in values for i in op.inputs):
            scope.problem(where, "an input that is not a tensor of the network")
            return None
        if op.note:
            self.assembly.note(op.note)
        if op.kind is None:
            return values[op.inputs[0]]
        raw = node.target.replace(".", "_") if node.op == "call_module" else node.name
        return scope.layer(op.kind, raw, op.params, [values[i] for i in op.inputs],
                           [shape_of(i)[1:] for i in op.inputs], shape_of(node)[1:], where,
                           op.module)

    def _instance(self, scope: Scope, node: fx.Node, sub: nn.Module, args: list[Any],
                  values: dict[fx.Node, str], prefix: str, where: str) -> str | None:
        if node.kwargs or not all(isinstance(a, fx.Node) and a in values for a in args):
            raise Unsupported("a block called with keyword or non-tensor arguments")
        path = f"{prefix}{node.target}."
        shapes = [(1, *shape_of(a)[1:]) for a in args]
        key = (fingerprint(sub), tuple(shapes))
        done = self._traces.get(key)
        if done is None:
            traced = self._trace(sub, where, len(args))
            if len(traced.placeholders) != len(args):
                raise Unsupported(f"{len(args)} inputs given, {len(traced.placeholders)} taken")
            self._propagate(traced, shapes, where)
            self._traces[key] = traced
        else:     # the same graph and shapes; the weights are read from this instance
            traced = Traced(done.graph, sub, done.placeholders, done.fixed)
        inner = self._scope(traced, path, top=False)
        return scope.instance(snake(type(sub).__name__), type(sub).__name__, node.target.replace(".", "_"),
                              inner, [values[a] for a in args], shape_of(node)[1:], where)


def import_module(module: nn.Module, input_shape: tuple[int, int, int], source: str, name: str):
    """The network ``module`` computes in evaluation mode, for ``input_shape`` (C, H, W)
    images. ``module`` is put back in the mode it was in."""
    was_training = module.training
    module.eval()
    try:
        return TorchImporter(source, module).run(tuple(int(d) for d in input_shape), name)
    finally:
        module.train(was_training)
