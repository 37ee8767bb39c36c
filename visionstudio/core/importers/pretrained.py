"""Start from a pretrained torchvision network: its weights, what they expect, the import.

The catalogue is torchvision's own weights enums, read offline (parameters, file size,
reference accuracy, preprocessing: ``weights.meta`` and ``weights.transforms()``). The
file is torch's hub-cache file (``hub_download``); it is read with
``torch.load(weights_only=True)`` only, so a file that holds anything but tensors is
refused instead of unpickled, and every tensor's name, shape and type is checked
against the architecture before one is loaded. The import itself is the ordinary
torchvision import (``torch_fx.import_module``) of the architecture with these weights
loaded, so the imported project computes what torchvision's pretrained model computes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from visionstudio.core.data.preprocessing import Preprocessing, from_transforms
from visionstudio.core.importers.hub_download import Progress, cached_file, download, manual_message
from visionstudio.core.importers.result import ImportProblem, ImportResult
from visionstudio.core.importers.torch_sources import TORCHVISION_PREFIX, torchvision_architectures

# The welcome page's cards: small to large, each imported and compared by the tests.
FEATURED = ("mobilenet_v3_small", "squeezenet1_1", "resnet18", "mobilenet_v2", "efficientnet_b0",
            "regnet_y_400mf", "resnet50")
SEPARATOR = "@"


@dataclass(frozen=True)
class PretrainedWeights:
    architecture: str
    name: str                    # IMAGENET1K_V1
    title: str                   # ResNet18_Weights.IMAGENET1K_V1
    url: str
    num_params: int
    file_mb: float
    acc1: float | None           # reference top-1 accuracy, % (None: not published)
    acc5: float | None
    trained_on: str              # ImageNet-1K
    classes: int
    preprocessing: Preprocessing

    @property
    def path(self) -> Path:
        return cached_file(self.url)

    def is_downloaded(self) -> bool:
        return self.path.is_file()


def _entry(architecture: str, weights: Any) -> PretrainedWeights:
    meta = weights.meta
    metrics = meta.get("_metrics") or {}
    trained_on, figures = next(iter(metrics.items()), ("", {}))
    title = f"{type(weights).__name__}.{weights.name}"
    acc1, acc5 = figures.get("acc@1"), figures.get("acc@5")
    return PretrainedWeights(architecture, weights.name, title, weights.url, int(meta.get("num_params", 0)),
                             float(meta.get("_file_size", 0.0)),
                             None if acc1 is None else float(acc1), None if acc5 is None else float(acc5),
                             trained_on, len(meta.get("categories") or ()),
                             from_transforms(title, weights.transforms()))


def available_weights(architecture: str) -> list[PretrainedWeights]:
    """Every pretrained set torchvision publishes for ``architecture`` (none: [])."""
    import torchvision

    if architecture not in torchvision_architectures():
        raise ImportProblem(f"{TORCHVISION_PREFIX}{architecture[:60]}: torchvision has no classification "
                            "model of that name")
    enum = torchvision.models.get_model_weights(architecture)
    return [_entry(architecture, w) for w in enum]


def find_weights(architecture: str, name: str | None = None) -> PretrainedWeights:
    """``name`` of the enum (IMAGENET1K_V1); None or DEFAULT: the one torchvision recommends."""
    import torchvision

    entries = available_weights(architecture)
    if not entries:
        raise ImportProblem(f"{TORCHVISION_PREFIX}{architecture}: torchvision publishes no pretrained "
                            "weights for it")
    if name in (None, "DEFAULT"):
        name = torchvision.models.get_model_weights(architecture).DEFAULT.name
    for entry in entries:
        if entry.name == name:
            return entry
    raise ImportProblem(f"{TORCHVISION_PREFIX}{architecture}: no pretrained weights named {str(name)[:60]!r} "
                        f"(there are {', '.join(e.name for e in entries)})")


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """A file of named tensors and nothing else (weights_only: no object is unpickled)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged file or one holding objects is refused in one sentence
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ImportProblem(f"{path}: is not a file of weights alone and was not loaded ({first})") from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ImportProblem(f"{path}: holds a {type(state).__name__}, not named tensors")
    odd = [str(k)[:80] for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if odd:
        raise ImportProblem(f"{path}: holds entries that are not tensors: {', '.join(odd[:10])}")
    return dict(state)


def check_state(state: Mapping[str, torch.Tensor], model: torch.nn.Module, path: Path) -> None:
    """Every tensor the architecture has, with its shape and kind, before anything is loaded."""
    expected = model.state_dict()
    problems = [f"{k} is missing" for k in expected if k not in state]
    problems += [f"{k[:80]} is not part of the network" for k in state if k not in expected]
    for key, tensor in state.items():
        want = expected.get(key)
        if want is None:
            continue
        if tuple(tensor.shape) != tuple(want.shape):
            problems.append(f"{key} has shape {tuple(tensor.shape)}, the network needs {tuple(want.shape)}")
        elif tensor.is_floating_point() != want.is_floating_point():
            problems.append(f"{key} holds {tensor.dtype}, the network needs {want.dtype}")
    if problems:
        more = f" and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ImportProblem(f"{path}: the weights do not fit the network: {'; '.join(problems[:10])}{more}. "
                            "Nothing was loaded.", tuple(problems))


def pretrained_network(weights: PretrainedWeights, path: Path | None = None) -> torch.nn.Module:
    """torchvision's architecture with the weights in ``path`` (default: the hub-cache file)."""
    import torchvision

    path = weights.path if path is None else path
    model = torchvision.models.get_model(weights.architecture, weights=None)
    state = read_state(path)
    check_state(state, model, path)
    model.load_state_dict(state, strict=True)
    return model.eval()


def import_pretrained(architecture: str, weights: str | None = None, *, fetch: bool = False,
                      progress: Progress | None = None,
                      cancel: Callable[[], bool] | None = None) -> ImportResult:
    """The architecture with its pretrained weights, as a project whose dataset settings
    carry the weights' preprocessing. Without ``fetch`` a missing file is not downloaded:
    the message names the URL, the file and the folder to put it in."""
    from visionstudio.core.importers.torch_fx import import_module

    entry = find_weights(architecture, weights)
    path = entry.path
    if not path.is_file():
        if not fetch:
            why = f"The weights {entry.title} are not downloaded yet."
            raise ImportProblem(manual_message(entry.url, why))
        path = download(entry.url, progress, cancel)
    model = pretrained_network(entry, path)
    pre = entry.preprocessing
    result = import_module(model, (3, pre.crop, pre.crop), f"{TORCHVISION_PREFIX}{architecture}",
                           f"{architecture} ({entry.name})")
    doc = result.document
    doc.set_dataset(dataclasses.replace(doc.dataset, preprocessing=pre))
    result.notes.append(pre.describe() + ".")
    return result


def is_pretrained_source(source: str) -> bool:
    return source.startswith(TORCHVISION_PREFIX) and SEPARATOR in source


def load_pretrained_source(source: str, trust_code: bool) -> ImportResult:
    """``torchvision:resnet18@IMAGENET1K_V1`` (or ``@DEFAULT``): never downloads."""
    architecture, _, name = source[len(TORCHVISION_PREFIX):].partition(SEPARATOR)
    return import_pretrained(architecture, name or None)
