"""Whether a network fits a dataset, in the user's words: the Input must match the
images (shape, or channels where the images follow the Input) and the last layer must
give one unit per class. Checked on a DatasetInfo before loading where possible
(training/plan.py), on the LoadedDataset otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

from visionstudio.core.data.base import DatasetInfo, LoadedDataset
from visionstudio.core.data.registry import describe_dataset
from visionstudio.core.layers import fmt_shape


@dataclass(frozen=True)
class _Gives:
    """What the dataset gives, whatever it was described by."""

    title: str
    sample: tuple[int, ...] | None      # None: the images follow the network's Input
    classes: int | None
    channels: tuple[int, ...]           # the channel counts it can produce


def _gives(data: Any) -> _Gives:
    if not isinstance(data, (LoadedDataset, DatasetInfo)) and hasattr(data, "key"):
        data = describe_dataset(data)   # a DatasetConfig
    if isinstance(data, LoadedDataset):
        try:
            sample: tuple[int, ...] | None = data.sample_shape
        except ValueError:
            sample = None
        return _Gives("The dataset", sample, data.num_classes, (sample[0],) if sample else ())
    return _Gives(getattr(data, "title", "") or "The dataset", getattr(data, "sample_shape", None),
                  getattr(data, "num_classes", None), tuple(getattr(data, "channels", ())))


def _channel_words(channels: tuple[int, ...]) -> str:
    return ("3 (RGB) or 1 (grayscale)" if set(channels) == {1, 3}
            else " or ".join(str(c) for c in channels))


def _input_problem(gives: _Gives, shape: tuple[int, ...], label: str) -> str | None:
    sample = gives.sample
    if len(shape) != 3:
        return f"{label} is {fmt_shape(shape)}, but images need channels×height×width."
    if sample is not None and shape != tuple(sample):
        fixes = [f"set Input to {fmt_shape(sample)}"]
        if shape[0] != sample[0]:
            fixes.append("pick a dataset with "
                         + ("grayscale" if shape[0] == 1 else f"{shape[0]}-channel") + " images")
        else:
            fixes.append(f"choose a dataset with {shape[1]}×{shape[2]} images")
        return (f"{gives.title} gives {fmt_shape(sample)} images but {label} is "
                f"{fmt_shape(shape)}; " + " or ".join(fixes) + ".")
    if sample is None and gives.channels and shape[0] not in gives.channels:
        return (f"{gives.title} gives images with " + " or ".join(str(c) for c in gives.channels)
                + f" channels, but {label} has {shape[0]}; set its channels to "
                + _channel_words(gives.channels) + ".")
    return None


def _output_problem(gives: _Gives, shape: tuple[int, ...], layer: str) -> str | None:
    classes = gives.classes
    if len([d for d in shape if d != 1]) > 1:
        return (f"{layer} gives {fmt_shape(shape)}, but a classifier must end in one unit per "
                f"class; add Flatten and a Dense layer with {classes} units (or global pooling).")
    units = prod(shape)
    if units != classes:
        return (f"{gives.title} has {classes} classes, {layer} has {units} "
                f"{'unit' if units == 1 else 'units'}; set its units to {classes}.")
    return None


def check_compatibility(data: Any, input_shape: Sequence[int] | None,
                        output_shape: Sequence[int] | None, *, output_name: str | None = None,
                        input_name: str | None = None) -> list[str]:
    """Problems that stop this network from training on this dataset; empty when it fits.

    ``data`` is a LoadedDataset, a DatasetInfo or a DatasetConfig. ``input_shape`` is the
    network Input's C×H×W, ``output_shape`` the last layer's output (one unit per class
    expected); ``input_name`` and ``output_name`` name those layers in the messages.
    """
    gives = _gives(data)
    problems: list[str] = []
    if input_shape is not None:
        label = f"the network's Input ({input_name})" if input_name else "the network's Input"
        problems.append(_input_problem(gives, tuple(int(d) for d in input_shape), label))
    if output_shape is not None and gives.classes is not None:
        layer = f"the last layer {output_name}" if output_name else "the last layer"
        problems.append(_output_problem(gives, tuple(int(d) for d in output_shape), layer))
    return [p for p in problems if p]
