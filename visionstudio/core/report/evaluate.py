"""What the trained network makes of the validation set, bounded for a report.

The run's best checkpoint (else its last) is loaded into the project's network, on the
CPU so a report never competes with a run on the GPU; at most ``max_images`` validation
images are predicted, batch-wise. The worst errors are the wrong answers given with
the most confidence; each gets its Grad-CAM at the last convolution, and the first one
its feature maps at the first convolutions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visionstudio.core.inspect.activations import capture_activations, modules_by_node
from visionstudio.core.inspect.evaluation import Evaluation, evaluate
from visionstudio.core.inspect.gradcam import grad_cam
from visionstudio.core.inspect.samples import prepare_batch, prepare_sample
from visionstudio.core.report.source import ReportError, RunSource

MAX_IMAGES = 500
WORST = 6
FEATURE_LAYERS = 2
FEATURE_CHANNELS = 8


@dataclass(frozen=True)
class WorstError:
    image: np.ndarray            # uint8 C×H×W
    label: int
    predicted: int
    confidence: float
    cam: np.ndarray | None       # H×W 0..1, None when the network has no convolution


@dataclass
class ReportEvaluation:
    evaluation: Evaluation
    checkpoint: str              # "best" / "last"
    images: int
    total_images: int
    cam_layer: str | None
    worst: list[WorstError] = field(default_factory=list)
    feature_maps: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (layer, C×H×W)
    notes: list[str] = field(default_factory=list)


def _conv_layers(model: Any) -> list[str]:
    from torch import nn
    return [name for name, m in modules_by_node(model).items()
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def _validation(source: RunSource, shape: Any, max_images: int, progress) -> tuple[Any, Any, Any]:
    import torch

    from visionstudio.core.data.base import DatasetError
    from visionstudio.core.data.registry import load_dataset

    t = source.training
    try:
        loaded = load_dataset(source.dataset, val_split=t.val_split, seed=t.seed,
                              target_shape=tuple(shape) if shape and len(shape) == 3 else None,
                              download=False, progress=progress)
    except DatasetError as exc:
        raise ReportError(f"the run's dataset cannot be loaded: {exc}") from None
    if loaded.val_images is not None:
        n = int(loaded.val_labels.numel())
        return loaded.val_images[:max_images], loaded.val_labels[:max_images], (loaded, n)
    ds = loaded.val_dataset
    n = len(ds) if ds is not None else 0
    items = [ds[i] for i in range(min(n, max_images))]
    if not items:
        raise ReportError("the run's dataset has no validation images to evaluate on")
    images = torch.stack([torch.as_tensor(x) for x, _ in items])
    labels = torch.tensor([int(y) for _, y in items], dtype=torch.int64)
    return images, labels, (loaded, n)


def _model(source: RunSource) -> tuple[Any, str]:
    from visionstudio.core.build import BuildError, build_model
    from visionstudio.core.training.checkpoint import CheckpointError
    from visionstudio.core.training.checkpoint_fit import load_weights

    try:
        model = build_model(source.document.graph, seed=source.training.seed)
    except BuildError as exc:
        raise ReportError(f"the network cannot be built: {exc}") from None
    for kind in ("best", "last"):
        path = source.folder / "checkpoints" / kind
        if path.is_dir():
            try:
                load_weights(path, model)
            except CheckpointError as exc:
                raise ReportError(f"the {kind} checkpoint of {source.run_name} does not fit the "
                                  f"project's network: {exc}") from None
            return model.cpu().eval(), kind
    raise ReportError(f"{source.run_name} has no checkpoint to evaluate")


def evaluate_run(source: RunSource, *, max_images: int = MAX_IMAGES, worst: int = WORST,
                 progress: Callable[[str, float], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> ReportEvaluation:
    """Evaluate the run's checkpoint on (at most ``max_images`` of) its validation set."""
    model, kind = _model(source)
    from visionstudio.core.graph import analyze
    shape = analyze(source.document.graph).input_shape
    images, labels, (loaded, total) = _validation(source, shape, max_images, progress)
    names = list(source.class_names or loaded.class_names)
    mean, std = loaded.mean, loaded.std
    ev = evaluate(model, images, labels, names, prepare=lambda b: prepare_batch(b, mean, std),
                  batch_size=64, cancel=cancel,
                  progress=(lambda f: progress("Evaluating", f)) if progress else None)
    convs = _conv_layers(model)
    out = ReportEvaluation(ev, kind, len(labels), total, convs[-1] if convs else None)
    if len(labels) < total:
        out.notes.append(f"Evaluated on the first {len(labels):,} of {total:,} validation images.")
    wrong = np.flatnonzero(ev.predictions != ev.labels)
    order = wrong[np.argsort(-ev.confidences[wrong], kind="stable")][:worst]
    for i in order:
        image = images[int(i)].cpu().numpy()
        cam = None
        if out.cam_layer is not None:
            cam, _ = grad_cam(model, prepare_sample(image, mean, std), out.cam_layer,
                              target=int(ev.predictions[i]))
        out.worst.append(WorstError(image, int(ev.labels[i]), int(ev.predictions[i]),
                                    float(ev.confidences[i]), cam))
    first = images[int(order[0])] if len(order) else (images[0] if len(images) else None)
    if first is not None and convs:
        acts, _ = capture_activations(model, prepare_sample(first.cpu().numpy(), mean, std),
                                      convs[:FEATURE_LAYERS])
        out.feature_maps = [(n, acts[n].array[:FEATURE_CHANNELS]) for n in convs[:FEATURE_LAYERS]
                            if n in acts and acts[n].is_image]
    return out
