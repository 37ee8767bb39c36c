"""One image file -> a uint8 C×H×W array at the network Input's size, safely and cheaply.

Image folders come from anywhere, so a file is refused before it is decoded when its
header announces more than ``MAX_PIXELS`` pixels (a 12000×12000 PNG is a few KB on disk
and 430 MB once decoded). Pillow's own decompression-bomb guard is made an error too,
so no code path of the app decodes such an image.

Decoding goes to the target size as early as possible: JPEGs are decoded at a reduced
scale (``draft``), other formats are box-reduced by an integer factor (``reduce``) right
after decoding, while still at most ``REDUCING_GAP`` times the target, so the colour
conversions and the final bilinear resize work on a small image. Conversions: EXIF
rotation, RGBA and palette transparency composited on white, CMYK converted, 16-bit
scaled to 8-bit.

With an ``EvalResize`` (the preprocessing pretrained weights expect) the image follows
torchvision's eval transform on PIL images exactly instead: no reduced-scale decode, the
shorter side resized with Pillow's antialiased filter, then a centre crop (zero-padded
where the crop is larger), as ``Resize(short)`` then ``CenterCrop(crop)`` do.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MAX_PIXELS = 50_000_000     # width × height read from the header; larger files are refused
REDUCING_GAP = 2.0          # box-reduce until the image is at most this many times the target
_ROWS_PER_BLOCK = 512       # 16-bit -> 8-bit conversion, a block of rows at a time

# Pillow warns (above ~89 MP) and raises (above ~179 MP) on decompression bombs; a warning
# would let the image be decoded, so it is an error everywhere in the app.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

_TRANSPOSE = {   # EXIF orientation -> transposition (as ImageOps.exif_transpose)
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}


_RESAMPLING = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC}


@dataclass(frozen=True)
class EvalResize:
    """Resize the shorter side to ``short`` pixels, then centre-crop to the Input's size."""

    short: int
    interpolation: str = "bilinear"

    def key(self) -> str:
        """What the decoded-image cache's key holds, so pixels decoded otherwise are not reused."""
        return f"eval-resize|short={int(self.short)}|{self.interpolation}|centre-crop"


def _eval_resize(img: Image.Image, fit: EvalResize, width: int, height: int) -> Image.Image:
    """torchvision's ``Resize(short)`` (shorter side, the longer one truncated as it does)
    and ``CenterCrop((height, width))`` on a PIL image."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(fit.short * long / short)
    size = (fit.short, new_long) if w <= h else (new_long, fit.short)
    if size != img.size:
        img = img.resize(size, _RESAMPLING.get(fit.interpolation, Image.Resampling.BILINEAR))

    def start(have: int, want: int) -> int:   # torchvision pads (cw - w) // 2 on the left first
        return -((want - have) // 2) if want > have else int(round((have - want) / 2.0))

    left, top = start(img.width, width), start(img.height, height)
    return img.crop((left, top, left + width, top + height))   # outside the image: zeros


class ImageProblem(Exception):
    """A file that cannot be used; the message is the reason shown to the user."""


def too_large(width: int, height: int) -> str:
    return (f"too large: {width}×{height} pixels ({width * height / 1e6:.0f} MP), more than the "
            f"{MAX_PIXELS / 1e6:.0f} MP limit for one image")


def _bomb_reason(exc: Exception) -> str:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    if found:
        return (f"too large: {int(found.group(1)) / 1e6:.0f} MP, more than the "
                f"{MAX_PIXELS / 1e6:.0f} MP limit for one image")
    return f"too large to open safely (more than the {MAX_PIXELS / 1e6:.0f} MP limit)"


def _check_pixels(img: Image.Image) -> None:
    """Refuse from the header (``img.size``), before a single pixel is decoded."""
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageProblem(too_large(width, height))


def _16bit_to_8bit(img: Image.Image) -> Image.Image:
    """'I;16*' -> 'L': round(v / 257) done in integers (equal to the float formula, since
    v / 257 never ends in exactly .5), a block of rows at a time so no float copy of a
    large image is made."""
    arr = np.asarray(img)
    out = np.empty(arr.shape, dtype=np.uint8)
    for top in range(0, arr.shape[0], _ROWS_PER_BLOCK):
        block = arr[top:top + _ROWS_PER_BLOCK].astype(np.uint32)
        out[top:top + _ROWS_PER_BLOCK] = (block + 128) // 257
    return Image.fromarray(out, mode="L")


def _to_8bit(img: Image.Image) -> Image.Image:
    """High-bit-depth grayscale ('I;16*', 'I', 'F') scaled properly into 'L'."""
    if img.mode.startswith("I;16"):
        return _16bit_to_8bit(img)
    arr = np.asarray(img).astype(np.float64)
    top = float(arr.max()) if arr.size else 0.0
    low = float(arr.min()) if arr.size else 0.0
    if img.mode == "F" and low >= 0.0 and top <= 1.0:
        arr8 = arr * 255.0
    elif low >= 0 and top <= 255:
        arr8 = arr
    elif low >= 0 and top <= 65535:
        arr8 = arr / 257.0
    else:
        arr8 = (arr - low) / max(top - low, 1e-12) * 255.0
    return Image.fromarray(np.clip(np.rint(arr8), 0, 255).astype(np.uint8), mode="L")


def convert_image(img: Image.Image, channels: int) -> Image.Image:
    """An 'L' (channels 1) or 'RGB' (channels 3) copy of any PIL image."""
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        img = _to_8bit(img)
    elif mode == "P" or mode == "PA":
        img = img.convert("RGBA")
    elif mode in ("RGBa", "La"):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba).convert("RGB")
    target = "L" if channels == 1 else "RGB"
    if img.mode != target:
        img = img.convert(target)
    return img


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a damaged EXIF block only loses the rotation
        return 1


def _reduce(img: Image.Image, width: int, height: int) -> Image.Image:
    """Box-reduce by whole factors while the image stays at least REDUCING_GAP × the
    target (``width``×``height`` in the file's own orientation). Modes whose values are
    not intensities (palette, 1-bit, 16-bit) are first converted as convert_image would;
    alpha is premultiplied by Pillow's reduce, so compositing afterwards is unchanged."""
    fx = max(1, int(img.width / (width * REDUCING_GAP)))
    fy = max(1, int(img.height / (height * REDUCING_GAP)))
    if fx == 1 and fy == 1:
        return img
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode.startswith("I;16"):
        img = _16bit_to_8bit(img)
    return img.reduce((fx, fy))


def _open_error(exc: BaseException) -> ImageProblem:
    if isinstance(exc, Image.UnidentifiedImageError):
        return ImageProblem("not an image (or a format Pillow cannot read)")
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return ImageProblem(_bomb_reason(exc))   # type: ignore[arg-type]
    if isinstance(exc, FileNotFoundError):
        return ImageProblem("file not found (deleted or moved)")
    if isinstance(exc, (OSError, SyntaxError, ValueError)):
        text = str(exc)
        if "truncat" in text.lower() or "broken" in text.lower():
            return ImageProblem("truncated or damaged image")
        if isinstance(exc, OSError) and exc.strerror:
            return ImageProblem(f"cannot be read ({exc.strerror})")
        return ImageProblem(f"damaged or unreadable image ({text or type(exc).__name__})")
    return ImageProblem(f"unreadable image ({type(exc).__name__}: {exc})")


def _starts_as_jpeg(path: str | Path) -> bool:
    """True when Pillow will open the file as a JPEG (its magic bytes): verify() is a no-op
    for JPEGs, so the extra open it needs (half the time of a small JPEG) is skipped. The
    decode that follows still refuses truncated and damaged files."""
    with open(path, "rb") as f:
        return f.read(3) == b"\xff\xd8\xff"


def decode(path: str | Path, shape: tuple[int, int, int], *, verify: bool = True,
           fit: EvalResize | None = None) -> np.ndarray:
    """uint8 C×H×W array of one image file; raises ImageProblem with the reason. ``fit``:
    torchvision's eval resize and centre crop instead of the cheap resize to the shape."""
    c, h, w = shape
    try:
        if os.path.getsize(path) == 0:
            raise ImageProblem("empty file (0 bytes)")
    except FileNotFoundError:
        raise ImageProblem("file not found (deleted or moved)") from None
    except OSError as exc:
        raise ImageProblem(f"cannot be read ({exc.strerror or exc})") from None
    try:
        if verify and not _starts_as_jpeg(path):   # Pillow's verify checks nothing in a JPEG
            with Image.open(path) as probe:
                _check_pixels(probe)
                probe.verify()
        with Image.open(path) as img:
            _check_pixels(img)
            jpeg = img.format in ("JPEG", "MPO")   # EXIF read from the header, no decoding
            orientation = _orientation(img) if jpeg else 1
            tw, th = (h, w) if orientation in (5, 6, 7, 8) else (w, h)  # in the file's orientation
            if jpeg and fit is None:   # a reduced-scale decode changes the pixels
                img.draft("RGB" if c == 3 else "L", (tw, th))   # decode at a reduced scale
            img.load()
            if not jpeg:   # (a PNG's EXIF may follow the pixels: read it after decoding)
                orientation = _orientation(img)
                tw, th = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
            if fit is None:
                img = _reduce(img, tw, th)
            if orientation in _TRANSPOSE:
                img = img.transpose(_TRANSPOSE[orientation])
            img = convert_image(img, c)
            if fit is not None:
                img = _eval_resize(img, fit, w, h)
            elif img.size != (w, h):
                img = img.resize((w, h), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except ImageProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow plugins raise a zoo of types on bad data
        raise _open_error(exc) from None
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    out = np.ascontiguousarray(arr)
    return out if out.flags.writeable else out.copy()   # torch.from_numpy wants it writable
