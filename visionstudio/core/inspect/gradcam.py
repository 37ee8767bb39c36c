"""Grad-CAM and gradient saliency, implemented with hooks (no extra dependency).

Grad-CAM (Selvaraju et al. 2017) weights a conv layer's feature maps by the mean
gradient of the target class score and keeps the positive part: where in the image
the evidence for that class lies. The class score is taken before any final
softmax, as the paper does, so saturation does not flatten the gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the viewer's module loads at start-up
    import torch
    from torch import nn

from collections.abc import Callable
from typing import Any

import numpy as np

from visionstudio.core.inspect.activations import modules_by_node


def _logits_model(model: nn.Module):
    """Forward that returns pre-softmax scores when the output layer ends in a softmax."""
    from torch import nn
    out_attr = getattr(model, "output_name", None)
    out_module = model._modules.get(out_attr) if out_attr else None
    act = getattr(out_module, "activation", None)
    if isinstance(act, nn.Softmax):
        def forward(x):
            out_module.activation = None
            try:
                return model(x)
            finally:
                out_module.activation = act
        return forward
    if isinstance(out_module, nn.Softmax):
        def forward(x):
            values = {}
            handle = out_module.register_forward_hook(lambda m, i, o: values.setdefault("in", i[0]))
            try:
                model(x)
            finally:
                handle.remove()
            return values["in"]
        return forward
    return model


def grad_cam(model: nn.Module, sample: torch.Tensor, layer: str, target: int | None = None, *,
             score: Callable[[Any], torch.Tensor] | None = None) -> tuple[np.ndarray, int]:
    """Heat-map (H×W of the input, 0..1) for ``target`` (default: predicted) at ``layer``
    (a node name; ``block1.conv1`` for a layer inside a block). ``score`` replaces the class
    score: it takes the network's output (a tuple with several heads) and returns the scalar
    to explain (a detection box, core/inspect/task_evaluation.py); ``target`` is then -1."""
    import torch
    import torch.nn.functional as F
    modules = modules_by_node(model)
    if layer not in modules:
        raise ValueError(f"no layer named {layer}")
    x = (sample if sample.dim() == 4 else sample.unsqueeze(0)).float()
    param = next(model.parameters(), None)
    x = x.to(param.device if param is not None else "cpu")
    store: dict[str, torch.Tensor] = {}

    def hook(_m, _i, out):
        if out.dim() != 4:
            raise ValueError(f"{layer} does not produce feature maps; pick a convolution layer")
        out.retain_grad()
        store["act"] = out

    handle = modules[layer].register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            scores = _logits_model(model)(x)
            if score is not None:
                value, target = score(scores), -1
            else:
                if target is None:
                    target = int(scores[0].argmax())
                value = scores[0, target]
            model.zero_grad(set_to_none=True)
            value.backward()
    finally:
        handle.remove()
        model.train(was_training)
    act = store["act"]
    grads = act.grad
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    cam = cam.detach()
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else cam
    model.zero_grad(set_to_none=True)
    return cam.cpu().numpy(), target


def saliency(model: nn.Module, sample: torch.Tensor, target: int | None = None) -> tuple[np.ndarray, int]:
    """|d score / d input| maxed over channels, scaled to 0..1 (Simonyan et al. 2014)."""
    import torch
    x = (sample if sample.dim() == 4 else sample.unsqueeze(0)).float()
    param = next(model.parameters(), None)
    x = x.to(param.device if param is not None else "cpu").clone().requires_grad_(True)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            scores = _logits_model(model)(x)
            if target is None:
                target = int(scores[0].argmax())
            scores[0, target].backward()
    finally:
        model.train(was_training)
    sal = x.grad.abs()[0].amax(dim=0)
    peak = float(sal.max())
    sal = sal / peak if peak > 0 else sal
    model.zero_grad(set_to_none=True)
    return sal.detach().cpu().numpy(), target
