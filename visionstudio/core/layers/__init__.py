"""The layer library. Importing this package registers every built-in kind."""

from visionstudio.core.layers import (  # noqa: F401  (registration)
    activations,
    block_ports,
    conv,
    core_layers,
    detect,
    heads,
    merges,
    normalization,
    pooling,
    resize,
)
from visionstudio.core.layers.base import (
    LAYERS,
    Emitted,
    LayerCode,
    LayerSpec,
    Shape,
    ShapeError,
    fmt_shape,
    register,
)
from visionstudio.core.layers.block_ports import BLOCKS_CATEGORY

# The palette shows categories in the order a network is usually built.
CATEGORIES = (
    "Input", "Convolution", "Pooling", "Normalization", "Activation",
    "Regularization", "Reshape", "Dense", "Merge", "Output", BLOCKS_CATEGORY,
)


def palette_groups() -> list[tuple[str, list[str]]]:
    """(category, layer keys) in palette order; unknown categories go last. The block
    kinds (category "Blocks") are left out: the palette's Blocks section lists definitions."""
    groups = LAYERS.by_category()
    groups.pop(BLOCKS_CATEGORY, None)
    order = [c for c in CATEGORIES if c in groups] + [c for c in groups if c not in CATEGORIES]
    return [(c, groups[c]) for c in order]


__all__ = ["CATEGORIES", "LAYERS", "Emitted", "LayerCode", "LayerSpec", "Shape", "ShapeError", "fmt_shape",
           "palette_groups", "register"]
