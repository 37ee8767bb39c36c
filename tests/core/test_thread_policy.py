"""The training thread's policy (core/training/thread_policy.py): all the cores the command
line would use, at a lower OS priority, applied on the thread itself so that the OpenMP
team it creates inherits both. Behaviour only: which counts and priorities end up where."""

from __future__ import annotations

import os
import sys
import threading

import pytest

torch = pytest.importorskip("torch")

from visionstudio.core.training.thread_policy import (  # noqa: E402
    LOWER_PRIORITY,
    NICE_ENV,
    THREADS_ENV,
    AppliedPolicy,
    ThreadPolicy,
    apply_to_current_thread,
    policy_for,
    thread_nice,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")


def test_cpu_training_uses_the_command_lines_thread_count_at_a_lower_priority():
    assert policy_for("cpu", 2, env={}) == ThreadPolicy(threads=2, nice=LOWER_PRIORITY)
    assert policy_for("cpu", 1, env={}) == ThreadPolicy(threads=1, nice=LOWER_PRIORITY)


def test_overrides_from_the_environment_and_garbage_ignored():
    assert policy_for("cpu", 2, env={THREADS_ENV: "3"}).threads == 3
    assert policy_for("cpu", 2, env={THREADS_ENV: "0"}).threads == 2       # 0: the default
    assert policy_for("cpu", 2, env={THREADS_ENV: "many"}).threads == 2
    assert policy_for("cpu", 2, env={THREADS_ENV: "9" * 40}).threads == 2  # not a number we take
    assert policy_for("cpu", 2, env={NICE_ENV: "0"}).nice == 0
    assert policy_for("cpu", 2, env={NICE_ENV: "99"}).nice == 19
    assert policy_for("cpu", 2, env={NICE_ENV: "-5"}).nice == 0            # never above the GUI


def test_on_a_gpu_the_thread_count_is_left_alone_but_the_priority_is_lowered():
    assert policy_for("cuda", 2, env={}) == ThreadPolicy(threads=None, nice=LOWER_PRIORITY)


def _in_a_thread(policy: ThreadPolicy, hold: threading.Event | None = None):
    """Apply the policy in a fresh thread, run a convolution big enough for a parallel
    region (so the thread's OpenMP team exists), then report from inside the thread."""
    out: dict = {}
    ready = threading.Event()

    def body() -> None:
        applied = apply_to_current_thread(policy)
        x, w = torch.randn(8, 16, 64, 64), torch.randn(16, 16, 3, 3)
        torch.nn.functional.conv2d(x, w, padding=1)
        out["applied"], out["threads_after_ops"] = applied, torch.get_num_threads()
        ready.set()
        if hold is not None:
            hold.wait(60)

    t = threading.Thread(target=body)
    t.start()
    ready.wait(120)
    return t, out


def _task_nices() -> dict[int, int]:
    out = {}
    for name in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue   # a thread that just ended
        out[int(name)] = int(fields[16])   # field 19 of stat: nice
    return out


@linux_only
def test_the_thread_and_its_openmp_team_run_below_the_main_thread():
    main_nice, main_threads = thread_nice(threading.get_native_id()), torch.get_num_threads()
    expected = min(19, main_nice + LOWER_PRIORITY)
    hold = threading.Event()
    t, out = _in_a_thread(ThreadPolicy(threads=2, nice=LOWER_PRIORITY), hold)
    try:
        applied: AppliedPolicy = out["applied"]
        assert applied.note is None
        assert applied.nice == expected and thread_nice(applied.thread_id) == expected
        assert applied.threads == 2 and out["threads_after_ops"] == 2
        nices = _task_nices()
        assert nices[applied.thread_id] == expected
        # its OpenMP helper threads were created by it, after the priority was lowered
        lowered = [tid for tid, n in nices.items() if n == expected and tid != applied.thread_id]
        if main_nice != expected:
            assert lowered, f"no OpenMP helper of the training thread runs at nice {expected}: {nices}"
    finally:
        hold.set()
        t.join(60)
    # the main (GUI) thread keeps its priority and its own thread count
    assert thread_nice(threading.get_native_id()) == main_nice
    assert torch.get_num_threads() == main_threads


def test_without_a_priority_step_nothing_is_lowered():
    main_nice = thread_nice(threading.get_native_id())
    t, out = _in_a_thread(ThreadPolicy(threads=1, nice=0))
    t.join(60)
    assert out["applied"].nice == main_nice
    assert out["applied"].threads == 1


SERIAL_PROBE = r"""
import json, os, threading, torch
from visionstudio.core.training.thread_policy import default_thread_count, serial_torch_on_this_thread
torch.set_num_threads(2)                     # as on a 2-core machine, whatever this one has
def elsewhere(fn):
    helper = threading.Thread(target=fn)
    helper.start()
    helper.join()
changed = serial_torch_on_this_thread(elsewhere)
threads = set(os.listdir("/proc/self/task"))
conv = torch.nn.Conv2d(16, 32, 3)
with torch.no_grad():
    for _ in range(3):
        conv(torch.randn(16, 16, 64, 64)).sum()
made = len(set(os.listdir("/proc/self/task")) - threads)
fresh = []
worker = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
worker.start(); worker.join()
print(json.dumps({"changed": changed, "here": torch.get_num_threads(), "made": made,
                  "fresh": fresh[0], "default": default_thread_count(),
                  "again": serial_torch_on_this_thread(elsewhere)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc")
def test_a_serial_thread_makes_no_openmp_team_and_fresh_threads_keep_the_default():
    """The GUI thread's torch runs serially: a team made there would outlive every run and
    make each run's team sleep at its barriers (more OpenMP threads than CPUs)."""
    import json
    import subprocess

    pytest.importorskip("torch")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", SERIAL_PROBE], capture_output=True, text=True,
                          timeout=300, cwd=root, env={**os.environ, "PYTHONPATH": root}, check=False)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == {"changed": True, "here": 1, "made": 0, "fresh": 2, "default": 2, "again": False}
