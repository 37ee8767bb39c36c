"""Render the application icon's PNGs from its SVG.

The icons form a freedesktop icon-theme tree, so they install as they are:

    resources/icons/app/hicolor/scalable/apps/io.github.visionstudio.VisionStudio.svg  (master)
    resources/icons/app/hicolor/<N>x<N>/apps/io.github.visionstudio.VisionStudio.png  (rendered)

    python packaging/render_icons.py               # writes the PNGs, N = 16 ... 512
    python packaging/render_icons.py --ico --icns  # also packaging/windows/visionstudio.ico and
                                                   # packaging/macos/visionstudio.icns (Pillow)

Uses PySide6's QSvgRenderer (offscreen; no display needed). The PNGs are committed, so
this only needs rerunning after the SVG changes. Output is deterministic for a given Qt.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICON_NAME = "io.github.visionstudio.VisionStudio"
THEME = ROOT / "resources" / "icons" / "app" / "hicolor"
SVG = THEME / "scalable" / "apps" / f"{ICON_NAME}.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def png_path(theme: Path, size: int) -> Path:
    return theme / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"


def render(svg: Path, theme: Path, sizes=SIZES) -> list[Path]:
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
        path = png_path(theme, size)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.convertToFormat(QImage.Format.Format_ARGB32).save(str(path), "PNG"):
            raise SystemExit(f"cannot write {path}")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=SVG)
    parser.add_argument("--theme", type=Path, default=THEME, help="hicolor folder to write into")
    parser.add_argument("--ico", action="store_true", help="also write visionstudio.ico (Windows)")
    parser.add_argument("--icns", action="store_true", help="also write visionstudio.icns (macOS)")
    args = parser.parse_args(argv)
    for path in render(args.svg, args.theme):
        print(path)
    if args.ico or args.icns:
        from PIL import Image

        big = Image.open(png_path(args.theme, 512))
        if args.ico:  # Windows: executable / shortcut icon (PyInstaller's icon=)
            path = ROOT / "packaging" / "windows" / "visionstudio.ico"
            path.parent.mkdir(parents=True, exist_ok=True)
            big.save(path, sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
            print(path)
        if args.icns:  # macOS: app bundle icon (PyInstaller BUNDLE(icon=))
            path = ROOT / "packaging" / "macos" / "visionstudio.icns"
            path.parent.mkdir(parents=True, exist_ok=True)
            big.save(path)
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
