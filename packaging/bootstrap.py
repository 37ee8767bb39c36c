#!/usr/bin/env python3
"""Create (or update) the project's virtual environment: ``python3 packaging/bootstrap.py [--dev]``.

Used by ``make run`` and ``make test``. It installs torch and torchvision *together*
so pip picks a matching pair (a torchvision built for one torch build fails to import
next to another: "operator torchvision::nms does not exist"), then VisionStudio itself
in editable mode, and finally checks that the pair really works.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TORCH_PAIR = ["torch>=2.10", "torchvision>=0.25"]


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def venv_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def torch_pair_works(python: Path) -> bool:
    probe = "import torch, torchvision; from torchvision.ops import nms; print(torch.__version__)"
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return result.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dev", action="store_true", help="also install test dependencies")
    parser.add_argument("--venv", default=os.environ.get("VENV", str(ROOT / ".venv")))
    args = parser.parse_args()
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs under any python3 to say so
        print(f"VisionStudio needs Python 3.11 or newer (this is {sys.version.split()[0]}).",
              file=sys.stderr)
        return 1
    env = Path(args.venv)
    python = venv_python(env)
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(env)
        run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"])

    extra = "[dev]" if args.dev else ""
    stamp_key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()
    stamp = env / f".visionstudio-installed{'-dev' if args.dev else ''}"
    if stamp.exists() and stamp.read_text() == stamp_key and torch_pair_works(python):
        return 0

    if not torch_pair_works(python):
        run([str(python), "-m", "pip", "install", *TORCH_PAIR])
    run([str(python), "-m", "pip", "install", "-e", f"{ROOT}{extra}"])
    if not torch_pair_works(python):
        print("torch and torchvision do not work together in this environment.\n"
              "Remove the environment and run again, or install a matching pair by hand, e.g.\n"
              f"  {python} -m pip install --force-reinstall torch torchvision", file=sys.stderr)
        return 1
    stamp.write_text(stamp_key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
