"""The pure core: no Qt here, ever (a test enforces it)."""

from visionstudio import __version__

__all__ = ["__version__"]
