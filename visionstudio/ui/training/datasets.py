"""Dataset access for the training UI: the core registry when it is there.

``visionstudio.core.data.registry`` (DATASETS) is the source of truth. Until it has
landed, the built-in Shapes set is offered through a stand-in spec built from the
same loader (``core.data.shapes``), so pressing Train works in every checkout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionstudio.core.params import ParamSpec, validate_all


@dataclass(frozen=True)
class _Spec:
    key: str
    title: str
    params: tuple[ParamSpec, ...]
    loader: Callable
    describe: Callable
    description: str = ""


def _shapes_fallback() -> _Spec:
    from visionstudio.core.data import shapes

    params = (
        ParamSpec("samples", "int", 6000, minimum=20, maximum=1_000_000, help="Training images drawn."),
        ParamSpec("val_samples", "int", 0, title="validation samples", minimum=0, maximum=1_000_000,
                  help="Separate validation images; 0 holds out the validation split instead."),
        ParamSpec("image_size", "int", 28, title="image size", minimum=8, maximum=256),
        ParamSpec("channels", "int", 1, minimum=1, maximum=3, help="1 grayscale, 3 RGB."),
        ParamSpec("classes", "int", 10, minimum=2, maximum=len(shapes.SHAPE_NAMES)),
        ParamSpec("noise", "float", 0.08, minimum=0.0, maximum=1.0),
        ParamSpec("seed", "int", 0, minimum=0, maximum=2**31 - 1),
    )
    return _Spec("shapes", "Shapes (built-in)", params, shapes.load_shapes, shapes.describe_shapes,
                 "Procedurally drawn shapes; no download.")


def registry() -> dict[str, Any]:
    """key -> spec (with .title, .params, .loader, .describe)."""
    try:
        from visionstudio.core.data.registry import DATASETS
    except ImportError:
        spec = _shapes_fallback()
        return {spec.key: spec}
    return {key: DATASETS.get(key) for key in DATASETS}


def clean_params(key: str, params: dict[str, Any]) -> dict[str, Any]:
    spec = registry().get(key)
    if spec is None:
        return dict(params)
    clean, _ = validate_all(spec.params, dict(params or {}))
    return clean


def load(config: Any, *, val_split: float, seed: int, target_shape=None, progress=None,
         cancel=None, data_dir: str | Path | None = None, download: bool = True):
    """``core.data.base.load_dataset`` (or the stand-in's loader) -> LoadedDataset."""
    from visionstudio.core.data import base

    try:
        from visionstudio.core.data import registry as _reg  # noqa: F401
    except ImportError:
        spec = registry().get(config.key)
        if spec is None:
            raise base.DatasetError(f"Unknown dataset {config.key!r}.") from None
        ctx = base.LoadContext(val_split=float(val_split), seed=int(seed),
                               data_dir=Path(data_dir) if data_dir else base.default_data_dir(),
                               target_shape=target_shape, download=download, progress=progress,
                               cancel=cancel)
        return spec.loader(clean_params(config.key, config.params), ctx)
    return base.load_dataset(config, val_split=val_split, seed=seed, target_shape=target_shape,
                             progress=progress, cancel=cancel, data_dir=data_dir, download=download)


def describe(config: Any):
    spec = registry().get(config.key)
    if spec is None:
        return None
    try:
        return spec.describe(clean_params(config.key, config.params))
    except Exception:  # noqa: BLE001 - a preview of compatibility only
        return None
