"""The dataset choices the training UI offers, from the core registry (DATASETS).

The registry is the source of truth for every dataset's parameters; the panel lists
its specs and cleans a project's stored params against them before showing or
changing them (a value out of range, or one of another dataset, is not shown).
"""

from __future__ import annotations

from typing import Any

from visionstudio.core.data.registry import DATASETS, DatasetSpec
from visionstudio.core.params import validate_all


def registry() -> dict[str, DatasetSpec]:
    """key -> spec, in the registry's order (the dataset combo box)."""
    return {key: DATASETS.get(key) for key in DATASETS}


def clean_params(key: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` validated against the dataset's specs (defaults filled in); unchanged
    for a key the registry does not know (the panel shows it as it is)."""
    if key not in DATASETS:
        return dict(params)
    clean, _ = validate_all(DATASETS.get(key).params, dict(params or {}))
    return clean
