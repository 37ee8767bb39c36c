"""Crafted project files with a huge free-form ``runs`` entry: time and peak memory to open.

    python benchmarks/hostile_runs.py [--mib 57] [--shapes ints,objects,strings,entries]

Each shape fills ``runs`` up to ``--mib`` MiB (under the 64 MiB file limit):

- ints:     one run whose ``settings`` holds a list of millions of small numbers
- objects:  one run whose ``summary`` holds a list of millions of tiny objects
- strings:  one run with a single huge string
- entries:  hundreds of thousands of minimal run entries
- escaped:  "ints" with a surrogate-pair escape in the name (which makes the loader
            check every string for lone surrogates before the runs are looked at)

Every file is opened with ``load_project`` in a fresh subprocess (no torch import), so
the peak RSS (``ru_maxrss``) belongs to that load alone; the line reports whether it
was refused (the problem, shortened) or loaded, the seconds and the peak RSS. Issue
#11 measured 65 s and 4.5 GB for such a file before runs were bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from visionstudio.core.project import ProjectFormatError, load_project
t = time.perf_counter()
try:
    doc = load_project(sys.argv[1])
    outcome = f"loaded ({len(doc.runs)} runs)"
except ProjectFormatError as exc:
    outcome = "refused: " + str(exc).split(": ", 1)[-1][:90]
seconds = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_rss_mib": rss}))
"""


def craft(shape: str, mib: int) -> bytes:
    name = b'"crafted \\ud83d\\ude00"' if shape == "escaped" else b'"crafted"'
    head = b'{"format": "visionstudio.project", "schema_version": 1, "name": ' + name + b', "runs": '
    budget = mib * 1024 * 1024 - len(head) - 200
    if shape in ("ints", "escaped"):
        n = budget // 2
        body = b'[{"id": "r1", "name": "Run 1", "settings": {"x": [' + b"0," * (n - 1) + b"0]}}]"
    elif shape == "objects":
        item = b'{"a": 0},'
        n = budget // len(item)
        body = b'[{"id": "r1", "name": "Run 1", "summary": {"x": [' + item * (n - 1) + b'{"a": 0}]}}]'
    elif shape == "strings":
        body = b'[{"id": "r1", "name": "Run 1", "status": "' + b"x" * budget + b'"}]'
    elif shape == "entries":
        one = b'{"id": "r%07d"},'
        n = budget // len(one % 0)
        body = b"[" + b"".join(one % i for i in range(n - 1)) + b'{"id": "last"}]'
    else:
        raise SystemExit(f"unknown shape {shape!r}")
    return head + body + b"}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=57)
    parser.add_argument("--shapes", default="ints,objects,strings,entries,escaped")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            path = Path(tmp) / f"{shape}.vsproj"
            path.write_bytes(craft(shape, args.mib))
            size = path.stat().st_size / (1024 * 1024)
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
            out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(ROOT)], env=env,
                                 capture_output=True, text=True, timeout=900)
            if out.returncode != 0:
                print(f"{shape:8s} {size:5.1f} MiB: crashed (rc {out.returncode}) {out.stderr[-300:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{shape:8s} {size:5.1f} MiB: {r['seconds']:6.2f} s, peak RSS {r['peak_rss_mib']:7.0f} MiB,"
                  f" {r['outcome']}")
            path.unlink()


if __name__ == "__main__":
    main()
