"""The report's pictures, inline: PNG data URIs (PIL) for images, SVG for drawings.

Everything a project supplied (layer names, kinds, block titles) is escaped before it
enters the SVG text; sizes are capped so a report stays a few hundred kilobytes.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from html import escape

import numpy as np

MAX_SIDE = 160           # pixels of an inlined picture's longer side
BOX_W, BOX_H = 150, 46


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 C×H×W (1, 3 or more channels) -> H×W×3."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[None]
    if img.shape[0] >= 3:
        rgb = np.moveaxis(img[:3], 0, -1)
    else:
        rgb = np.repeat(img[:1], 3, axis=0).transpose(1, 2, 0)
    return np.ascontiguousarray(rgb.astype(np.uint8))


def png_uri(rgb: np.ndarray, side: int = MAX_SIDE) -> str:
    """An H×W×3 uint8 array as a PNG data URI, scaled (nearest) so its longer side is
    ``side`` pixels at most — small inputs are enlarged to be seen."""
    from PIL import Image

    img = Image.fromarray(rgb)
    scale = side / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                     Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_uri(image: np.ndarray, side: int = MAX_SIDE) -> str:
    return png_uri(_to_rgb(image), side)


def _heat(values: np.ndarray) -> np.ndarray:
    """0..1 H×W -> H×W×3 (black, red, yellow, white)."""
    v = np.clip(values, 0.0, 1.0)
    return (np.stack([np.clip(3 * v, 0, 1), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1)],
                     axis=-1) * 255).astype(np.uint8)


def cam_uri(image: np.ndarray, cam: np.ndarray, side: int = MAX_SIDE) -> str:
    """The Grad-CAM heat map blended over its image."""
    base = _to_rgb(image).astype(np.float32)
    blended = 0.5 * base + 0.5 * _heat(cam).astype(np.float32)
    return png_uri(blended.astype(np.uint8), side)


def feature_uri(channel: np.ndarray, side: int = 96) -> str:
    """One feature map, scaled to its own range (grey)."""
    lo, hi = float(channel.min()), float(channel.max())
    norm = (channel - lo) / (hi - lo) if hi > lo else np.zeros_like(channel)
    grey = (norm * 255).astype(np.uint8)
    return png_uri(np.repeat(grey[..., None], 3, axis=-1), side)


def network_svg(boxes: Sequence[tuple[str, str, str, float, float]],
                edges: Sequence[tuple[int, int]]) -> str:
    """Boxes (name, kind, shape, x, y) at their canvas positions, edges as lines."""
    if not boxes:
        return "<p>The network has no layers.</p>"
    xs = [b[3] for b in boxes]
    ys = [b[4] for b in boxes]
    x0, y0 = min(xs), min(ys)
    width = max(xs) - x0 + BOX_W + 20
    height = max(ys) - y0 + BOX_H + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="net" width="{width:.0f}" '
           f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">']
    centre = [(b[3] - x0 + 10 + BOX_W / 2, b[4] - y0 + 10 + BOX_H / 2) for b in boxes]
    for a, b in edges:
        (ax, ay), (bx, by) = centre[a], centre[b]
        out.append(f'<line x1="{ax:.0f}" y1="{ay:.0f}" x2="{bx:.0f}" y2="{by:.0f}" '
                   'stroke="#889" stroke-width="1.5"/>')
    for (name, kind, shape, x, y) in boxes:
        bx, by = x - x0 + 10, y - y0 + 10
        out.append(f'<g><rect x="{bx:.0f}" y="{by:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6" '
                   'fill="#f4f6fb" stroke="#4a5a85"/>'
                   f'<text x="{bx + 6:.0f}" y="{by + 15:.0f}" font-weight="bold">{escape(name[:22])}</text>'
                   f'<text x="{bx + 6:.0f}" y="{by + 28:.0f}">{escape(kind[:24])}</text>'
                   f'<text x="{bx + 6:.0f}" y="{by + 40:.0f}" fill="#555">{escape(shape[:24])}</text></g>')
    out.append("</svg>")
    return "".join(out)


def curve_svg(title: str, series: Sequence[tuple[str, str, Sequence[float], Sequence[float]]],
              *, log_y: bool = False, width: int = 420, height: int = 220) -> str:
    """Polylines (label, colour, xs, ys) on shared axes; non-finite points are left out."""
    pts = [(lab, col, [(float(x), float(y)) for x, y in zip(xs, ys)
                       if math.isfinite(float(x)) and math.isfinite(float(y)) and (not log_y or y > 0)])
           for lab, col, xs, ys in series]
    pts = [(lab, col, p) for lab, col, p in pts if p]
    if not pts:
        return ""
    f = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    allx = [x for _l, _c, p in pts for x, _ in p]
    ally = [f(y) for _l, _c, p in pts for _, y in p]
    xmin, xmax = min(allx), max(allx)
    ymin, ymax = min(ally), max(ally)
    xspan, yspan = (xmax - xmin) or 1.0, (ymax - ymin) or 1.0
    left, right, top, bottom = 48, 10, 24, 28
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - xmin) / xspan * pw

    def sy(y: float) -> float:
        return top + ph - (f(y) - ymin) / yspan * ph

    low, high = (10 ** ymin, 10 ** ymax) if log_y else (ymin, ymax)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="curve" width="{width}" height="{height}">',
           f'<text x="{left}" y="15" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/>',
           f'<text x="2" y="{top + 10}">{high:.3g}</text><text x="2" y="{top + ph}">{low:.3g}</text>',
           f'<text x="{left}" y="{height - 8}">{xmin:g}</text>'
           f'<text x="{width - right - 40}" y="{height - 8}">{xmax:g}</text>']
    for i, (label, colour, p) in enumerate(pts):
        if len(p) == 1:
            x, y = p[0]
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>')
        else:
            coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in p)
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>')
        out.append(f'<text x="{left + 8 + 110 * i}" y="{top + 14}" fill="{colour}">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def thin(xs: np.ndarray, ys: np.ndarray, most: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th point so a polyline has at most ``most`` points."""
    step = max(1, math.ceil(len(xs) / most))
    return xs[::step], ys[::step]
