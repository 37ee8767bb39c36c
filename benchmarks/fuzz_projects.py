"""Fuzzing ``load_project`` at scale: thousands of hostile project files, 0 tracebacks.

    python benchmarks/fuzz_projects.py [--scale 1.0] [--seed 11] [--only CATEGORY,...]

Every case is a mutation of a template (or of a 10,000-layer lattice) written to a file
and opened with ``load_project``. The contract (the same as tests/core/test_project_fuzz.py):
only ProjectFormatError escapes, never the loader's "unexpected problem" safety net, and
a file that opens saves and re-opens to the same document. Categories:

  wrong_type   a wrong value (null, boolean, number, text, list, object) at a random JSON path
  bytes        truncations and random byte flips of the file
  duplicates   a key repeated in a random object
  random_json  a random JSON value at a random path
  surgery      unknown kinds, dangling / duplicated / reversed edges, bad versions
  deep         nesting 10 to 100,000 levels deep at a random path
  numbers      integers of 4,000 to 1,000,000 digits, 1e400, -1e400, 1e-400 at number paths
  strings      strings of 1 to 60 MiB at text paths
  arrays       lists of up to ~15 million items (numbers, text, empty lists, nodes, edges)
  large        the 10,000-layer / 100,000-connection lattice, mutated, padded up to 64 MiB

Each category runs in its own child process, so its peak RSS (``ru_maxrss``) is its own
(it includes building the payloads, a few times the biggest file). Seconds are those of
``load_project`` alone.
The report gives per category: cases, opened, refused, tracebacks, the slowest case and
peak RSS; the exit status is 1 when any case broke the contract. Failing payloads are
kept under ``--keep`` for replay. ``--scale`` multiplies the case counts (1.0: 2,204 files).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

MIB = 1024 * 1024
COUNTS = {"wrong_type": 1000, "bytes": 300, "duplicates": 100, "random_json": 300, "surgery": 200,
          "deep": 100, "numbers": 100, "strings": 40, "arrays": 40, "large": 24}
NO_PATH_PREFIXES = ("not valid JSON", "the file is not UTF-8", "the file is nested too deeply",
                    "the project is", "the file is", "opens ")


# -- material ---------------------------------------------------------------------------------
def templates() -> list[dict]:
    from visionstudio.core.project import dumps_project
    from visionstudio.core.templates import TEMPLATES, load_template

    return [json.loads(dumps_project(load_template(t.key))) for t in TEMPLATES]


def all_paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from all_paths(value, prefix + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from all_paths(value, prefix + (i,))


def get_at(data, path):
    for part in path:
        data = data[part]
    return data


def set_at(data, path, value):
    if not path:
        return value
    get_at(data, path[:-1])[path[-1]] = value
    return data


def splice(doc: dict, path: tuple, raw: str) -> str:
    """The JSON text of ``doc`` with the value at ``path`` replaced by the raw text ``raw``
    (how values json.dumps cannot write, or would take long to, get in)."""
    marker = "__SPLICE_7f3a__"
    return json.dumps(set_at(doc, path, marker)).replace(json.dumps(marker), raw, 1)


WRONG = [None, True, False, 0, -1, 1024, 2**63, 10**30, -10**30, 1.5, -0.0, 1e308, "", "x", "relu",
         "same", [], [1], [1, 2], [1, 2, 3], ["a"], {}, {"key": "x"}, {"key": "conv2d", "params": {}}]


def random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice(WRONG)
    if kind == 1:
        return rng.randint(-10**6, 10**6)
    if kind == 2:
        return rng.uniform(-1e9, 1e9)
    if kind == 3:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0xD800),
                                       rng.randrange(0xE000, 0x110000)])) for _ in range(rng.randrange(12)))
    if kind == 4:
        return rng.choice([None, True, 0, ""])
    if kind in (5, 6):
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(random_json(rng, depth + 1))[:8]: random_json(rng, depth + 1)
            for _ in range(rng.randrange(4))}


# -- the categories: each yields (label, payload) ------------------------------------------
def cases(category: str, n: int, rng: random.Random) -> Iterator[tuple[str, str | bytes]]:
    docs = templates()
    pick = lambda: copy.deepcopy(rng.choice(docs))  # noqa: E731
    for k in range(n):
        doc = pick()
        paths = list(all_paths(doc))
        if category == "wrong_type":
            path = rng.choice(paths[1:])
            value = rng.choice(WRONG)
            yield f"{'.'.join(map(str, path))} = {value!r}"[:120], json.dumps(set_at(doc, path, value))
        elif category == "bytes":
            raw = bytearray(json.dumps(doc).encode("utf-8"))
            if k % 2:
                yield f"truncated at {k}", bytes(raw[: rng.randrange(len(raw))])
            else:
                for _ in range(rng.randint(1, 6)):
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
                yield "byte flips", bytes(raw)
        elif category == "duplicates":
            objects = [p for p in paths if isinstance(get_at(doc, p), dict) and get_at(doc, p)]
            path = rng.choice(objects)
            key = rng.choice(sorted(get_at(doc, path)))
            raw = json.dumps(get_at(doc, path))
            dup = raw[:-1] + ", " + json.dumps(key) + ": " + json.dumps(rng.choice(WRONG)) + "}"
            yield f"duplicate {key!r} at {path}"[:120], splice(doc, path, dup) if path else dup
        elif category == "random_json":
            path = rng.choice(paths)
            yield f"random at {path}"[:120], json.dumps(set_at(doc, path, random_json(rng)))
        elif category == "surgery":
            yield "surgery", json.dumps(surgery(doc, rng))
        elif category == "deep":
            path = rng.choice(paths[1:])
            depth = rng.choice([10, 100, 500, 900, 990, 1000, 1100, 5000, 20_000, 100_000])
            opener, closer = rng.choice([("[", "]"), ('{"a": ', "}"), ('[{"id": "r", "x": ', "}]")])
            yield f"depth {depth} at {path}"[:120], splice(doc, path, opener * depth + "1" + closer * depth)
        elif category == "numbers":
            numeric = [p for p in paths if isinstance(get_at(doc, p), (int, float))
                       and not isinstance(get_at(doc, p), bool)] or paths[1:]
            path = rng.choice(numeric)
            raw = rng.choice(["1e400", "-1e400", "1e-400", "123456789e999999", "-0e-0",
                              "9" * 4000, "9" * 4301, "-" + "9" * 100_000, "1" + "0" * 1_000_000,
                              "0." + "3" * 1_000_000])
            yield f"{len(raw)}-char number at {path}"[:120], splice(doc, path, raw)
        elif category == "strings":
            texts = [p for p in paths if isinstance(get_at(doc, p), str)] + [("name",), ("description",)]
            path = rng.choice(texts)
            size = rng.choice([1, 4, 16, 40, 60]) * MIB
            fill = rng.choice(["x", "é", "\\u00e9", "\\ud83d\\ude00", '\\"', "\\\\"])
            raw = '"' + fill * (size // len(fill.encode("utf-8"))) + '"'
            yield f"{size // MIB} MiB of {fill!r} at {path}"[:120], splice(doc, path, raw)
        elif category == "arrays":
            yield from [big_array(doc, paths, rng)]
        elif category == "large":
            yield large(k, rng)


def surgery(doc: dict, rng: random.Random) -> dict:
    nodes, edges = doc["graph"]["nodes"], doc["graph"]["edges"]
    ids = [nd["id"] for nd in nodes]
    any_id = lambda: rng.choice(ids + ["", "nope", "x" * 100])  # noqa: E731
    for _ in range(rng.randint(1, 4)):
        action = rng.choice(["kind", "edge", "reverse", "dangling", "huge", "version", "dup", "drop"])
        if action == "kind":
            rng.choice(nodes)["kind"] = rng.choice(["conv3d", "", "Conv2d", "linear", "input", "add"])
        elif action == "edge":
            edges.append({"src": any_id(), "dst": any_id(), "port": rng.randint(-2, 1030)})
        elif action == "reverse" and edges:
            e = rng.choice(edges)
            edges.append({"src": e["dst"], "dst": e["src"], "port": rng.randint(0, 3)})
        elif action == "dangling" and edges:
            rng.choice(edges)[rng.choice(["src", "dst"])] = any_id() + "?"
        elif action == "huge":
            node = rng.choice(nodes)
            if node["params"]:
                node["params"][rng.choice(sorted(node["params"]))] = rng.choice(
                    [10**30, -10**30, 1e308, -1, 10**400, 2**31, [10**30, 1], [0, 0], "same", None])
        elif action == "version":
            rng.choice(nodes)["version"] = rng.choice([0, 2, -1, 10**30, "1", None, 1.0, True])
        elif action == "dup":
            nodes.append(copy.deepcopy(rng.choice(nodes)))
        elif action == "drop" and len(nodes) > 1:
            nodes.pop(rng.randrange(len(nodes)))
    return doc


def big_array(doc: dict, paths: list, rng: random.Random) -> tuple[str, str]:
    target = rng.choice([("graph", "nodes"), ("graph", "edges"), ("layout", "positions"), ("runs",),
                         ("description",), ("training",), rng.choice(paths[1:])])
    item, count = rng.choice([
        ("0", 15_000_000), ("1.5", 10_000_000), ('"a"', 10_000_000), ("[]", 3_900_000),
        ("{}", 3_900_000), ("null", 8_000_000), ("[0, 0]", 3_000_000),
        (json.dumps(doc["graph"]["nodes"][0]), 400_000), ('{"src": "a", "dst": "b"}', 1_500_000),
        (json.dumps(doc["graph"]["edges"][0]) if doc["graph"]["edges"] else "1", 1_500_000),
    ])
    count = min(count, (60 * MIB) // (len(item) + 1))
    label = f"{count:,} x {item[:30]} at {'.'.join(map(str, target))}"
    if target == ("layout", "positions"):
        raw = "{" + ",".join(f'"k{i}": [0, 0]' for i in range(min(count, 2_000_000))) + "}"
        return label, splice(doc, target, raw)
    return label, splice(doc, target, "[" + ",".join([item] * count) + "]")


def large(k: int, rng: random.Random) -> tuple[str, str | bytes]:
    from shape_inference import lattice_project

    from visionstudio.core.project import io as project_io

    data = lattice_project(10_000, 100_000)
    kind = k % 6
    if kind == 0:
        return "lattice 10,000 / 100,000 as is", json.dumps(data)
    if kind == 1:  # padded with whitespace up to the limit (one over it every other time)
        text = json.dumps(data)
        pad = project_io.MAX_FILE_BYTES - len(text) + (1 if k % 12 == 1 else 0)
        return f"lattice padded to {len(text) + pad:,} bytes", text[:-1] + " " * pad + "}"
    if kind == 2:  # one edge broken somewhere
        e = rng.choice(data["graph"]["edges"])
        e[rng.choice(["src", "dst", "port"])] = rng.choice([None, "zz", -1, 5000, "n00000"])
        return "lattice with one bad edge", json.dumps(data)
    if kind == 3:  # a cycle closed at the very end
        data["graph"]["edges"].append({"src": "n09999", "dst": "n00002", "port": 500})
        return "lattice closing a cycle last", json.dumps(data)
    if kind == 4:  # one more node / edge than allowed
        if k % 2:
            data["graph"]["nodes"].append({"id": "extra", "kind": "relu", "name": "extra"})
        else:
            data["graph"]["edges"].append({"src": "n00000", "dst": "n09999", "port": 900})
        return "lattice over the node / edge limit", json.dumps(data)
    # a big description near the limit on top of the lattice
    text = json.dumps(data)
    size = project_io.MAX_FILE_BYTES - len(text) - 100
    data["description"] = "d" * size
    return f"lattice + {size // MIB} MiB description", json.dumps(data).encode("utf-8")


# -- running ------------------------------------------------------------------------------------
def check(path: Path, timing: list[float]) -> str:
    """'opened' or 'refused'; raises AssertionError when the contract is broken. The
    seconds of ``load_project`` alone go to ``timing`` (the round trip is not counted)."""
    from visionstudio.core.project import ProjectFormatError, dumps_project, load_project, parse_project
    from visionstudio.core.project import io as project_io

    t0 = time.perf_counter()
    try:
        doc = load_project(path)
    except ProjectFormatError as exc:
        timing.append(time.perf_counter() - t0)
        message = str(exc)
        assert project_io.INTERNAL_PROBLEM not in message, message[:300]
        if not exc.problem.startswith(NO_PATH_PREFIXES):
            assert exc.json_path, f"structural error without a JSON path: {message[:300]}"
        return "refused"
    timing.append(time.perf_counter() - t0)
    text = dumps_project(doc)
    assert parse_project(text).to_dict() == doc.to_dict(), "does not re-open to the same document"
    return "opened"


def run_category(category: str, n: int, seed: int, keep: Path) -> dict:
    rng = random.Random(f"{seed}:{category}")
    stats = {"category": category, "cases": 0, "opened": 0, "refused": 0, "tracebacks": 0,
             "max_seconds": 0.0, "slowest": "", "max_file_mib": 0.0, "failures": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.vsproj"
        for i, (label, payload) in enumerate(cases(category, n, rng)):
            path.write_bytes(payload if isinstance(payload, bytes)
                             else payload.encode("utf-8", "surrogatepass"))
            size = path.stat().st_size / MIB
            del payload
            timing: list[float] = []
            t0 = time.perf_counter()
            try:
                outcome = check(path, timing)
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                stats["tracebacks"] += 1
                keep.mkdir(parents=True, exist_ok=True)
                kept = keep / f"{category}-{i}.vsproj"
                kept.write_bytes(path.read_bytes())
                stats["failures"].append({"case": label, "file": str(kept),
                                          "error": "".join(traceback.format_exception_only(exc))[-500:]})
                outcome = "broken"
            seconds = timing[0] if timing else time.perf_counter() - t0
            stats["cases"] += 1
            stats[outcome] = stats.get(outcome, 0) + 1
            stats["max_file_mib"] = max(stats["max_file_mib"], size)
            if seconds > stats["max_seconds"]:
                stats["max_seconds"], stats["slowest"] = seconds, f"{label} ({size:.1f} MiB)"
    stats["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every case count")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--only", default="", help="comma-separated categories")
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "vs-fuzz-failures")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        n = max(1, round(COUNTS[args.child] * args.scale))
        print("RESULT " + json.dumps(run_category(args.child, n, args.seed, args.keep)), flush=True)
        return 0
    chosen = [c for c in (args.only.split(",") if args.only else COUNTS) if c]
    print(f"{'category':12s} {'cases':>6s} {'opened':>6s} {'refused':>7s} {'tracebacks':>10s} "
          f"{'max s':>6s} {'peak RSS':>9s} {'biggest':>8s}  slowest case")
    total = {"cases": 0, "tracebacks": 0, "max_seconds": 0.0, "peak_rss_mib": 0.0}
    for category in chosen:
        cmd = [sys.executable, __file__, "--child", category, "--scale", str(args.scale),
               "--seed", str(args.seed), "--keep", str(args.keep)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:  # the child itself died (killed for memory, say): that counts too
            print(f"{category:12s} child process failed (exit {proc.returncode}): {proc.stderr[-800:]}")
            total["tracebacks"] += 1
            continue
        s = json.loads(line[len("RESULT "):])
        print(f"{category:12s} {s['cases']:6d} {s['opened']:6d} {s['refused']:7d} {s['tracebacks']:10d} "
              f"{s['max_seconds']:6.3f} {s['peak_rss_mib']:6.0f} MiB {s['max_file_mib']:5.1f} MiB  "
              f"{s['slowest']}", flush=True)
        for failure in s["failures"][:5]:
            print(f"    BROKEN {failure['case']}: {failure['error'].strip()}  [{failure['file']}]")
        total["cases"] += s["cases"]
        total["tracebacks"] += s["tracebacks"]
        total["max_seconds"] = max(total["max_seconds"], s["max_seconds"])
        total["peak_rss_mib"] = max(total["peak_rss_mib"], s["peak_rss_mib"])
    print(f"\ntotal: {total['cases']:,} fuzzed project files, {total['tracebacks']} tracebacks, "
          f"max {total['max_seconds']:.2f} s per file, peak RSS {total['peak_rss_mib']:.0f} MiB "
          "(per category process)")
    return 1 if total["tracebacks"] else 0


if __name__ == "__main__":
    sys.exit(main())
