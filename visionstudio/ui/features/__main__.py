"""python -m visionstudio.ui.features: the feature-map viewer alone, on a demo model."""

from visionstudio.ui.features.demo import run_demo

raise SystemExit(run_demo())
