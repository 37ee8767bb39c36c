"""Fit the network's head to the loss: the Keras habit of ending in softmax.

Cross-entropy wants raw scores, so a final softmax (a Softmax node, or a Dense/Conv2d
with ``activation='softmax'`` as the output) is removed from a *training view* of the
model that shares all parameters; the original keeps it for prediction. For NLL the
softmax becomes a log-softmax inside the loss. A final LogSoftmax node already gives
what NLL expects and is kept for it; cross-entropy gets the scores before it (its own
log-softmax of log-probabilities would give the same loss, computed twice).
"""

from __future__ import annotations

import copy

from torch import nn

from visionstudio.core.training.losses import LOSSES


def _output_softmax(model: nn.Module) -> tuple[str, str] | None:
    """(attribute, "node"|"activation"|"log_node") when the model's output ends in a
    softmax or a LogSoftmax node."""
    name = getattr(model, "output_name", None)
    if name is None:
        return None
    module = model._modules.get(name)
    if isinstance(module, nn.Softmax):
        return name, "node"
    if isinstance(module, nn.LogSoftmax):
        return name, "log_node"
    if isinstance(getattr(module, "activation", None), nn.Softmax):
        return name, "activation"
    return None


def _label(model: nn.Module, attr: str) -> str:
    return getattr(model, "node_names", {}).get(attr, attr)


def training_view(model: nn.Module, loss_key: str) -> tuple[nn.Module, bool, list[str]]:
    """(model to train, apply log-softmax in the loss, notes for the user).

    The returned module shares every parameter and buffer with ``model``.
    """
    spec = LOSSES.get(loss_key)
    found = _output_softmax(model)
    notes: list[str] = []
    if found is None:
        if spec.expects == "log_probs":
            notes.append(f"{spec.title} expects log-probabilities but the network ends without a "
                         "softmax; the loss is applied to its raw outputs.")
        return model, False, notes
    attr, where = found
    label = _label(model, attr)
    final = "LogSoftmax" if where == "log_node" else "softmax"
    if spec.expects == "any" or (where == "log_node" and spec.expects == "log_probs"):
        return model, False, notes
    if spec.key == "bce_with_logits":
        notes.append(f"{label} ends in a {final} but {spec.title} expects raw scores; consider "
                     f"removing the {final} or using cross-entropy.")
        return model, False, notes
    view = copy.copy(model)
    view._modules = dict(model._modules)
    if where in ("node", "log_node"):
        view._modules[attr] = nn.Identity()
    else:
        head = copy.copy(model._modules[attr])
        head._modules = dict(head._modules)
        head._modules["activation"] = None
        view._modules[attr] = head
    if spec.expects == "log_probs":
        notes.append(f"The final softmax of {label} is applied as a log-softmax inside the "
                     f"{spec.title} loss during training (numerically stable); predictions "
                     "still use the softmax.")
        return view, True, notes
    notes.append(f"The final {final} of {label} is folded into the {spec.title} loss during "
                 f"training (the loss expects raw scores); predictions still use the {final}.")
    return view, False, notes
