"""benchmarks/gpu_suite.py runs end to end on the CPU (``--quick``) and prints every line
of its table, so the script is known to work before the day a GPU is lent. The figures
themselves are not checked (timings are for the benchmark, not the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINES = ("engine", "idiomatic", "engine / idiomatic", "engine compiled", "idiomatic compiled",
         "compiled engine / idiomatic", "app / CLI", "feature maps small_resnet",
         "feature maps resnet50", "peak memory engine", "peak memory idiomatic")


@pytest.mark.slow
def test_gpu_suite_quick_on_cpu_prints_every_line(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_STATE_HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_suite.py"), "--device", "cpu",
                          "--quick"], capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    table = [line for line in out.stdout.split("\nfigure", 1)[1].splitlines()[1:]
             if line and not line.startswith("total")]
    assert len(table) == len(LINES)
    values = {}
    for label, line in zip(LINES, table):
        assert line.startswith(label + "  "), (label, line)
        values[label] = line[len(label):].strip()
    assert "images/s" in values["engine"] and "images/s" in values["idiomatic"]
    assert "x" in values["engine / idiomatic"] and "MiB" in values["peak memory engine"]
    assert "skipped" in values["engine compiled"] and "CPU" in values["engine compiled"]
