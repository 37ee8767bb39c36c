"""python -m visionstudio.ui.inspector: the inspector alone on a demo network."""

from visionstudio.ui.inspector.panel import main

raise SystemExit(main())
