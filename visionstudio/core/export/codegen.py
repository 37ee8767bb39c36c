"""Graph -> readable PyTorch source: one ``nn.Module`` class that imports only torch.

The generated class names its layers after the graph's nodes with the builder's
``attribute_name`` rule, so its state-dict keys are the app model's keys, one for one:
a safetensors file saved from the app loads with ``strict=True`` and gives bit-identical
outputs. ``forward`` follows the builder's topological order; a value that feeds only
the next line stays in ``x``, every other one gets the name of the node that made it.
Each line carries the tensor's shape as a comment (``# 32×26×26``).

Project text is untrusted (see source_check.py): the name enters the file as the literal
``PROJECT_NAME = repr(name)``, layer names only after ``checked_identifier``, the
docstring only through ``docstring_line``; the finished text is compiled before it is
returned, so a project cannot make ``import model`` run anything or make the export
write invalid Python.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass
from typing import Any

from visionstudio.core.build import BuildError, attribute_names
from visionstudio.core.export.source_check import checked_identifier, checked_source, docstring_line
from visionstudio.core.export.weights import ExportError
from visionstudio.core.graph import GraphAnalysis, GraphModel, analyze
from visionstudio.core.layers import fmt_shape
from visionstudio.core.params import pair

MODEL_FILE = "model.py"
# How much of a long name / description the docstring shows (PROJECT_NAME keeps all).
DOC_NAME_CHARS = 60
DOC_DESCRIPTION_CHARS = 2000

HEADER_NAMES = frozenset({"torch", "nn", "F", "WeightedSum", "INPUT_SHAPE", "OUTPUT_SHAPE",
                          "PROJECT_NAME", "annotations"})
# forward's own names: a layer called "logits" must not shadow forward(x, logits=...).
LOCAL_RESERVED = frozenset({"x", "self", "torch", "nn", "F", "logits"})


@dataclass(frozen=True)
class GeneratedModel:
    source: str
    class_name: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    softmax_output: bool = False  # forward(x, logits=True) skips the final softmax


def class_name_for(project_name: str) -> str:
    """'classic cnn (v2)' -> 'ClassicCnnV2'; a valid identifier that is not a header name."""
    words = re.findall(r"[A-Za-z0-9]+", project_name or "")
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name:
        name = "Model"
    if name[0].isdigit():
        name = f"Net{name}"
    if name in HEADER_NAMES or keyword.iskeyword(name):
        name = f"{name}Model"
    return checked_identifier(name, "the model class name")


def _needed(graph: GraphModel, output_id: str) -> set[str]:
    pred: dict[str, list[str]] = {}
    for e in graph.edges:
        pred.setdefault(e.dst, []).append(e.src)
    seen, stack = set(), [output_id]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(pred.get(n, ()))
    return seen


def _num(value: Any) -> str:
    """A number as Python source: ints plain, floats with repr (exact round trip).
    Only int/float/bool ever come out as text, so a parameter cannot carry code."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    value = float(value)
    if not math.isfinite(value):
        return f'float("{value!r}")'  # inf, -inf, nan: no bare names in the source
    if value.is_integer() and abs(value) < 1e16:
        return f"{value:.1f}"
    return repr(value)


def _int(value: Any) -> str:
    return repr(int(value))


def _pair_src(value: Any) -> str:
    h, w = pair(value)
    return str(h) if h == w else f"({h}, {w})"


def _word(value: str) -> str:
    """A parameter word ("same") as a string literal: plain quotes when it is a simple
    word, repr otherwise."""
    return f'"{value}"' if re.fullmatch(r"[A-Za-z0-9_]+", value) else repr(value)


def _kwargs(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs)


def _activation(name: str, inner: str, params: dict[str, Any] | None = None) -> str:
    """``inner`` wrapped in the functional form of an activation (params for standalone
    nodes; the fused ``activation`` option of Conv2d/Dense uses torch's defaults)."""
    params = params or {}
    if name in ("none", "", None):
        return inner
    if name == "relu":
        return f"F.relu({inner})"
    if name == "leaky_relu":
        slope = params.get("negative_slope", 0.01)
        return f"F.leaky_relu({inner}, negative_slope={_num(float(slope))})"
    if name == "elu":
        return f"F.elu({inner}, alpha={_num(float(params.get('alpha', 1.0)))})"
    if name == "gelu":
        return f"F.gelu({inner})"
    if name == "sigmoid":
        return f"torch.sigmoid({inner})"
    if name == "tanh":
        return f"torch.tanh({inner})"
    if name == "softmax":
        return f"F.softmax({inner}, dim=1)"
    raise ValueError(f"unknown activation {name!r}")


def _conv_ctor(in_ch: int, p: dict[str, Any]) -> str:
    args = [_int(in_ch), _int(p["out_channels"]), _pair_src(p["kernel_size"])]
    kw: list[tuple[str, str]] = []
    if pair(p["stride"]) != (1, 1):
        kw.append(("stride", _pair_src(p["stride"])))
    padding = p["padding"]
    if isinstance(padding, str):
        if padding != "valid":
            kw.append(("padding", _word(padding)))
    elif pair(padding) != (0, 0):
        kw.append(("padding", _pair_src(padding)))
    if pair(p["dilation"]) != (1, 1):
        kw.append(("dilation", _pair_src(p["dilation"])))
    if p["groups"] != 1:
        kw.append(("groups", _int(p["groups"])))
    if not p["bias"]:
        kw.append(("bias", "False"))
    return f"nn.Conv2d({', '.join(args + ([_kwargs(kw)] if kw else []))})"


def _pool_ctor(cls: str, p: dict[str, Any]) -> str:
    args = [_pair_src(p["kernel_size"])]
    kw: list[tuple[str, str]] = []
    if p["stride"] is not None:
        kw.append(("stride", _pair_src(p["stride"])))
    if pair(p["padding"]) != (0, 0):
        kw.append(("padding", _pair_src(p["padding"])))
    if p["ceil_mode"]:
        kw.append(("ceil_mode", "True"))
    return f"nn.{cls}({', '.join(args + ([_kwargs(kw)] if kw else []))})"


def _bn_ctor(channels: int, p: dict[str, Any]) -> str:
    kw: list[tuple[str, str]] = []
    if float(p["eps"]) != 1e-5:
        kw.append(("eps", _num(float(p["eps"]))))
    if float(p["momentum"]) != 0.1:
        kw.append(("momentum", _num(float(p["momentum"]))))
    if not p["affine"]:
        kw.append(("affine", "False"))
    return f"nn.BatchNorm2d({', '.join([_int(channels)] + ([_kwargs(kw)] if kw else []))})"


def _wsum_weights(p: dict[str, Any], n: int) -> list[float]:
    weights = [float(w) for w in p["weights"]]
    return weights or [1.0 / n] * n


WEIGHTED_SUM_CLASS = '''\
class WeightedSum(nn.Module):
    """sum_i w_i * x_i with fixed weights (a buffer) or learned ones (a parameter)."""

    def __init__(self, weights: list[float], learnable: bool = False) -> None:
        super().__init__()
        tensor = torch.tensor(weights, dtype=torch.float32)
        if learnable:
            self.weight = nn.Parameter(tensor)
        else:
            self.register_buffer("weight", tensor)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0] * self.weight[0]
        for i, x in enumerate(xs[1:], start=1):
            out = out + x * self.weight[i]
        return out
'''


def generate_model_source(graph: GraphModel, *, project_name: str = "Model",
                          analysis: GraphAnalysis | None = None,
                          description: str = "") -> GeneratedModel:
    """The model.py text for a valid graph; raises BuildError listing the graph's problems."""
    analysis = analysis or analyze(graph)
    if not analysis.ok or analysis.input_id is None or analysis.output_id is None:
        raise BuildError(analysis.errors or ["the network has no single input and output"])
    cls = class_name_for(project_name)
    needed = _needed(graph, analysis.output_id)
    order = [nid for nid in analysis.order if nid in needed]
    all_attrs = attribute_names(graph)
    for nid in order:  # names become attributes, locals and comments: identifiers only
        checked_identifier(graph.nodes[nid].name, "the layer name")
    attrs = {nid: checked_identifier(all_attrs[nid], "the layer attribute") for nid in order}
    consumers: dict[str, list[str]] = {nid: [] for nid in order}
    for e in graph.edges:
        if e.src in consumers and e.dst in consumers:
            consumers[e.src].append(e.dst)

    taken = set(LOCAL_RESERVED) | {cls}
    local: dict[str, str] = {}

    def var_name(nid: str) -> str:
        if nid not in local:
            base = attrs[nid]
            name = base if base not in taken else f"{base}_out"
            i = 2
            while name in taken:
                name, i = f"{base}_out{i}", i + 1
            taken.add(name)
            local[nid] = name
        return local[nid]

    # Where each value lives: "x" when only the very next step reads it.
    where: dict[str, str] = {}
    for i, nid in enumerate(order):
        nxt = order[i + 1] if i + 1 < len(order) else None
        only_next = len(consumers[nid]) == 1 and consumers[nid][0] == nxt
        if nid == analysis.output_id or only_next:
            where[nid] = "x"
        else:
            where[nid] = var_name(nid)

    init_lines: list[str] = []
    fwd_lines: list[str] = []
    uses_wsum = False
    softmax_head = False
    in_shape = analysis.nodes[analysis.input_id].output_shape
    out_shape = analysis.nodes[analysis.output_id].output_shape
    for nid in order:
        node, info = graph.nodes[nid], analysis.nodes[nid]
        p, kind, attr = info.clean_params, node.kind, attrs[nid]
        srcs = [where[e.src] for e in graph.inputs_of(nid)]
        shape = f"  # {fmt_shape(info.output_shape)}"
        target = where[nid]
        if kind == "input":
            if target != "x":
                fwd_lines.append(f"{target} = x{shape}")
            else:
                fwd_lines.append(f"# x: {fmt_shape(info.output_shape)} ({node.name})")
            continue
        in_shape0 = info.input_shapes[0]
        a = srcs[0] if srcs else "x"
        if kind == "conv2d":
            init_lines.append(f"self.{attr} = {_conv_ctor(in_shape0[0], p)}")
            expr = _activation(p["activation"], f"self.{attr}({a})")
        elif kind == "dense":
            bias = "" if p["bias"] else ", bias=False"
            init_lines.append(f"self.{attr} = nn.Linear({_int(in_shape0[0])}, {_int(p['units'])}{bias})")
            expr = _activation(p["activation"], f"self.{attr}({a})")
        elif kind in ("maxpool2d", "avgpool2d"):
            cls_name = "MaxPool2d" if kind == "maxpool2d" else "AvgPool2d"
            init_lines.append(f"self.{attr} = {_pool_ctor(cls_name, p)}")
            expr = f"self.{attr}({a})"
        elif kind == "batchnorm2d":
            init_lines.append(f"self.{attr} = {_bn_ctor(in_shape0[0], p)}")
            expr = f"self.{attr}({a})"
        elif kind == "dropout":
            init_lines.append(f"self.{attr} = nn.Dropout({_num(float(p['p']))})")
            expr = f"self.{attr}({a})"
        elif kind == "global_avgpool":
            expr = f"{a}.mean(dim=(2, 3))"
        elif kind == "flatten":
            expr = f"torch.flatten({a}, 1)"
        elif kind in ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softmax"):
            expr = _activation(kind, a, p)
        elif kind == "add":
            expr = " + ".join(srcs)
        elif kind == "average":
            expr = f"({' + '.join(srcs)}) / {len(srcs)}"
        elif kind == "concat":
            expr = f"torch.cat([{', '.join(srcs)}], dim=1)"
        elif kind == "weighted_sum":
            uses_wsum = True
            weights = ", ".join(_num(w) for w in _wsum_weights(p, len(srcs)))
            learn = ", learnable=True" if p["learnable"] else ""
            init_lines.append(f"self.{attr} = WeightedSum([{weights}]{learn})")
            expr = f"self.{attr}({', '.join(srcs)})"
        else:  # pragma: no cover - a new layer kind without an exporter
            raise ExportError(f"{node.name}: export of {kind!r} layers is not supported yet")
        if nid == analysis.output_id and _ends_in_softmax(kind, p):
            # Training losses such as cross-entropy want the scores before the softmax.
            logits_expr = a if kind == "softmax" else f"self.{attr}({a})"
            if logits_expr != "x":
                fwd_lines.append(f"x = {logits_expr}{shape}")
            fwd_lines += ["if logits:  # raw scores, for a loss that applies the softmax itself",
                          "    return x", "return F.softmax(x, dim=1)"]
            softmax_head = True
            continue
        fwd_lines.append(f"{target} = {expr}{shape}")
    if not softmax_head:
        fwd_lines.append("return x")

    shown = docstring_line(project_name, DOC_NAME_CHARS)
    doc_lines = [f"{cls}: generated by VisionStudio from the project '{shown}' (PROJECT_NAME)."]
    if description:
        doc_lines += ["", *_wrap(description[:DOC_DESCRIPTION_CHARS], 84)]
    doc_lines += [
        "",
        f"Input: N×{fmt_shape(in_shape)} images; output: N×{fmt_shape(out_shape)}.",
        "Parameter names match the app's checkpoints, so its weights load directly:",
        "",
        "    from safetensors.torch import load_file",
        "",
        f"    model = {cls}()",
        '    model.load_state_dict(load_file("weights.safetensors"))',
        "    model.eval()",
    ]
    out: list[str] = ['"""' + doc_lines[0], *doc_lines[1:], '"""', "",
                      "import torch", "import torch.nn.functional as F", "from torch import nn", "",
                      f"PROJECT_NAME = {project_name!r}",
                      f"INPUT_SHAPE = {tuple(int(d) for d in in_shape)!r}",
                      f"OUTPUT_SHAPE = {tuple(int(d) for d in out_shape)!r}", "", ""]
    if uses_wsum:
        out += [WEIGHTED_SUM_CLASS.rstrip("\n"), "", ""]
    out.append(f"class {cls}(nn.Module):")
    out.append("    def __init__(self) -> None:")
    out.append("        super().__init__()")
    out += [_fold(f"        {line}") for line in init_lines]
    out.append("")
    if softmax_head:
        out.append("    def forward(self, x: torch.Tensor, logits: bool = False) -> torch.Tensor:")
    else:
        out.append("    def forward(self, x: torch.Tensor) -> torch.Tensor:")
    out += [_fold(f"        {line}") for line in fwd_lines]
    out.append("")
    out += ["", 'if __name__ == "__main__":',
            f"    model = {cls}().eval()",
            "    print(model)",
            "    print(model(torch.zeros(2, *INPUT_SHAPE)).shape)", ""]
    source = "\n".join(out)
    checked_source(source, MODEL_FILE)  # ExportError rather than a file that does not load
    return GeneratedModel(source, cls, tuple(in_shape), tuple(out_shape), softmax_head)


def _ends_in_softmax(kind: str, p: dict[str, Any]) -> bool:
    return kind == "softmax" or (kind in ("conv2d", "dense") and p.get("activation") == "softmax")


def _wrap(text: str, width: int) -> list[str]:
    """Paragraphs of ``text`` wrapped for the docstring, each line made safe there."""
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        words, cur = docstring_line(para).split(), ""
        for w in words:
            if cur and len(cur) + 1 + len(w) > width:
                lines.append(cur)
                cur = w
            else:
                cur = f"{cur} {w}" if cur else w
        lines.append(cur)
    return lines


def _fold(line: str, width: int = 88) -> str:
    """Black-style: a too-long statement with a trailing shape comment gets the comment
    on the line above instead (comments are never wrapped by black either)."""
    if len(line) <= width or "  # " not in line:
        return line
    code, _, comment = line.rpartition("  # ")
    indent = code[: len(code) - len(code.lstrip())]
    return f"{indent}# {comment}\n{code}"
