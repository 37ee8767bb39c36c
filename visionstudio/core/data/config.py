"""Which dataset a project trains on, and with which settings.

Kept separate from the dataset registry's loaders so a project file can be read
(and its dataset section validated) without importing torchvision.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.data.preprocessing import Preprocessing
from visionstudio.core.data.registry import DATASETS
from visionstudio.core.params import ConfigError, validate_section

DEFAULT_DATASET = "shapes"


@dataclass(frozen=True)
class DatasetConfig:
    key: str = DEFAULT_DATASET
    params: dict[str, Any] = field(default_factory=dict)
    # what pretrained weights expect (mean/std used instead of the dataset's own); None: none
    preprocessing: Preprocessing | None = None

    def __post_init__(self) -> None:
        # A config made in code (DatasetConfig(), DatasetConfig("mnist")) gets the same
        # defaults a loaded one has, so documents compare equal after a save and load.
        if self.key in DATASETS:
            filled = {spec.name: copy.deepcopy(spec.default) for spec in DATASETS.get(self.key).params}
            filled.update(self.params)
            object.__setattr__(self, "params", filled)

    def to_dict(self) -> dict[str, Any]:
        out = {"key": self.key, "params": copy.deepcopy(self.params)}
        if self.preprocessing is not None:
            out["preprocessing"] = self.preprocessing.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str = "dataset") -> DatasetConfig:
        if not isinstance(data, dict):
            raise ConfigError(path, "must be an object with 'key' and 'params'")
        key = data.get("key", DEFAULT_DATASET)
        if not isinstance(key, str):
            raise ConfigError(f"{path}.key", "must be a dataset name")
        params = data.get("params", {})
        if key not in DATASETS:
            raise ConfigError(f"{path}.key", f"unknown dataset {key!r} (known: {', '.join(DATASETS)})")
        spec = DATASETS.get(key)
        pre = data.get("preprocessing")
        return cls(DATASETS.canonical(key), validate_section(spec.params, params, f"{path}.params"),
                   None if pre is None else Preprocessing.from_dict(pre, f"{path}.preprocessing"))
