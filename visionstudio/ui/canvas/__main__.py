"""python -m visionstudio.ui.canvas: the canvas alone on a demo network."""

from visionstudio.ui.canvas.view import main

raise SystemExit(main())
