"""kill -9 during save, as an attacker (or a power cut) does it: 100 writers SIGKILLed at
random times (benchmarks/kill_save.py, in a process without torch). The file is always
the old or the new complete version, and the next save leaves no temporary file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow,   # ~5 s: 100 forks of a 2 MB save
              pytest.mark.skipif(os.name != "posix", reason="fork and SIGKILL")]


def test_kill_9_during_save_never_corrupts_and_leaves_no_temp_file():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "kill_save.py"), "--trials", "100",
                          "--runs", "3000", "--json"], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["trials"] == 100
    assert result["corrupt"] == 0
    assert result["temp_files_left_after_the_next_save"] == 0
    assert result["mode_kept"] and result["valid_at_end"]
    assert not result["torch_imported"]
