"""Where the app's runtime resources (icons, templates) live; no Qt here.

In a source checkout they are in the repository's top-level ``resources/`` folder.
An installed wheel ships them as data files under ``<prefix>/share/visionstudio/``
(``[tool.setuptools.data-files]`` in pyproject.toml): ``share/visionstudio/icons/...``
and ``share/visionstudio/templates`` (plus, for the desktop, the icon theme, desktop entry
and metainfo under ``share/icons``, ``share/applications`` and ``share/metainfo``).
A PyInstaller bundle (``packaging/visionstudio.spec``) keeps the checkout layout:
``<_internal>/resources``. ``$VISIONSTUDIO_RESOURCES`` overrides everything.

    >>> resource_path("icons", "layers", "conv.svg")   # doctest: +SKIP
    PosixPath('/usr/share/visionstudio/icons/layers/conv.svg')
    >>> app_icon_path(48)                               # doctest: +SKIP
    PosixPath('.../icons/app/hicolor/48x48/apps/io.github.visionstudio.VisionStudio.png')
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

ENV_VAR = "VISIONSTUDIO_RESOURCES"


def resource_roots() -> list[Path]:
    """Folders that may hold ``icons/`` and ``templates/``, most specific first."""
    roots: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        roots.append(Path(env))
    # Source checkout: visionstudio/core/resources.py -> <repo>/resources
    roots.append(Path(__file__).resolve().parents[2] / "resources")
    # Frozen bundle (PyInstaller one-folder, packaging/visionstudio.spec): <_internal>/resources,
    # which the checkout rule above also gives; stated for bundles with other layouts.
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        roots.append(Path(meipass) / "resources")
    # Installed wheel: data files land under the install scheme's "data" path.
    prefixes = [sysconfig.get_path("data"), sys.prefix, sys.base_prefix]
    try:
        prefixes.append(site.getuserbase())
    except (AttributeError, OSError):  # pragma: no cover - unusual site modules
        pass
    for prefix in prefixes:
        if prefix:
            roots.append(Path(prefix) / "share" / "visionstudio")
    seen: set[Path] = set()
    unique = []
    for root in roots:
        if root not in seen:
            seen.add(root)
            unique.append(root)
    return unique


def resource_path(*parts: str) -> Path | None:
    """The first existing ``<root>/<parts...>`` over :func:`resource_roots`, else None.

    ``resource_path("icons", "layers", "conv.svg")`` finds a layer icon;
    ``resource_path("icons", "app", "visionstudio.svg")`` the application icon.
    """
    for root in resource_roots():
        path = root.joinpath(*parts)
        if path.exists():
            return path
    return None


def resource_dir(*parts: str) -> Path | None:
    """Like :func:`resource_path` but only matches folders."""
    for root in resource_roots():
        path = root.joinpath(*parts)
        if path.is_dir():
            return path
    return None


APP_ID = "io.github.visionstudio.VisionStudio"  # desktop file, metainfo and icon name
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def app_icon_path(size: int | None = None) -> Path | None:
    """The application icon: the SVG, or the PNG of ``size`` pixels (one of APP_ICON_SIZES).

    The files form a hicolor icon-theme tree under ``icons/app/hicolor``.
    """
    if size is None:
        return resource_path("icons", "app", "hicolor", "scalable", "apps", f"{APP_ID}.svg")
    return resource_path("icons", "app", "hicolor", f"{size}x{size}", "apps", f"{APP_ID}.png")


def app_icon_paths() -> list[Path]:
    """Every shipped file of the application icon (SVG first, then PNGs small to large);
    add each to one QIcon for a window icon that is sharp at every size."""
    paths = [app_icon_path()] + [app_icon_path(size) for size in APP_ICON_SIZES]
    return [path for path in paths if path is not None]


__all__ = ["APP_ICON_SIZES", "APP_ID", "ENV_VAR", "app_icon_path", "app_icon_paths",
           "resource_dir", "resource_path", "resource_roots"]
