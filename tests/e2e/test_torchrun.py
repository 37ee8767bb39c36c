"""The exported training script trains single-process and under torchrun (2 processes,
gloo on CPU), writes a metrics CSV the app imports, and resumes from its checkpoint."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.export import export_project, import_metrics_csv
from visionstudio.core.templates import load_template

# Same samples, same global batches (DistributedSampler splits one shuffled order between
# the ranks and DDP averages their gradients), so the runs differ only by float rounding.
ACCURACY_TOLERANCE = 0.05


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("WORLD_SIZE", None), env.pop("RANK", None), env.pop("LOCAL_RANK", None)
    return env


def _run(cmd: list[str], cwd) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, time.perf_counter() - start


@pytest.fixture
def bundle(tmp_path_factory):
    doc = load_template("classic_cnn")
    doc.dataset = DatasetConfig("shapes", {"samples": 512, "val_samples": 128})
    doc.training = doc.training.replace(epochs=1, batch_size=32, seed=0)
    out = tmp_path_factory.mktemp("bundle")
    export_project(doc, "script", out)
    return out


@pytest.mark.slow
def test_single_process_vs_torchrun(bundle, record_property):
    single, t_single = _run([sys.executable, "train.py", "--out", "single"], bundle)
    port = _free_port()
    multi, t_multi = _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           f"--master_port={port}", "train.py", "--out", "multi"], bundle)
    assert "2 process(es) on cpu" in multi.stdout
    rows_single = import_metrics_csv(bundle / "single" / "metrics.csv")
    rows_multi = import_metrics_csv(bundle / "multi" / "metrics.csv")
    assert [r["epoch"] for r in rows_single] == [1] == [r["epoch"] for r in rows_multi]
    assert rows_single[0]["step"] == rows_multi[0]["step"] == 16
    acc_single, acc_multi = rows_single[-1]["val_accuracy"], rows_multi[-1]["val_accuracy"]
    print(f"\nval accuracy single {acc_single:.4f} ({t_single:.1f} s), "
          f"torchrun x2 {acc_multi:.4f} ({t_multi:.1f} s)")
    record_property("accuracy", (acc_single, acc_multi))
    assert abs(acc_single - acc_multi) <= ACCURACY_TOLERANCE
    assert abs(rows_single[0]["train_loss"] - rows_multi[0]["train_loss"]) < 1e-3
    # Only rank 0 wrote checkpoints; they hold safetensors weights the app can export.
    last = bundle / "multi" / "checkpoints" / "last"
    assert sorted(p.name for p in last.iterdir()) == ["model.safetensors", "optimizer.pt",
                                                      "train_state.json"]
    result = export_project(load_template("classic_cnn"), "pytorch", bundle / "reexport",
                            weights=last / "model.safetensors")
    assert "trained" in result.message
    # Resume the single-process run for a second epoch from its last checkpoint.
    proc, t_resume = _run([sys.executable, "train.py", "--out", "single", "--resume",
                           "--epochs", "2"], bundle)
    assert "resumed from" in proc.stdout and "epoch 2/2" in proc.stdout
    rows = import_metrics_csv(bundle / "single" / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["step"] == 32
    assert rows[0] == rows_single[0]
