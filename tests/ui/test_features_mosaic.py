"""Mosaic helpers (numpy only): tiling, hit-testing, scaling, flat channels, filters."""

from __future__ import annotations

import numpy as np

from visionstudio.ui.features.mosaic import activation_tiles, filter_tiles, normalise, tile


def test_tile_layout_and_hit_test():
    t = tile(np.ones((10, 4, 6), np.float32), cols=4, pad=1)
    assert t.image.shape == (3 * 5 - 1, 4 * 7 - 1) and len(t.rects) == 10
    assert np.isnan(t.image[4, 0]) and t.image[0, 0] == 1
    x, y, w, h = t.rects[6]
    assert (x, y) == (2 * 7, 1 * 5) and t.tile_at(x + 1, y + 1) == 6
    assert t.tile_at(6.5, 0) is None            # padding


def test_scaling_per_channel_or_shared_and_flat_channels():
    a = np.stack([np.full((3, 3), 5.0), np.arange(9.0).reshape(3, 3), 2 * np.arange(9.0).reshape(3, 3)])
    per = normalise(a, True)
    assert per[1].max() == 1 and per[2].max() == 1 and np.all(per[0] == 0)
    shared = normalise(a, False)
    assert shared[2].max() == 1 and abs(shared[1].max() - 0.5) < 1e-6
    t = activation_tiles(a, True, cols=3)
    x, y, w, h = t.rects[0]
    assert np.isnan(t.image[y:y + h, x:x + w]).all()          # flat: left blank
    assert not np.isnan(t.image[t.rects[1][1], t.rects[1][0]])


def test_filters_rgb_or_rows():
    rgb, is_rgb = filter_tiles(np.random.default_rng(0).normal(size=(8, 3, 5, 5)))
    assert is_rgb and len(rgb.rects) == 8 and rgb.image.shape[-1] == 3
    grey, is_rgb = filter_tiles(np.random.default_rng(0).normal(size=(4, 6, 3, 3)))
    assert not is_rgb and len(grey.rects) == 24 and grey.cols == 6
    assert np.nanmin(grey.image) >= 0 and np.nanmax(grey.image) <= 1
