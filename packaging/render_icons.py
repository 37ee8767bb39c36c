"""Render the application icon's PNGs from resources/icons/app/visionstudio.svg.

    python packaging/render_icons.py            # writes resources/icons/app/visionstudio-<N>.png
    python packaging/render_icons.py --ico --icns  # also visionstudio.ico / .icns (needs Pillow)

Uses PySide6's QSvgRenderer (offscreen; no display needed). The PNGs are committed, so
this only needs rerunning after the SVG changes. Output is deterministic for a given Qt.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_ICONS = ROOT / "resources" / "icons" / "app"
SVG = APP_ICONS / "visionstudio.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(svg: Path, out_dir: Path, sizes=SIZES) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"cannot parse {svg}")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"visionstudio-{size}.png"
        if not image.convertToFormat(QImage.Format.Format_ARGB32).save(str(path), "PNG"):
            raise SystemExit(f"cannot write {path}")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=SVG)
    parser.add_argument("--out", type=Path, default=APP_ICONS)
    parser.add_argument("--ico", action="store_true", help="also write visionstudio.ico (Windows)")
    parser.add_argument("--icns", action="store_true", help="also write visionstudio.icns (macOS)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in render(args.svg, args.out):
        print(path)
    if args.ico or args.icns:
        from PIL import Image

        big = Image.open(args.out / "visionstudio-512.png")
        if args.ico:
            path = args.out / "visionstudio.ico"
            big.save(path, sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
            print(path)
        if args.icns:
            path = args.out / "visionstudio.icns"
            big.save(path)
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
