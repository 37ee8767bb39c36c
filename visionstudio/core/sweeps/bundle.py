"""The sweep bundle: what a machine needs to pull trials of one shared study.

    BUNDLE/
      sweep.json        the study definition (the sweep file, checked)
      project.vsproj    the project, without its runs (every trial starts from it)
      script/           the project's network exported as train.py (torchrun-ready)
      README.md         the worker command and the multi-node torchrun recipe

Any number of machines run ``visionstudio sweep-worker BUNDLE --storage URL`` against one
Optuna storage (``postgresql://…``); each trial's runs go to that machine's
``BUNDLE/project.vsproj.runs/``. A trial's own network, with its values and seed, is
exported on demand (``export_trial_script``; ``sweep-worker BUNDLE --export-trial N``),
since trials are drawn while the sweep runs. The folder must be new, empty or an earlier
bundle: nothing else is overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from visionstudio.core.export import export_project
from visionstudio.core.project import atomic_write_bytes, load_project, save_project
from visionstudio.core.sweeps.config import SweepConfig, load_sweep_text
from visionstudio.core.sweeps.parameters import apply_parameters, check_parameters, copy_document

SWEEP_FILE = "sweep.json"
PROJECT_FILE = "project.vsproj"
SCRIPT_DIR = "script"
README_FILE = "README.md"

README = """# Sweep bundle: {name}

The study definition is `sweep.json`; every trial starts from `project.vsproj`.
On each machine (and once per GPU), with VisionStudio installed:

    visionstudio sweep-worker . --storage {storage}
    visionstudio sweep-worker . --storage {storage} --device cuda:1   # a second GPU

All workers pull trials from the one study in that storage until the budget is spent.
Use a database every machine reaches (`postgresql://user:password@host/db`); a
`sqlite:///…` file serves the workers of one machine only. A trial's runs go to
`project.vsproj.runs/` on the machine that trained it; the study keeps each trial's
values, seeds and settings.

To train one trial's network with plain PyTorch (on many machines with torchrun):

    visionstudio sweep-worker . --storage {storage} --export-trial 3 --out trial3
    cd trial3 && python train.py
    torchrun --nnodes=2 --nproc_per_node=1 --node_rank=0 --rdzv_backend=c10d \\
        --rdzv_endpoint=HOST:29500 --rdzv_id=trial3 train.py    # node_rank 1 on the other

`script/` is the project's own network exported the same way.
"""


class BundleError(ValueError):
    """A bundle that cannot be written or read, in words."""


def write_bundle(document: Any, config: SweepConfig, out: str | os.PathLike[str],
                 storage_hint: str = "postgresql://user:password@host/visionstudio") -> list[Path]:
    """Write the bundle for sweeping ``document`` with ``config`` into ``out``."""
    check_parameters(document, config)
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()) and not (folder / SWEEP_FILE).is_file():
        raise BundleError(f"{folder} is not empty and holds no sweep bundle; choose a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    project = copy_document(document)
    if document.initial_weights and document.folder is not None:
        source = Path(document.folder) / document.initial_weights
        if source.is_file():
            shutil.copyfile(source, folder / Path(document.initial_weights).name)
            project.initial_weights = Path(document.initial_weights).name
    project.folder = folder
    save_project(project, folder / PROJECT_FILE)
    atomic_write_bytes(folder / SWEEP_FILE, (json.dumps(config.to_dict(), indent=2) + "\n").encode("utf-8"))
    export_project(project, "script", folder / SCRIPT_DIR)
    readme = README.format(name=config.name, storage=storage_hint)
    atomic_write_bytes(folder / README_FILE, readme.encode("utf-8"))
    return [folder / SWEEP_FILE, folder / PROJECT_FILE, folder / SCRIPT_DIR, folder / README_FILE]


def read_bundle(bundle: str | os.PathLike[str]) -> tuple[Any, SweepConfig]:
    """The bundle's project and sweep config, both checked as untrusted files."""
    folder = Path(bundle)
    sweep, project = folder / SWEEP_FILE, folder / PROJECT_FILE
    for path in (sweep, project):
        if not path.is_file():
            raise BundleError(f"{folder} is not a sweep bundle: it has no {path.name}")
    with open(sweep, "rb") as fh:
        text = fh.read(1024 * 1024)
    config = load_sweep_text(text)
    document = load_project(project)
    check_parameters(document, config)
    return document, config


def trial_document(document: Any, config: SweepConfig, params: dict[str, Any], seed: int) -> Any:
    """The project a trial trained: its values applied, its seed and epochs set."""
    trial = apply_parameters(document, params)
    changes: dict[str, Any] = {"seed": seed}
    if config.epochs is not None:
        changes["epochs"] = config.epochs
    trial.set_training(trial.training.replace(**changes))
    return trial


def export_trial_script(document: Any, config: SweepConfig, row: Any, out: str | os.PathLike[str]) -> Any:
    """Export trial ``row``'s network and settings (its first seed) as a train.py folder."""
    seed = row.seeds[0] if row.seeds else config.seed
    return export_project(trial_document(document, config, row.params, seed), "script", out)
