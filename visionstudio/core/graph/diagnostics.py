"""What to do about each problem the analysis finds: the hint under its message.

A message says what is wrong ("add1: inputs have different shapes ..."); its hint says
what to change, naming the layers where the rule alone cannot (which branch, which
conv). Shape rules give their own hint with the ShapeError; the ones here need the
graph around the node.
"""

from __future__ import annotations

from visionstudio.core.graph.model import Edge, GraphModel, Node
from visionstudio.core.layers import LAYERS, LayerSpec, Shape, fmt_shape
from visionstudio.core.params import pair

DANGLING = ("the project file was changed outside VisionStudio; connect the layers again "
            "from port to port and save")
CYCLE = "delete one of the connections that leads back to an earlier layer (click it, then press Delete)"
DUPLICATE_NAME = "select one of them and type a new name in the inspector's Name field"
UNKNOWN_KIND = ("this layer comes from a newer VisionStudio or a plugin that is not installed; "
                "delete it and add a layer from the palette in its place")
NO_INPUT = "drag an Input from the palette onto the canvas and connect it to the first layer"
SEVERAL_INPUTS = "keep one Input, delete the others, and feed every branch from that one"
NOT_CONNECTED = "drag from the output port of the layer before it to this layer's input port"
MERGE_NEEDS_MORE = "connect each branch to join to this layer: it combines two or more layers' outputs"
SEVERAL_OUTPUTS = ("connect all outputs but one onward (for example into an Add or Concat), "
                   "or delete the layers that lead nowhere")
ONLY_INPUT = "double-click a layer in the palette to add it after the Input"
INPUT_UNUSED = "connect it to the first layer of the network, or delete it"
SIZE_GONE = ("the image has shrunk to nothing here: use a smaller kernel or stride, add padding, "
             "or remove a pooling layer before it")


def too_many_inputs(spec: LayerSpec) -> str:
    return (f"a {spec.title} takes one input: delete the extra connections, or join the branches "
            "first with an Add or Concat")


def param_hint(spec: LayerSpec, message: str) -> str:
    """Where to correct a parameter, with its help text when the message names it."""
    for p in spec.params:
        if message.startswith(p.label):
            help_text = f": {p.help[0].lower()}{p.help[1:].rstrip('.')}" if p.help else ""
            return f"set {p.label} of this layer in the inspector{help_text}"
    return "correct the value in the inspector"


def shape_hint(graph: GraphModel, node: Node, spec: LayerSpec, edges_in: list[Edge],
               in_shapes: list[Shape], rule_hint: str) -> str:
    """The hint for a shape rule's refusal; for a merge, naming the branches."""
    if spec.is_merge and len(in_shapes) > 1 and all(len(s) == 3 for s in in_shapes):
        merged = _merge_hint(graph, spec, edges_in, in_shapes)
        if merged:
            return merged
    if rule_hint:
        return rule_hint
    shapes = " and ".join(fmt_shape(s) for s in in_shapes) or "nothing"
    return (f"it receives {shapes}; change the layers before it or this layer's settings "
            "so they fit (select a layer to see its output shape)")


# Layers that keep their input's shape: a walk from a merge back to the conv that set a
# branch's size, or from the output back to the last Dense, passes through them.
SHAPE_KEEPING_CATEGORIES = frozenset({"Activation", "Regularization", "Normalization"})
WALK_LIMIT = 16


def keeps_shape(kind: str) -> bool:
    if kind not in LAYERS:
        return False
    spec = LAYERS.get(kind)
    return spec.category in SHAPE_KEEPING_CATEGORIES or spec.extra.get("keeps_shape", False)


def walk_up_to(graph: GraphModel, start: str | None, kind: str) -> str | None:
    """The first layer of ``kind`` at ``start`` or up a chain of single-input
    shape-keeping layers from it (the conv that sets a branch's size, the Dense under
    a Softmax); None when the chain holds none."""
    nid = start
    for _ in range(WALK_LIMIT):
        node = graph.nodes.get(nid) if nid is not None else None
        if node is None:
            return None
        if node.kind == kind:
            return nid
        ins = graph.inputs_of(nid)
        if not keeps_shape(node.kind) or len(ins) != 1:
            return None
        nid = ins[0].src
    return None


def _shrinks(node: Node) -> bool:
    """A stride-1 conv whose padding makes its output smaller than its input ('same' would not)."""
    p = node.params
    padding = p.get("padding", 0)
    if padding == "same" or pair(p.get("stride", 1)) != (1, 1):
        return False
    kh, kw = pair(p.get("kernel_size", 3))
    dh, dw = pair(p.get("dilation", 1))
    ph, pw = (0, 0) if padding == "valid" else pair(padding)
    return (2 * ph, 2 * pw) != (dh * (kh - 1), dw * (kw - 1))


def _merge_hint(graph: GraphModel, spec: LayerSpec, edges_in: list[Edge], shapes: list[Shape]) -> str:
    """"make every branch end with the same channels and size: insert a 1×1 Conv2d with
    32 filters on the 64-channel branch (after relu2); match the padding: ..." — the
    branches are matched to the most common shape (the first one on a tie)."""
    ref = max(shapes, key=lambda s: (shapes.count(s), -shapes.index(s)))
    steps: list[str] = []
    broadcasts = spec.extra.get("broadcasts", False)  # Multiply/Maximum stretch a size of 1
    for edge, shape in zip(edges_in, shapes, strict=True):
        if shape[0] != ref[0] and spec.key != "concat" and not (broadcasts and 1 in (shape[0], ref[0])):
            src = graph.nodes[edge.src].name if edge.src in graph.nodes else "?"
            steps.append(f"insert a 1×1 Conv2d with {ref[0]} filters on the {shape[0]}-channel "
                         f"branch (after {src})")
    sizes = {s[1:] for s in shapes if not (broadcasts and s[1:] == (1, 1))}
    if len(sizes) > 1:
        convs = dict.fromkeys(walk_up_to(graph, e.src, "conv2d") for e in edges_in)
        shrinking = [graph.nodes[c].name for c in convs if c is not None and _shrinks(graph.nodes[c])]
        listed = " and ".join(f"{s[0]}×{s[1]}" for s in sorted(sizes, reverse=True))
        if shrinking:
            steps.append(f"match the padding: the sizes differ ({listed}); padding 'same' on "
                         f"{' or '.join(shrinking)} keeps its input's size")
        else:
            steps.append(f"match the sizes ({listed}): use the same strides, pooling and padding on "
                         "every branch")
    if not steps:
        return ""
    what = "height and width" if spec.key == "concat" else "channels and size"
    return f"make every branch end with the same {what}: " + "; ".join(steps)
