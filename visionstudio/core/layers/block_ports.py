"""The kinds that exist only to give a block its shape: a block's input ports, its
output, and the instance node that stands for a block on the canvas.

Their shapes come from the graph around them, not from their parameters, so the
analysis (core.graph.analysis) handles them itself: a ``block_input`` is seeded with
the shape its instance receives on that port, a ``block`` instance runs the analysis
of its definition. Their ``infer`` therefore only explains that they cannot be
inferred alone. They are category "Blocks", which the ordinary palette leaves out.
"""

from __future__ import annotations

from visionstudio.core.layers.base import Emitted, LayerCode, LayerSpec, Params, Shape, ShapeError, register
from visionstudio.core.params import ParamSpec

BLOCKS_CATEGORY = "Blocks"
BLOCK_INPUT = "block_input"
BLOCK_OUTPUT = "block_output"
BLOCK = "block"
BLOCK_KINDS = frozenset((BLOCK_INPUT, BLOCK_OUTPUT, BLOCK))


def _input_infer(inputs: list[Shape], p: Params) -> Shape:
    raise ShapeError("a block input takes its shape from the block's instance",
                     hint="use the block on a network: its instance gives each input its shape")


def _instance_infer(inputs: list[Shape], p: Params) -> Shape:
    raise ShapeError("a block's shape comes from its definition",
                     hint="analyse the whole network: the block's definition decides its output")


def _input_emit(code: LayerCode) -> Emitted:
    # The block class's forward(x, x1, x2...) receives its ports under these names.
    index = int(code.params.get("index", 0))
    return Emitted("x" if index == 0 else f"x{index}")


BLOCK_INPUT_SPEC = register(LayerSpec(
    key=BLOCK_INPUT, title="Block input", category=BLOCKS_CATEGORY,
    description="One input port of a block: inside the block it stands for the value "
                "that enters the instance on this port.",
    params=(
        ParamSpec("index", "int", 0, minimum=0, maximum=1023, key=True,
                  help="Which input of the block this is (0 is the first)."),
    ),
    infer=_input_infer, build=lambda inputs, p: None, emit=_input_emit,
    summary=lambda p: f"port {p['index']}",
    name_prefix="block_in", min_inputs=0, max_inputs=0, icon="input",
))

BLOCK_OUTPUT_SPEC = register(LayerSpec(
    key=BLOCK_OUTPUT, title="Block output", category=BLOCKS_CATEGORY,
    description="The block's output: what its one input receives leaves the instance.",
    params=(),
    infer=lambda inputs, p: inputs[0], build=lambda inputs, p: None,
    emit=lambda code: Emitted(code.arg),
    name_prefix="block_out", min_inputs=1, max_inputs=1, icon="output",
))

BLOCK_SPEC = register(LayerSpec(
    key=BLOCK, title="Block", category=BLOCKS_CATEGORY,
    description="An instance of a block: a reusable group of layers defined once in the "
                "project; editing the definition changes every instance.",
    params=(
        ParamSpec("block", "str", "", help="The key of the block's definition in the project."),
    ),
    infer=_instance_infer,
    # Built by core.build from the definition (a BlockModule); the exporter writes the
    # definition's class and constructs it, so the emitter only calls it.
    build=lambda inputs, p: None,
    emit=lambda code: Emitted(code.call()),
    summary=lambda p: str(p.get("block", "")),
    name_prefix="block", min_inputs=1, max_inputs=None, icon="block",
))
