"""The Output layer: the end of one head of the network, and what that head feeds.

A network without Output layers has one plain output, trained with the project's loss
(today's classification networks). With Output layers every end of the network is one,
and each names its target (the class scores, the regression values or the box), the loss
that compares it with that target and the loss's weight in the run's total. The layer
itself computes nothing: it passes its input on, so the trained weights and the exported
model are the same with or without it.

The loss must fit the target (class scores take cross-entropy or NLL, numbers take a
distance loss); a mismatch is a problem on the node, found by the shape rule so the canvas
shows it while the user edits.
"""

from __future__ import annotations

from visionstudio.core.layers.base import Emitted, LayerSpec, Params, Shape, ShapeError, register
from visionstudio.core.params import ParamSpec

# Losses per target, the usual one first (keys of core.training.losses' registry).
TARGET_LOSSES: dict[str, tuple[str, ...]] = {
    "class": ("cross_entropy", "nll"),
    "values": ("mse", "l1", "huber", "smooth_l1"),
    "box": ("smooth_l1", "l1", "mse", "huber"),
}
LOSS_TITLES = {"cross_entropy": "cross-entropy", "nll": "NLL", "mse": "MSE", "l1": "L1",
               "huber": "Huber", "smooth_l1": "smooth L1"}
ALL_LOSSES = ("cross_entropy", "nll", "mse", "l1", "huber", "smooth_l1")


def _infer(inputs: list[Shape], p: Params) -> Shape:
    fitting = TARGET_LOSSES[p["target"]]
    if p["loss"] not in fitting:
        names = " or ".join(LOSS_TITLES[k] for k in fitting)
        raise ShapeError(
            f"the {LOSS_TITLES[p['loss']]} loss does not fit the {p['target']} target; use {names}",
            hint=f"set its loss to {LOSS_TITLES[fitting[0]]}, or change its target",
        )
    return inputs[0]


def _build(inputs: list[Shape], p: Params):
    from torch import nn  # late: torch loads only when a model is built

    return nn.Identity()


def _summary(p: Params) -> str:
    weight = float(p["weight"])
    text = f"→ {p['target']} · {LOSS_TITLES.get(p['loss'], p['loss'])}"
    return text if weight == 1.0 else f"{text} × {weight:g}"


OUTPUT = register(LayerSpec(
    key="output", title="Output", category="Output",
    description="Ends one head of the network: names the target it is trained on, the loss "
                "comparing it with that target and the loss's weight. Passes its input on "
                "unchanged; a network may have several (e.g. a class head and a box head).",
    params=(
        ParamSpec("target", "choice", "class", choices=("class", "values", "box"), key=True,
                  help="What this head predicts: class scores (one per class, raw logits), the "
                       "dataset's target values (one number each) or the object's box (centre x, "
                       "y, width, height as fractions of the image)."),
        ParamSpec("loss", "choice", "cross_entropy", choices=ALL_LOSSES, key=True,
                  help="How this head's output is compared with its target: cross-entropy or NLL "
                       "for class scores; MSE, L1, Huber or smooth L1 for values and boxes."),
        ParamSpec("weight", "float", 1.0, minimum=0.0, maximum=1000.0,
                  help="This head's share of the total loss: its loss is multiplied by the "
                       "weight before the heads' losses are added."),
    ),
    infer=_infer,
    build=_build,
    emit=lambda code: Emitted(code.call(), init="nn.Identity()"),
    summary=_summary,
    name_prefix="head",
    icon="output",
    is_head=True,
    extra={"keeps_shape": True},
))
