"""python -m visionstudio.ui.sweeps: the sweep panel alone, on demo trials or a real tiny sweep."""

from visionstudio.ui.sweeps.demo import run_demo

raise SystemExit(run_demo())
