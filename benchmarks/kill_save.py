"""kill -9 during save: the project file is always the old or the new version, and the
next save leaves no temporary file behind.

    python benchmarks/kill_save.py [--trials 100] [--runs 8000] [--seed 0] [--json]

A large project (``--runs`` real-sized run entries: about 7 MB with the default) is
saved as version A. Each trial forks a child that saves versions B and A alternately,
as fast as it can, and SIGKILLs it after a random delay (0 to 2 saves long). After each
kill the file must be byte-for-byte A or B (both complete, valid projects): anything
else counts as corrupt. Kills that strike mid-write leave the child's temporary file;
the next child's saves clean those up, and after the last trial one ordinary
``save_project`` must leave none. The file's mode (set to 0640 first) must survive.

Runs in a fresh process that imports no torch (the project I/O does not need it), and
forks its writers, so 100 trials take seconds. POSIX only (fork, SIGKILL).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visionstudio.core.project import (
    atomic_write_bytes,
    dumps_project,
    parse_project,
    save_project,
)
from visionstudio.core.project.atomic import temp_pattern


def big_project(runs: int, name: str) -> str:
    entry = {"name": "Run", "created": "2026-01-01T00:00:00+00:00", "status": "finished",
             "settings": {"training": {"epochs": 10, "batch_size": 64, "seed": 0, "device": "auto",
                                       "optimizer": {"key": "adam", "params": {"lr": 0.001}}},
                          "dataset": {"key": "shapes", "params": {"samples": 2000}}},
             "summary": {"epochs": 10, "steps": 320, "train_loss": 0.125, "val_accuracy": 0.875},
             "resumed_from": None}
    data = {"format": "visionstudio.project", "schema_version": 1, "name": name,
            "description": "kill -9 during save " * 50,
            "runs": [{**entry, "id": f"r{i:06d}", "folder": f"r{i:06d}", "name": f"Run {i}"}
                     for i in range(runs)]}
    return dumps_project(parse_project(json.dumps(data)))


def temps(path: Path) -> list[str]:
    pattern = temp_pattern(path.name)
    return [p.name for p in path.parent.iterdir() if pattern.fullmatch(p.name)]


def writer(path: Path, versions: list[bytes]) -> None:
    """The child: save forever (until SIGKILL)."""
    i = 0
    while True:
        atomic_write_bytes(path, versions[i % 2])
        i += 1


def attack(trials: int, runs: int, seed: int) -> dict:
    rng = random.Random(seed)
    a_text, b_text = big_project(runs, "version A"), big_project(runs, "version B")
    a, b = a_text.encode("utf-8"), b_text.encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.vsproj"
        path.write_bytes(a)
        os.chmod(path, 0o640)
        t = time.perf_counter()
        atomic_write_bytes(path, a)
        save_s = time.perf_counter() - t
        corrupt = kills_mid_write = most_temps = 0
        started = time.perf_counter()
        for _ in range(trials):
            pid = os.fork()
            if pid == 0:   # child
                try:
                    writer(path, [b, a])
                finally:
                    os._exit(1)
            time.sleep(rng.uniform(0.0, 2 * save_s))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            data = path.read_bytes()
            if data not in (a, b):
                corrupt += 1
            left = temps(path)
            kills_mid_write += bool(left)
            most_temps = max(most_temps, len(left))
        attack_s = time.perf_counter() - started
        before_save = len(temps(path))
        save_project(parse_project(a_text), path)
        after = temps(path)
        return {"trials": trials, "corrupt": corrupt, "kills_that_left_a_temp_file": kills_mid_write,
                "most_temp_files_at_once": most_temps, "temp_files_before_the_next_save": before_save,
                "temp_files_left_after_the_next_save": len(after), "file_bytes": len(a),
                "one_save_s": round(save_s, 4), "attack_s": round(attack_s, 2),
                "mode_kept": oct(path.stat().st_mode & 0o777) == "0o640",
                "valid_at_end": parse_project(path.read_bytes()).name == "version A",
                "torch_imported": "torch" in sys.modules}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--runs", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = attack(args.trials, args.runs, args.seed)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:38s} {value}")


if __name__ == "__main__":
    main()
