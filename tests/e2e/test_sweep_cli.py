"""``visionstudio sweep`` and ``sweep-worker``: a line per trial and the best (the command
run in this process); two worker processes sharing one SQLite study finish it with no
trial run twice; a trial's exported train.py under a 2-node × 1-process torchrun on
localhost (gloo)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.core.sweep_helpers import ISSUE_EXAMPLE, tiny_project
from visionstudio.cli import main
from visionstudio.core.export import import_metrics_csv
from visionstudio.core.project import load_project, save_project
from visionstudio.core.sweeps.bundle import write_bundle
from visionstudio.core.sweeps.config import SweepConfig
from visionstudio.core.sweeps.study import load_study_rows

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^trial +(\d+)  (\S+)  val_loss=(\S+)  (complete|pruned|failed|stopped)  [\d.]+s", re.M)


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(name, None)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "visionstudio", *args]


def _project(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.vsproj"
    save_project(tiny_project(), path)
    return path


def test_sweep_prints_a_line_per_trial_and_the_best(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)   # in this process: the command's own code, without a second torch start
    project = _project(tmp_path)
    (tmp_path / "sweep.json").write_text(json.dumps(ISSUE_EXAMPLE))
    assert main(["sweep", str(project), "--config", "sweep.json", "--name", "lr"]) == 0
    out = capsys.readouterr().out
    lines = LINE.findall(out)
    assert [n for n, *_ in lines] == ["0", "1", "2"] and all(state == "complete" for *_, state in lines)
    best = min(lines, key=lambda line: float(line[2]))
    assert f"best: trial {best[0]}  {best[1]}  val_loss={best[2]}" in out
    runs = load_project(project).runs   # the trials are runs of the project
    assert [r["name"] for r in runs] == ["sweep lr · trial 0", "sweep lr · trial 1", "sweep lr · trial 2"]
    assert (tmp_path / "tiny.vsproj.runs" / "sweeps.db").is_file()
    assert all((tmp_path / "tiny.vsproj.runs" / r["id"] / "metrics.csv").is_file() for r in runs)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**ISSUE_EXAMPLE, "parameters": {"layer.conv7.out_channels": [4, 8]}}))
    assert main(["sweep", str(project), "--config", str(bad)]) == 2
    assert "no layer named 'conv7'" in capsys.readouterr().err


def test_two_workers_share_one_study_and_run_no_trial_twice(tmp_path):
    config = SweepConfig.from_dict({**ISSUE_EXAMPLE, "trials": 4, "name": "shared"})
    bundle = tmp_path / "bundle"
    write_bundle(tiny_project(), config, bundle)
    assert {"sweep.json", "project.vsproj", "README.md", "script"} <= {p.name for p in bundle.iterdir()}
    assert "sweep-worker" in (bundle / "README.md").read_text()
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="shared", storage=storage)   # the tables exist before both start
    workers = [subprocess.Popen(_cli("sweep-worker", str(bundle), "--storage", storage, "--device", "cpu"),
                                cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
    numbers = [[int(n) for n, *_ in LINE.findall(out)] for out, _ in outputs]
    rows = load_study_rows(storage, "shared")   # (without a trial asked for once the budget was spent)
    assert sorted(numbers[0] + numbers[1]) == [r.number for r in rows] and len(rows) == 4
    assert all(r.state == "complete" for r in rows)
    assert len({run for r in rows for run in r.run_ids}) == 4
    assert len([p for p in (bundle / "project.vsproj.runs").iterdir() if p.is_dir()]) == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_exported_trial_trains_under_two_node_torchrun(tmp_path, monkeypatch):
    config = SweepConfig.from_dict({**ISSUE_EXAMPLE, "sampler": "grid", "trials": None, "name": "one",
                                    "parameters": {"optimizer.lr": [0.003]}})
    bundle = tmp_path / "bundle"
    write_bundle(tiny_project(), config, bundle)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    monkeypatch.chdir(tmp_path)
    assert main(["sweep-worker", str(bundle), "--storage", storage]) == 0
    export = ["--export-trial", "0", "--out", "trial0"]
    assert main(["sweep-worker", str(bundle), "--storage", storage, *export]) == 0
    folder = tmp_path / "trial0"
    assert json.loads((folder / "config.json").read_text())["optimizer"]["kwargs"]["lr"] == 0.003
    port = _free_port()
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1",
                "--rdzv_backend=c10d", f"--rdzv_endpoint=127.0.0.1:{port}", "--rdzv_id=t0",
                "train.py", "--out", "out"]
    nodes = [subprocess.Popen(torchrun, cwd=folder, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [node.communicate(timeout=240)[0] for node in nodes]
    assert all(node.returncode == 0 for node in nodes), outputs
    assert any("2 process(es) on cpu" in out for out in outputs), outputs
    rows = import_metrics_csv(folder / "out" / "metrics.csv")
    assert len(rows) == 1 and rows[0]["val_loss"] is not None
