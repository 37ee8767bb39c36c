"""Build a reproducible sdist and wheel of VisionStudio.

    python packaging/build_dist.py                 # dist/visionstudio-<v>.tar.gz and -py3-none-any.whl
    python packaging/build_dist.py --wheel -o /tmp/out
    python packaging/build_dist.py --check         # build twice, fail unless byte-identical

What it does on top of ``python -m build``:

* builds from a copy of the working tree (tracked and untracked-but-not-ignored files), so
  the checkout gets no ``build/`` or ``*.egg-info`` and parallel builds cannot collide;
* sets ``SOURCE_DATE_EPOCH`` (default: the committer time of ``HEAD``, else a fixed date)
  so every file in the wheel carries the same timestamp;
* rewrites the sdist deterministically (sorted members, mtime = SOURCE_DATE_EPOCH, owner
  root/0, modes 644/755, gzip header without a time or file name): setuptools' sdist takes
  member times from the files on disk and stamps the gzip header with the current time, so
  two plain builds differ even from the same tree.

By default the build runs without isolation in the current interpreter (needs
``setuptools>=70.1`` and ``build``: ``pip install -e .[dev]``), which works offline;
``--isolated`` lets ``build`` make its own venv and fetch setuptools from the index.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FALLBACK_EPOCH = 1764201600  # 2025-11-27 00:00 UTC
_SKIP = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".hypothesis"}


def source_date_epoch(root: Path = ROOT) -> int:
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    try:
        out = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%ct"],
                             capture_output=True, text=True, check=True).stdout.strip()
        return int(out)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return FALLBACK_EPOCH


def source_files(root: Path = ROOT) -> list[str]:
    """Relative paths of the files to build from: git's view of the tree when available."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard"],
                             capture_output=True, check=True).stdout
        names = [n for n in out.decode().split("\0") if n]
        return sorted(n for n in names if (root / n).is_file())
    except (OSError, subprocess.CalledProcessError):
        names = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames
                                 if d not in _SKIP and not d.endswith(".egg-info"))
            for name in filenames:
                if not name.endswith(".pyc"):
                    names.append(os.path.relpath(os.path.join(dirpath, name), root))
        return sorted(names)


def copy_tree(dest: Path, root: Path = ROOT) -> Path:
    for name in source_files(root):
        if name.split("/", 1)[0] in {"tests", "docs", "benchmarks", "tools"}:
            continue  # not part of any distribution; keeps the copy small
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
        # Modes as git would check them out, whatever this checkout's umask was: the wheel
        # records each file's mode.
        os.chmod(target, 0o755 if os.stat(target).st_mode & 0o100 else 0o644)
    return dest


def normalize_sdist(path: Path, epoch: int) -> None:
    """Rewrite ``path`` (.tar.gz) so that it depends only on the files' contents."""
    with tarfile.open(path, "r:gz") as src:
        members = sorted(src.getmembers(), key=lambda m: m.name)
        blobs = {m.name: src.extractfile(m).read() for m in members if m.isfile()}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.type = m.type
            info.linkname = m.linkname
            info.mtime = epoch
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            executable = m.isdir() or (m.mode & 0o100)
            info.mode = 0o755 if executable else 0o644
            if m.isfile():
                data = blobs[m.name]
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))
            else:
                dst.addfile(info)
    with open(path, "wb") as out, \
            gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())


def build(outdir: Path, *, sdist: bool = True, wheel: bool = True, isolated: bool = False,
          python: str = sys.executable, quiet: bool = True, source: Path | None = None,
          epoch: int | None = None) -> list[Path]:
    """Build into ``outdir``; returns the artefacts (sdist first).

    ``source``: a tree to build from (copied first; default: this checkout's files).
    """
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    epoch = source_date_epoch() if epoch is None else epoch
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch), PYTHONHASHSEED="0", TZ="UTC")
    with tempfile.TemporaryDirectory(prefix="visionstudio-build-") as tmp:
        src = Path(tmp) / "src"
        if source is None:
            copy_tree(src)
        else:
            shutil.copytree(source, src)
        cmd = [python, "-m", "build", "--outdir", str(outdir)]
        if not isolated:
            cmd.append("--no-isolation")
        if sdist and not wheel:
            cmd.append("--sdist")
        elif wheel and not sdist:
            cmd.append("--wheel")  # straight from the tree (plain build: wheel from the sdist)
        cmd.append(str(src))
        proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=quiet, text=True)
        if proc.returncode != 0:
            if quiet:
                sys.stderr.write(proc.stdout[-6000:] + proc.stderr[-6000:])
            raise SystemExit(f"build failed ({proc.returncode}): {' '.join(cmd)}")
    version = project_version()
    artefacts = []
    if sdist:
        path = outdir / f"visionstudio-{version}.tar.gz"
        normalize_sdist(path, epoch)
        artefacts.append(path)
    if wheel:
        artefacts.append(outdir / f"visionstudio-{version}-py3-none-any.whl")
    for path in artefacts:
        if not path.is_file():
            raise SystemExit(f"expected {path} after the build")
    return artefacts


def project_version(root: Path = ROOT) -> str:
    text = (root / "visionstudio" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.M)
    if not match:
        raise SystemExit("no __version__ in visionstudio/__init__.py")
    return match.group(1)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--outdir", type=Path, default=ROOT / "dist")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--sdist", action="store_true", help="only the sdist")
    kind.add_argument("--wheel", action="store_true", help="only the wheel")
    parser.add_argument("--isolated", action="store_true",
                        help="let `build` create an isolated env (fetches setuptools)")
    parser.add_argument("--check", action="store_true",
                        help="build a second time elsewhere and compare byte for byte")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the build's output")
    args = parser.parse_args(argv)
    want_sdist, want_wheel = not args.wheel, not args.sdist
    opts = dict(sdist=want_sdist, wheel=want_wheel, isolated=args.isolated, quiet=not args.verbose)
    with tempfile.TemporaryDirectory(prefix="visionstudio-snapshot-") as snap:
        # One snapshot of the tree and one epoch for both builds: others may be editing or
        # committing in this checkout meanwhile.
        source = copy_tree(Path(snap) / "src")
        opts.update(source=source, epoch=source_date_epoch())
        first = build(args.outdir, **opts)
        for path in first:
            print(f"{sha256(path)}  {path}")
        if args.check:
            with tempfile.TemporaryDirectory(prefix="visionstudio-check-") as tmp:
                second = build(Path(tmp), **opts)
                bad = [a.name for a, b in zip(first, second) if a.read_bytes() != b.read_bytes()]
            if bad:
                print(f"NOT reproducible: {', '.join(bad)}", file=sys.stderr)
                return 1
            print("reproducible: a second build gave byte-identical files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
