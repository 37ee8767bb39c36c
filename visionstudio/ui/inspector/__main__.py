"""python -m visionstudio.ui.inspector: the inspector alone on a demo network."""

from .panel import main

raise SystemExit(main())
