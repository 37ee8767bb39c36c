"""Which weights the inspector looks at: a run's checkpoint, or the seeded start.

``inspection_model`` builds the current graph and loads the newest weights it can:
the run's ``checkpoints/last`` (verified), else the seeded initial weights — and says
which in ``ModelSource.description`` so the UI can show it. ``read_run_weights`` is
the cheap read used for live refreshes while a run trains: the trainer writes
``checkpoints/last`` atomically before it announces an epoch's end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the viewer's module loads at start-up
    from torch import nn

from dataclasses import dataclass
from pathlib import Path

MODEL_FILE = "model.safetensors"


@dataclass(frozen=True)
class ModelSource:
    model: nn.Module
    description: str          # for the user: "Run 2, epoch 5" / "initial weights (seed 0)"
    trained: bool             # False: seeded initial weights
    checkpoint: Path | None = None
    epoch: int | None = None


def checkpoint_epoch(path: Path) -> int | None:
    try:
        from visionstudio.core.training.checkpoint import read_meta

        meta = read_meta(path)["trainer"]
        if isinstance(meta.get("history"), list):      # epochs completed
            return len(meta["history"])
        return max(int(meta.get("epoch", 1)) - 1, 0)   # "epoch" is where a resume starts
    except Exception:  # noqa: BLE001 - the epoch is decoration
        return None


def inspection_model(graph, analysis=None, *, seed: int = 0, run_folder: Path | None = None,
                     run_name: str = "the run") -> ModelSource:
    """The current graph with the latest weights (raises BuildError on a broken graph)."""
    from visionstudio.core.build import build_model
    from visionstudio.core.training.checkpoint import CheckpointError
    from visionstudio.core.training.checkpoint_fit import load_weights

    model = build_model(graph, analysis, seed=seed)
    model.eval()
    reason = "no trained run yet"
    if run_folder is not None:
        ckpt = Path(run_folder) / "checkpoints" / "last"
        if ckpt.is_dir():
            try:
                load_weights(ckpt, model)
            except CheckpointError as exc:
                reason = f"{run_name}'s weights do not fit the current network ({_short(exc)})"
                model = build_model(graph, analysis, seed=seed)
                model.eval()
            else:
                epoch = checkpoint_epoch(ckpt)
                text = f"{run_name}, after epoch {epoch}" if epoch is not None else run_name
                return ModelSource(model, text, True, ckpt, epoch)
        else:
            reason = f"{run_name} has no checkpoint yet"
    return ModelSource(model, f"initial weights (seed {seed}) — {reason}", False)


def read_run_weights(run_folder: Path, model: nn.Module) -> int | None:
    """Load ``checkpoints/last`` weights into ``model`` without the full verification;
    returns the number of epochs it holds, None when it cannot be read right now."""
    from safetensors.torch import load as st_load

    ckpt = Path(run_folder) / "checkpoints" / "last"
    try:
        state = st_load((ckpt / MODEL_FILE).read_bytes())
        model.load_state_dict(state)
    except Exception:  # noqa: BLE001 - being replaced right now, or does not fit: skip
        return None
    return checkpoint_epoch(ckpt)


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0]
    return text if len(text) < 120 else text[:117] + "…"


def weights_into(model: nn.Module, state: dict) -> bool:
    """Load a {name: numpy/tensor} state dict (a worker's CPU copy); False if it does not fit."""
    import torch
    try:
        model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    except (RuntimeError, KeyError):
        return False
    return True
