"""Arrays -> one tiled image (numpy only): a layer's channels, a conv layer's kernels.

One mosaic per layer is drawn by a single ImageItem: one ``setImage`` per update
instead of one per channel, which keeps a 64-channel layer cheap to redraw. Padding
between tiles is NaN, which the ImageItem leaves transparent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tiles:
    image: np.ndarray                       # rows×cols (or rows×cols×3), float32, 0..1, NaN padding
    rects: tuple[tuple[int, int, int, int], ...]  # per tile: (x, y, width, height) in pixels
    cols: int
    flat: tuple[int, ...] = ()              # channels left blank because they are constant

    def tile_at(self, x: float, y: float) -> int | None:
        """Which tile a point (image pixels, x right, y down) falls in."""
        for i, (tx, ty, w, h) in enumerate(self.rects):
            if tx <= x < tx + w and ty <= y < ty + h:
                return i
        return None


def columns_for(n: int, tile_h: int, tile_w: int, aspect: float = 1.6) -> int:
    """Columns so the mosaic is about ``aspect`` times wider than tall."""
    if n <= 0:
        return 1
    return max(1, min(n, math.ceil(math.sqrt(n * aspect * tile_h / max(tile_w, 1)))))


def _scaled(array: np.ndarray, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """(C×H×W scaled to 0..1, indices of constant channels), from one min/max pass.

    Written in place on one new array (no ``np.where`` copy): a ResNet-50's conv layers
    hold 11 M values per sample, and each extra full pass costs tens of milliseconds."""
    a = array.astype(np.float32, copy=False)
    flat_view = a.reshape(a.shape[0], -1)
    lo_c, hi_c = flat_view.min(axis=1), flat_view.max(axis=1)
    constant = np.flatnonzero(hi_c - lo_c <= 1e-12)
    if per_channel:
        lo, span = lo_c, hi_c - lo_c
    else:
        lo = np.full_like(lo_c, lo_c.min() if len(lo_c) else 0.0)
        span = np.full_like(lo_c, (hi_c.max() - lo_c.min()) if len(lo_c) else 0.0)
    dead = span <= 1e-12                   # scaled to 0 (the whole layer, when shared and flat)
    scale = np.where(dead, 0.0, 1.0 / np.maximum(span, np.float32(1e-12))).astype(np.float32)
    out = np.subtract(a, lo[:, None, None], dtype=np.float32)
    out *= scale[:, None, None]
    return out, constant


def normalise(array: np.ndarray, per_channel: bool) -> np.ndarray:
    """C×H×W -> 0..1 per channel (each its own range) or shared (the layer's range)."""
    return _scaled(array, per_channel)[0]


def tile(array: np.ndarray, cols: int | None = None, pad: int = 1) -> Tiles:
    """N×H×W (or N×H×W×3) values in 0..1 -> one mosaic with ``pad`` NaN pixels between.

    One strided copy (pad the stack, swap the row and column axes) instead of a Python
    loop per channel: 2,048 channels of a deep layer are one numpy call."""
    n, h, w = array.shape[:3]
    extra = array.shape[3:]
    cols = cols or columns_for(n, h, w)
    rows = max(1, math.ceil(n / cols))
    buf = np.full((rows * cols, h + pad, w + pad) + extra, np.nan, dtype=np.float32)
    buf[:n, :h, :w] = array
    grid = buf.reshape((rows, cols, h + pad, w + pad) + extra).swapaxes(1, 2)
    out = grid.reshape((rows * (h + pad), cols * (w + pad)) + extra)
    out = np.ascontiguousarray(out[:out.shape[0] - pad, :out.shape[1] - pad])
    rects = tuple(((i % cols) * (w + pad), (i // cols) * (h + pad), w, h) for i in range(n))
    return Tiles(out, rects, cols)


def flat_channels(array: np.ndarray) -> np.ndarray:
    """Indices of channels with one value everywhere (dead after ReLU when that is 0)."""
    flat = array.reshape(array.shape[0], -1)
    return np.flatnonzero(flat.max(axis=1) - flat.min(axis=1) <= 1e-12)


def activation_tiles(array: np.ndarray, per_channel: bool, cols: int | None = None) -> Tiles:
    """Channels scaled to 0..1; a flat (constant) channel is left out (NaN: transparent)
    so it reads as "nothing here" instead of as the colormap's low end."""
    norm, flat = _scaled(array, per_channel)
    if len(flat):
        norm[flat] = np.nan
    t = tile(norm, cols)
    return Tiles(t.image, t.rects, t.cols, tuple(int(i) for i in flat))


def filter_grid_shape(out_c: int, in_c: int) -> tuple[int, int] | None:
    """(filters, kernels per filter) laid out as rows × columns when the layout is fixed:
    one row per filter, one kernel per input channel. None when each filter is one tile
    (one input channel, or three drawn in colour), so the columns can follow the room."""
    if in_c in (1, 3):
        return None
    return out_c, min(in_c, MAX_FILTER_INPUTS)


def fit_columns(n: int, tile_h: int, tile_w: int, width: float, height: float, pad: int = 1,
                slack: float = 0.85, largest: float = math.inf) -> int:
    """Columns for ``n`` tiles that make them as large as ``width`` × ``height`` allows
    (up to ``largest`` screen pixels per tile pixel); among layouts whose tiles are within
    ``slack`` of the largest, the squarest grid."""
    if n <= 0:
        return 1

    def scale(cols: int) -> float:
        rows = math.ceil(n / cols)
        return min(largest, width / (cols * (tile_w + pad) - pad), height / (rows * (tile_h + pad) - pad))

    scales = {c: scale(c) for c in range(1, n + 1)}
    best = max(scales.values())

    def squareness(cols: int) -> float:
        rows = math.ceil(n / cols)
        return abs(math.log((cols * (tile_w + pad)) / (rows * (tile_h + pad))))

    good = [c for c, s in scales.items() if s >= slack * best]
    return min(good, key=lambda c: (squareness(c), -scales[c]))


MAX_FILTER_INPUTS = 64      # kernels per filter drawn; a wider layer's are cut there


def filter_tiles(weights: np.ndarray, cols: int | None = None) -> tuple[Tiles, bool]:
    """out×in×kh×kw kernels -> (mosaic, is_rgb): one colour tile per filter when in == 3,
    one grey tile per filter when in == 1 (``cols`` of them a row), else one row of
    in-channel kernels per filter. Each filter is scaled to its own range, 0.5 = zero."""
    out_c, in_c, kh, kw = weights.shape
    scale = np.abs(weights.reshape(out_c, -1)).max(axis=1)
    scale = np.where(scale > 0, scale, 1.0)[:, None, None, None]
    w = 0.5 + 0.5 * weights / scale
    if in_c == 3:
        rgb = np.moveaxis(w, 1, -1)            # out×kh×kw×3
        return tile(rgb.astype(np.float32), cols=cols, pad=1), True
    if in_c == 1:
        return tile(w[:, 0].astype(np.float32), cols=cols, pad=1), False
    shown_in = min(in_c, MAX_FILTER_INPUTS)
    flat = w[:, :shown_in].reshape(out_c * shown_in, kh, kw)
    return tile(flat.astype(np.float32), cols=shown_in, pad=1), False
