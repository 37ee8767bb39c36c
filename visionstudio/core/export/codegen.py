"""Graph -> readable PyTorch source: one ``nn.Module`` class that imports only torch.

The generated class names its layers after the graph's nodes with the builder's
``attribute_name`` rule, so its state-dict keys are the app model's keys, one for one:
a safetensors file saved from the app loads with ``strict=True`` and gives bit-identical
outputs. ``forward`` follows the builder's topological order; a value that feeds only
the next line stays in ``x``, every other one gets the name of the node that made it.
Each line carries the tensor's shape as a comment (``# 32×26×26``). What a node writes
comes from its kind's own emitter (``LayerSpec.emit``, next to its shape rule and
builder); this module only names the values and arranges the lines.

Project text is untrusted (see source_check.py): the name enters the file as the literal
``PROJECT_NAME = repr(name)``, layer names only after ``checked_identifier``, the
docstring only through ``docstring_line``; the finished text is compiled before it is
returned, so a project cannot make ``import model`` run anything or make the export
write invalid Python.

A network with several heads gets a forward that returns a tuple, one tensor per head
in the app's order (the heads' names sorted); the docstring lists which is which, and
``HEAD_NAMES`` / ``OUTPUT_SHAPE`` (a tuple of shapes then) say it in code.
"""

from __future__ import annotations

import keyword
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from visionstudio.core.build import BuildError, attribute_names, head_targets
from visionstudio.core.export.block_code import BlockClasses
from visionstudio.core.export.source_check import checked_identifier, checked_source, docstring_line
from visionstudio.core.export.transfer_source import transfer_lines
from visionstudio.core.graph import GraphAnalysis, GraphModel, analyze
from visionstudio.core.layers import LAYERS, Emitted, LayerCode, LayerSpec, fmt_shape
from visionstudio.core.layers.block_ports import BLOCK

MODEL_FILE = "model.py"
DEFAULT_PROJECT_NAME = "Untitled"   # ProjectDocument's name until the user gives one
# How much of a long name / description the docstring shows (PROJECT_NAME keeps all).
DOC_NAME_CHARS = 60
DOC_DESCRIPTION_CHARS = 2000

# Names model.py defines at the top besides the layers' helper classes.
MODULE_NAMES = frozenset({"torch", "nn", "F", "INPUT_SHAPE", "OUTPUT_SHAPE", "PROJECT_NAME",
                          "annotations", "FROZEN", "LR_MULTIPLIERS", "HEAD_NAMES"})
# forward's own names: a layer called "logits" must not shadow forward(x, logits=...).
LOCAL_RESERVED = frozenset({"x", "self", "torch", "nn", "F", "logits"})


@dataclass(frozen=True)
class GeneratedModel:
    source: str
    class_name: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]            # the first output's (the only one's)
    softmax_output: bool = False  # forward(x, logits=True) skips the final softmax
    head_names: tuple[str, ...] = ()         # with several heads: forward's tuple, in order
    output_shapes: tuple[tuple[int, ...], ...] = ()


@dataclass
class _Body:
    """The class body being written: __init__ lines, forward lines, helper classes."""

    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    helpers: dict[str, str] = field(default_factory=dict)
    softmax_head: bool = False


def header_names() -> frozenset[str]:
    """Every top-level name model.py may define, which the class name must not take."""
    helpers = {name for _, spec in LAYERS.items() for name, _ in spec.code_helpers}
    return MODULE_NAMES | helpers


def export_name(project_name: str, project_path: str | os.PathLike[str] | None = None) -> str:
    """The name an export carries: the project's own, or the file's for a saved project
    still called by the default (``/x/mnist-net.vsproj`` -> 'mnist-net', not 'Untitled')."""
    name = (project_name or "").strip()
    if project_path and name in ("", DEFAULT_PROJECT_NAME):
        return Path(project_path).stem or name
    return project_name


def class_name_for(project_name: str) -> str:
    """'classic cnn (v2)' -> 'ClassicCnnV2'; a valid identifier that is not a header name,
    'Network' when the name has no letters or digits to make one from."""
    words = re.findall(r"[A-Za-z0-9]+", project_name or "")
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name:
        name = "Network"
    if name[0].isdigit():
        name = f"Net{name}"
    if name in header_names() or keyword.iskeyword(name):
        name = f"{name}Model"
    return checked_identifier(name, "the model class name")


def emitted_for(spec: LayerSpec, code: LayerCode) -> Emitted:
    """The node's lines, from its kind's own emitter (the one place codegen asks for them)."""
    return spec.emit(code)


def _value_names(graph: GraphModel, analysis: GraphAnalysis, order: list[str],
                 attrs: dict[str, str], cls: str) -> dict[str, str]:
    """Where each value lives in forward: "x" when only the very next step reads it
    (and for the output), else a local named after its node."""
    consumers: dict[str, list[str]] = {nid: [] for nid in order}
    for e in graph.edges:
        if e.src in consumers and e.dst in consumers:
            consumers[e.src].append(e.dst)
    taken = set(LOCAL_RESERVED) | {cls}
    where: dict[str, str] = {}
    single = analysis.output_ids[0] if len(analysis.output_ids) == 1 else None
    for i, nid in enumerate(order):
        nxt = order[i + 1] if i + 1 < len(order) else None
        if nid == single or (consumers[nid] == [nxt] and nid not in analysis.output_ids):
            where[nid] = "x"
            continue
        base = attrs[nid]
        name, n = (base if base not in taken else f"{base}_out"), 2
        while name in taken:
            name, n = f"{base}_out{n}", n + 1
        taken.add(name)
        where[nid] = name
    return where


def _node_lines(body: _Body, graph: GraphModel, analysis: GraphAnalysis, nid: str,
                attr: str, where: dict[str, str], blocks: BlockClasses) -> None:
    node, info = graph.nodes[nid], analysis.nodes[nid]
    spec = LAYERS.get(node.kind)
    code = LayerCode(module=f"self.{attr}", args=tuple(where[e.src] for e in graph.inputs_of(nid)),
                     inputs=tuple(info.input_shapes), params=info.clean_params)
    # A block instance constructs its definition's class (block_code.py writes the classes).
    emitted = blocks.emitted(graph, analysis, nid, code) if node.kind == BLOCK else emitted_for(spec, code)
    shape, target = f"  # {fmt_shape(info.output_shape)}", where[nid]
    if spec.is_source:
        body.forward.append(f"{target} = {emitted.expr}{shape}" if target != emitted.expr
                            else f"# {target}: {fmt_shape(info.output_shape)} ({node.name})")
        return
    if emitted.init is not None:
        body.init.append(f"self.{attr} = {emitted.init}")
    body.helpers.update(spec.code_helpers)
    if len(analysis.output_ids) == 1 and nid == analysis.output_id and emitted.logits is not None:
        # Training losses such as cross-entropy want the scores before the softmax.
        if emitted.logits != "x":
            body.forward.append(f"x = {emitted.logits}{shape}")
        body.forward += ["if logits:  # raw scores, for a loss that applies the softmax itself",
                         "    return x", "return F.softmax(x, dim=1)"]
        body.softmax_head = True
        return
    body.forward.append(f"{target} = {emitted.expr}{shape}")


def _class_body(graph: GraphModel, analysis: GraphAnalysis, cls: str, blocks: BlockClasses) -> _Body:
    """__init__ and forward for the nodes the output needs, in the builder's order."""
    needed: set[str] = set()  # a dangling branch is left out
    for output_id in analysis.output_ids:
        needed |= graph.reachable_from(output_id, upstream=True)
    order = [nid for nid in analysis.order if nid in needed]
    all_attrs = attribute_names(graph)
    for nid in order:  # names become attributes, locals and comments: identifiers only
        checked_identifier(graph.nodes[nid].name, "the layer name")
    attrs = {nid: checked_identifier(all_attrs[nid], "the layer attribute") for nid in order}
    where = _value_names(graph, analysis, order, attrs, cls)
    body = _Body()
    for nid in order:
        _node_lines(body, graph, analysis, nid, attrs[nid], where, blocks)
    if len(analysis.output_ids) > 1:
        body.forward.append(f"return {', '.join(where[nid] for nid in analysis.output_ids)}")
    elif not body.softmax_head:
        body.forward.append("return x")
    return body


def _outputs_text(heads: list[tuple[str, str, tuple[int, ...]]], out_shape) -> list[str]:
    """The docstring's lines on what forward returns: one shape, or the heads in order."""
    if len(heads) <= 1:
        return [f"output: N×{fmt_shape(out_shape)}."]
    lines = ["forward returns a tuple, one tensor per head, in this order:"]
    lines += [f"    {i}: {name} ({target}): N×{fmt_shape(shape)}"
              for i, (name, target, shape) in enumerate(heads)]
    return lines


def _docstring(cls: str, project_name: str, description: str, in_shape, out_shape,
               heads: list[tuple[str, str, tuple[int, ...]]]) -> list[str]:
    shown = docstring_line(project_name, DOC_NAME_CHARS)
    lines = [f"{cls}: generated by VisionStudio from the project '{shown}' (PROJECT_NAME)."]
    if description:
        lines += ["", *_wrap(description[:DOC_DESCRIPTION_CHARS], 84)]
    outputs = _outputs_text(heads, out_shape)
    lines += [
        "",
        f"Input: N×{fmt_shape(in_shape)} images; {outputs[0]}",
        *outputs[1:],
        "Parameter names match the app's checkpoints, so its weights load directly:",
        "",
        "    from safetensors.torch import load_file",
        "",
        f"    model = {cls}()",
        '    model.load_state_dict(load_file("weights.safetensors"))',
        "    model.eval()",
    ]
    return ['"""' + lines[0], *lines[1:], '"""']


def _module_text(cls: str, project_name: str, description: str, in_shape, out_shape,
                 body: _Body, transfer: list[str], heads: list[tuple[str, str, tuple[int, ...]]]) -> str:
    several = len(heads) > 1
    shapes = tuple(shape for _, _, shape in heads) if several else tuple(int(d) for d in out_shape)
    out = [*_docstring(cls, project_name, description, in_shape, out_shape, heads), "",
           "import torch", "import torch.nn.functional as F", "from torch import nn", "",
           f"PROJECT_NAME = {project_name!r}",
           f"INPUT_SHAPE = {tuple(int(d) for d in in_shape)!r}",
           *([f"HEAD_NAMES = {tuple(name for name, _, _ in heads)!r}"] if several else []),
           f"OUTPUT_SHAPE = {shapes!r}", *transfer, "", ""]
    for helper in body.helpers.values():
        out += [helper.rstrip("\n"), "", ""]
    out += [f"class {cls}(nn.Module):", "    def __init__(self) -> None:", "        super().__init__()"]
    out += [_fold(f"        {line}") for line in body.init]
    out.append("")
    logits_arg = ", logits: bool = False" if body.softmax_head else ""
    returns = "tuple[torch.Tensor, ...]" if several else "torch.Tensor"
    out.append(f"    def forward(self, x: torch.Tensor{logits_arg}) -> {returns}:")
    out += [_fold(f"        {line}") for line in body.forward]
    shown = ("[y.shape for y in model(torch.zeros(2, *INPUT_SHAPE))]" if several
             else "model(torch.zeros(2, *INPUT_SHAPE)).shape")
    out += ["", "", 'if __name__ == "__main__":', f"    model = {cls}().eval()", "    print(model)",
            f"    print({shown})", ""]
    return "\n".join(out)


def generate_model_source(graph: GraphModel, *, project_name: str = "Model",
                          analysis: GraphAnalysis | None = None,
                          description: str = "") -> GeneratedModel:
    """The model.py text for a valid graph; raises BuildError listing the graph's problems."""
    analysis = analysis or analyze(graph)
    if not analysis.ok or analysis.input_id is None or analysis.output_id is None:
        raise BuildError(analysis.errors or ["the network has no single input and output"])
    cls = class_name_for(project_name)
    blocks = BlockClasses(graph, analysis, set(header_names()) | {cls})
    body = _class_body(graph, analysis, cls, blocks)
    body.helpers.update(blocks.sources())
    in_shape = analysis.nodes[analysis.input_id].output_shape
    out_shape = analysis.nodes[analysis.output_id].output_shape
    heads = [(checked_identifier(graph.nodes[nid].name, "the layer name"), target,
              tuple(int(d) for d in analysis.nodes[nid].output_shape))
             for nid, target in zip(analysis.output_ids, head_targets(graph, analysis))]
    source = _module_text(cls, project_name, description, in_shape, out_shape, body, transfer_lines(graph),
                          heads)
    checked_source(source, MODEL_FILE)  # ExportError rather than a file that does not load
    several = len(heads) > 1
    return GeneratedModel(source, cls, tuple(in_shape), tuple(out_shape), body.softmax_head,
                          tuple(name for name, _, _ in heads) if several else (),
                          tuple(shape for _, _, shape in heads) if several else ())


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
    on the line above instead (comments are never wrapped by black either), and a call
    still too long gets its arguments on a line of their own."""
    if len(line) <= width:
        return line
    indent = line[: len(line) - len(line.lstrip())]
    if "  # " in line:
        code, _, comment = line.rpartition("  # ")
        return f"{indent}# {comment}\n{_fold(code, width)}"
    head, paren, args = line.partition("(")
    if not paren or not args.endswith(")") or len(indent) + 4 + len(args) - 1 > width:
        return line
    return f"{head}(\n{indent}    {args[:-1]}\n{indent})"
