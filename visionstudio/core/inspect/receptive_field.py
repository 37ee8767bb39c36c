"""Theoretical receptive fields: which input pixels a layer's output pixel can see.

Per axis a field is the classic (size r, jump j, start) triple: r input pixels wide,
moving j input pixels per output pixel, the first output pixel's field centred on input
coordinate ``start`` (pixel centres at 0, 1, 2...; a negative start reaches into padding).
A layer with kernel k, stride s, padding p and dilation d maps, with k' = d(k-1)+1,
``j' = j·s``, ``r' = r + (k'-1)·j``, ``start' = start + ((k'-1)/2 - p)·j``.

Values are ``fractions.Fraction`` so that transposed convolutions and upsampling (a jump
below one pixel) stay exact numbers. Where a layer's windows are not one affine family
(nearest or bilinear upsampling, adaptive pooling whose output does not divide its input,
the taps of a strided transposed convolution) the field is the continuous interval that
contains every window; ``input_region`` keeps the pixel centres inside it, so the region
is exact for integer jumps and never misses a pixel otherwise. Like every theoretical
field it ignores where intermediate maps end: an output pixel that lies wholly in a later
layer's padding (a Zero padding after convolutions) gets the field its position would
have, clipped to the image, though it sees only zeros.

Merges (Add, Concat, ...): an output pixel sees the union of its branches' fields. Branch
fields with the same jump move together, so their union is the extent covering all of
them (r = the hull of the branches' intervals, start its centre): one span. Branches that
disagree on the jump cannot be one triple; the field keeps one span per jump
(``uniform`` is False, ``jump`` None) and ``input_region`` unions them pixel by pixel.

Global pooling, Flatten and Dense see the whole feature map (``whole``): Flatten's single
values each come from one position, but the node has no spatial layout left, so its field
is the union over its outputs. Their jump is 0: broadcast back onto a map (a
squeeze-and-excitation Multiply) the value is the same at every pixel, so when it covers
the image every pixel after it sees the whole image. Normalisations count as pointwise: their statistics over
the image rescale values but carry no content from elsewhere (the usual convention).

Block instances recurse into the definition's graph with the instance's analysis
(``NodeInfo.inner``: its clean params and shapes), so a block gives exactly what its
inlined layers give. Everything reads the analysis' clean params, so fields agree with
the shapes the canvas shows; nodes without a shape get no field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from visionstudio.core.graph.analysis import GraphAnalysis
from visionstudio.core.graph.model import GraphModel
from visionstudio.core.layers.block_ports import BLOCK_INPUT
from visionstudio.core.params import pair

ONE = Fraction(1)
WINDOW_KINDS = ("conv2d", "maxpool2d", "avgpool2d")
WHOLE_KINDS = ("global_avgpool", "flatten")
ADAPTIVE_KINDS = ("adaptive_avgpool2d", "adaptive_maxpool2d")
MERGE_KINDS = ("add", "concat", "average", "weighted_sum", "multiply", "maximum")


@dataclass(frozen=True)
class Span:
    """One affine family of windows on one axis (input pixels)."""

    size: Fraction
    jump: Fraction
    start: Fraction

    def interval(self, index: int) -> tuple[Fraction, Fraction]:
        """The field of output pixel ``index``: first and last input coordinate."""
        centre = self.start + index * self.jump
        half = (self.size - 1) / 2
        return centre - half, centre + half

    def window(self, k_eff: Fraction, stride: Fraction, pad: Fraction) -> Span:
        return Span(self.size + (k_eff - 1) * self.jump, self.jump * stride,
                    self.start + ((k_eff - 1) / 2 - pad) * self.jump)

    def spread(self, jump_factor: Fraction, grow: Fraction, shift: Fraction) -> Span:
        """A layer whose output pixel i sees its input's interval centred on
        ``shift + i·jump_factor``, ``grow`` input pixels wider than one pixel's."""
        return Span(self.size + grow * self.jump, self.jump * jump_factor, self.start + shift * self.jump)


def _hull(spans: list[Span]) -> Span:
    lo = min(s.interval(0)[0] for s in spans)
    hi = max(s.interval(0)[1] for s in spans)
    return Span(hi - lo + 1, spans[0].jump, (lo + hi) / 2)


@dataclass(frozen=True)
class AxisField:
    spans: tuple[Span, ...]  # one per distinct jump, sorted by jump
    extent: int              # the input image's size on this axis

    @staticmethod
    def union(spans: list[Span], extent: int) -> AxisField:
        """Spans of one jump become their hull; a jump-0 span (a global pooling broadcast,
        as in squeeze-and-excitation) that covers the whole image absorbs the rest:
        every pixel then sees everything."""
        for span in spans:
            lo, hi = span.interval(0)
            if span.jump == 0 and lo <= 0 and hi >= extent - 1:
                return AxisField((span,), extent)
        by_jump: dict[Fraction, list[Span]] = {}
        for span in spans:
            by_jump.setdefault(span.jump, []).append(span)
        return AxisField(tuple(_hull(group) for _, group in sorted(by_jump.items())), extent)

    def map(self, step: Any) -> AxisField:
        if len(self.spans) == 1:  # the common case: no hull to take
            return AxisField((step(self.spans[0]),), self.extent)
        return AxisField.union([step(s) for s in self.spans], self.extent)

    @property
    def uniform(self) -> bool:
        return len(self.spans) == 1

    @property
    def size(self) -> Fraction:
        """The extent covering every branch's field of the first output pixel."""
        return _hull(list(self.spans)).size

    @property
    def start(self) -> Fraction:
        return _hull(list(self.spans)).start

    @property
    def jump(self) -> Fraction | None:
        return self.spans[0].jump if self.uniform else None

    def bounds(self, index: int) -> tuple[int, int]:
        """Half-open pixel range of output pixel ``index``'s field, clipped to the image."""
        lo = min(s.interval(index)[0] for s in self.spans)
        hi = max(s.interval(index)[1] for s in self.spans)
        first, last = max(0, math.ceil(lo)), min(self.extent - 1, math.floor(hi))
        return (first, last + 1) if last >= first else (first, first)


@dataclass(frozen=True)
class ReceptiveField:
    height: AxisField
    width: AxisField
    whole: bool = False  # every output value sees the whole feature map it came from

    @property
    def uniform(self) -> bool:
        return self.height.uniform and self.width.uniform


def input_region(field: ReceptiveField, y: int, x: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the input pixels output pixel (y, x) sees, half-open
    (``bottom - top`` rows), clipped to the image."""
    top, bottom = field.height.bounds(y)
    left, right = field.width.bounds(x)
    return top, left, bottom, right


def receptive_fields(graph: GraphModel, analysis: GraphAnalysis) -> dict[str, ReceptiveField]:
    """Each analysed node's field in the input image's pixels."""
    return _fields(graph, analysis, {}, None, "")


def fields_by_path(graph: GraphModel, analysis: GraphAnalysis) -> dict[str, ReceptiveField]:
    """The fields keyed by dotted node-name path, the layers inside block instances
    included (``block1.conv1``): the names the feature viewer's hooks use."""
    named: dict[str, ReceptiveField] = {}
    _fields(graph, analysis, {}, named, "")
    return named


def _fields(graph: GraphModel, analysis: GraphAnalysis, seeds: dict[int, ReceptiveField],
            named: dict[str, ReceptiveField] | None, prefix: str) -> dict[str, ReceptiveField]:
    out: dict[str, ReceptiveField] = {}
    for nid in analysis.order:
        info = analysis.nodes.get(nid)
        node = graph.nodes.get(nid)
        if info is None or node is None or info.output_shape is None:
            continue
        field: ReceptiveField | None = None
        if node.kind == "input":
            p = info.clean_params
            field = ReceptiveField(AxisField((Span(ONE, ONE, Fraction(0)),), int(p["height"])),
                                   AxisField((Span(ONE, ONE, Fraction(0)),), int(p["width"])))
        elif node.kind == BLOCK_INPUT:
            field = seeds.get(int(info.clean_params.get("index", 0)))
        else:
            sources = [out.get(e.src) for e in graph.inputs_of(nid)]
            if not sources or any(s is None for s in sources):
                continue
            if node.kind == "block":
                field = _through_block(graph, info, sources, named, f"{prefix}{node.name}.")  # type: ignore[arg-type]
            else:
                field = _through(node.kind, info, sources)  # type: ignore[arg-type]
        if field is not None:
            out[nid] = field
            if named is not None:
                named[prefix + node.name] = field
    return out


def _through(kind: str, info: Any, sources: list[ReceptiveField]) -> ReceptiveField | None:
    first = sources[0]
    if kind in MERGE_KINDS or len(sources) > 1:
        heights = [s for f in sources for s in f.height.spans]
        widths = [s for f in sources for s in f.width.spans]
        return ReceptiveField(AxisField.union(heights, first.height.extent),
                              AxisField.union(widths, first.width.extent), any(f.whole for f in sources))
    in_shape = info.input_shapes[0] if info.input_shapes else ()
    if first.whole or len(in_shape) != 3:
        return ReceptiveField(first.height, first.width, True) if kind == "dense" or first.whole else None
    steps = _steps(kind, info.clean_params, in_shape[1:], info.output_shape[1:]
                   if len(info.output_shape) == 3 else ())
    if steps is None:
        return first  # pointwise: activations, normalisations, dropout, identity, block output
    return ReceptiveField(first.height.map(steps[0]), first.width.map(steps[1]), kind in WHOLE_KINDS
                          or (kind in ADAPTIVE_KINDS and info.output_shape[1:] == (1, 1)))


def _through_block(graph: GraphModel, info: Any, sources: list[ReceptiveField],
                   named: dict[str, ReceptiveField] | None, prefix: str) -> ReceptiveField | None:
    inner = info.inner
    key = info.clean_params.get("block")
    if inner is None or key not in graph.blocks or inner.output_id is None:
        return None
    fields = _fields(graph.blocks.get(key).graph, inner, dict(enumerate(sources)), named, prefix)
    return fields.get(inner.output_id)


def _steps(kind: str, p: dict[str, Any], in_hw: tuple[int, ...], out_hw: tuple[int, ...]):
    """(height step, width step) mapping a Span through the layer, or None: pointwise."""
    if kind in WINDOW_KINDS:
        kernel = pair(p["kernel_size"])
        stride = pair(p["stride"] if p.get("stride") is not None else p["kernel_size"])
        dilation = pair(p.get("dilation", 1))
        effective = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
        padding = p.get("padding", 0)
        if padding == "same":
            pads = [(e - 1) // 2 for e in effective]  # torch puts the odd pixel at the end
        else:
            pads = [0, 0] if padding == "valid" else list(pair(padding))
        return tuple(_window(Fraction(e), Fraction(s), Fraction(pd))
                     for e, s, pd in zip(effective, stride, pads, strict=True))
    if kind == "conv_transpose2d":
        kernel, stride = pair(p["kernel_size"]), pair(p["stride"])
        dilation, pads = pair(p["dilation"]), pair(p["padding"])
        return tuple(_transposed(Fraction(d * (k - 1) + 1), Fraction(s), Fraction(pd))
                     for k, s, d, pd in zip(kernel, stride, dilation, pads, strict=True))
    if kind in WHOLE_KINDS:  # one value per map: jump 0, the same field wherever it is broadcast
        return tuple(_window(Fraction(n), Fraction(0), Fraction(0)) for n in in_hw)
    if kind in ADAPTIVE_KINDS:
        return tuple(_adaptive(n, o) for n, o in zip(in_hw, out_hw, strict=True))
    if kind == "upsample":
        return tuple(_upsample(p, n, o) for n, o in zip(in_hw, out_hw, strict=True))
    if kind == "zeropad2d":
        return (_window(ONE, ONE, Fraction(p["top"])), _window(ONE, ONE, Fraction(p["left"])))
    return None


def _window(k_eff: Fraction, stride: Fraction, pad: Fraction):
    return lambda span: span.window(k_eff, stride, pad)


def _transposed(k_eff: Fraction, stride: Fraction, pad: Fraction):
    """Output y takes input x where y = x·s - p + d·t: x from (y + p - (k'-1))/s to (y + p)/s."""
    return lambda span: span.spread(1 / stride, (k_eff - 1) / stride, (pad - (k_eff - 1) / 2) / stride)


def _adaptive(n: int, o: int):
    """Window i runs from floor(i·n/o) to ceil((i+1)·n/o) - 1: a plain pooling when o
    divides n; otherwise inside [i·n/o - (o-1)/o, (i+1)·n/o - 1/o], the bound used."""
    if o == 1:
        return _window(Fraction(n), Fraction(0), Fraction(0))
    if n % o == 0:
        return _window(Fraction(n // o), Fraction(n // o), Fraction(0))
    ratio = Fraction(n, o)
    return lambda span: span.spread(ratio, ratio + 1 - Fraction(2, o), (ratio - 1) / 2)


def _upsample(p: dict[str, Any], n: int, o: int):
    """Nearest: output y reads input floor(y·n/o), inside (y·n/o - 1, y·n/o]. Bilinear
    reads the two pixels around its source coordinate (y + 1/2)·n/o - 1/2 (align corners:
    y·(n-1)/(o-1)), inside one pixel either side."""
    ratio = Fraction(n, o)
    if p.get("mode") == "nearest":
        return lambda span: span.spread(ratio, 1 - ratio, -(1 - ratio) / 2)
    if p.get("align_corners") and o > 1:
        return lambda span: span.spread(Fraction(n - 1, o - 1), Fraction(2), Fraction(0))
    return lambda span: span.spread(ratio, Fraction(2), (ratio - 1) / 2)


def _num(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.4g}"


def describe(field: ReceptiveField) -> str:
    """One line for the inspector: "18×18 px · jump 4 · offset 1.5" (height first)."""
    h, w = field.height, field.width
    if field.whole and covers_image(field):
        return f"{h.extent}×{w.extent} px · the whole image"
    text = f"{_num(h.size)}×{_num(w.size)} px"
    if field.whole:
        return text + f" · offset {_pair(h.start, w.start)} · all of its input map"
    if h.uniform and w.uniform:
        text += f" · jump {_pair(h.jump, w.jump)} · offset {_pair(h.start, w.start)}"
    else:
        jumps = sorted({s.jump for s in h.spans + w.spans})
        text += " · branches move at different jumps (" + ", ".join(map(_num, jumps)) + "): not uniform"
    return text


def _pair(a: Fraction, b: Fraction) -> str:
    return _num(a) if a == b else f"{_num(a)}×{_num(b)}"


def covers_image(field: ReceptiveField) -> bool:
    """Whether output pixel (0, 0) sees every pixel of the image."""
    top, left, bottom, right = input_region(field, 0, 0)
    return (top, left, bottom, right) == (0, 0, field.height.extent, field.width.extent)
