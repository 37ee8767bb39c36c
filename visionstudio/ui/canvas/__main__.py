"""python -m visionstudio.ui.canvas: the canvas alone on a demo network."""

from .view import main

raise SystemExit(main())
