"""Loss functions: one spec each, built for a number of classes and a device.

Every loss takes the network's output (N, C) and integer class labels (N,). Losses
that compare against a vector (MSE, L1, Huber, BCE) get the labels one-hot encoded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from visionstudio.core.params import ParamSpec
from visionstudio.core.registry import Registry

if TYPE_CHECKING:  # torch loads only when a loss is built, not when a project is read
    import torch


class LossSetupError(ValueError):
    """Loss settings that do not fit the dataset (e.g. class weights of the wrong length)."""


LossFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


@dataclass(frozen=True)
class LossSpec:
    key: str
    title: str
    description: str
    params: tuple[ParamSpec, ...]
    # factory(params, num_classes, device) -> fn(output, one_hot_or_labels) -> scalar
    factory: Callable[[dict[str, Any], int, torch.device], LossFn]
    one_hot: bool = False
    # What the loss wants from the network: "logits" (raw scores), "log_probs", "any".
    expects: str = "logits"


LOSSES: Registry[LossSpec] = Registry("loss")


def _weights(params: dict[str, Any], num_classes: int, device: torch.device) -> torch.Tensor | None:
    values = params.get("class_weights") or []
    if not values:
        return None
    if len(values) != num_classes:
        raise LossSetupError(f"class weights has {len(values)} values but the dataset has "
                             f"{num_classes} classes; give one weight per class or none")
    import torch

    return torch.tensor(values, dtype=torch.float32, device=device)


_CLASS_WEIGHTS = ParamSpec("class_weights", "float_list", [], title="class weights", minimum=0.0,
                           help="One weight per class for imbalanced data; empty for equal weights.")


def _register(spec: LossSpec, aliases: tuple[str, ...] = ()) -> LossSpec:
    return LOSSES.register(spec.key, spec, category="Loss", aliases=aliases)


def _cross_entropy(p: dict[str, Any], num_classes: int, device: torch.device) -> LossFn:
    import torch.nn.functional as F

    weight = _weights(p, num_classes, device)
    smoothing = float(p["label_smoothing"])

    def fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y, weight=weight if weight is None else weight.to(out.dtype),
                               label_smoothing=smoothing)
    return fn


def _nll(p: dict[str, Any], num_classes: int, device: torch.device) -> LossFn:
    import torch.nn.functional as F

    weight = _weights(p, num_classes, device)

    def fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.nll_loss(out, y, weight=weight if weight is None else weight.to(out.dtype))
    return fn


def _simple(fn_name: str, **kw: Any) -> Callable[..., LossFn]:
    """A loss from ``torch.nn.functional.<fn_name>`` with float settings renamed by ``kw``."""
    def factory(p: dict[str, Any], num_classes: int, device: torch.device) -> LossFn:
        import torch.nn.functional as F

        fn = getattr(F, fn_name)
        extra = {name: float(p[src]) for name, src in kw.items()}
        return lambda out, target: fn(out, target, **extra)
    return factory


_register(LossSpec(
    "cross_entropy", "Cross-entropy",
    "The standard classification loss on raw scores (logits). A final softmax is folded "
    "into it during training.",
    (ParamSpec("label_smoothing", "float", 0.0, title="label smoothing", minimum=0.0, maximum=0.99,
               help="Spread this much probability over the other classes; 0.1 often helps."),
     _CLASS_WEIGHTS),
    _cross_entropy,
), aliases=("crossentropy", "ce"))
_register(LossSpec(
    "nll", "Negative log-likelihood",
    "Classification loss on log-probabilities; a final softmax is turned into log-softmax.",
    (_CLASS_WEIGHTS,), _nll, expects="log_probs",
))
_register(LossSpec(
    "bce_with_logits", "Binary cross-entropy (logits)",
    "Independent yes/no per class on raw scores; labels are one-hot encoded.",
    (), _simple("binary_cross_entropy_with_logits"), one_hot=True,
))
_register(LossSpec(
    "mse", "Mean squared error", "Squared distance to the one-hot label vector.",
    (), _simple("mse_loss"), one_hot=True, expects="any",
))
_register(LossSpec(
    "l1", "Mean absolute error (L1)", "Absolute distance to the one-hot label vector.",
    (), _simple("l1_loss"), one_hot=True, expects="any",
))
_register(LossSpec(
    "smooth_l1", "Smooth L1", "L1 that turns quadratic below beta; labels are one-hot encoded.",
    (ParamSpec("beta", "float", 1.0, minimum=0.0, maximum=1e6,
               help="Below this distance the loss is quadratic."),),
    _simple("smooth_l1_loss", beta="beta"), one_hot=True, expects="any",
))
_register(LossSpec(
    "huber", "Huber", "Quadratic near the target, linear beyond delta; labels are one-hot encoded.",
    (ParamSpec("delta", "float", 1.0, minimum=1e-12, maximum=1e6,
               help="Distance where the loss turns from quadratic to linear."),),
    _simple("huber_loss", delta="delta"), one_hot=True, expects="any",
))


class TrainingLoss:
    """The configured loss applied to (output, labels): one-hot targets and log-softmax
    handled here, so the trainer always passes integer labels."""

    def __init__(self, key: str, params: dict[str, Any], num_classes: int,
                 device: torch.device, *, log_softmax: bool = False) -> None:
        self.spec = LOSSES.get(key)
        self.num_classes = num_classes
        self.log_softmax = log_softmax
        self._fn = self.spec.factory(params, num_classes, device)

    def __call__(self, out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        if out.dim() > 2:
            out = out.reshape(out.shape[0], -1)
        if self.log_softmax:
            out = F.log_softmax(out, dim=1)
        if self.spec.one_hot:
            target = F.one_hot(labels, out.shape[1]).to(out.dtype)
            return self._fn(out, target)
        return self._fn(out, labels)
