"""From per-image fingerprints to the findings of a dataset check (plain data, no Qt).

Findings, each with the items (file paths, or "training #12" in a built-in set) behind it:

- ``unreadable``: files that cannot be opened, with the reason;
- ``exact_duplicates``: images with the same decoded pixels (count: the extra copies);
- ``near_duplicates``: images whose perceptual hashes are within ``NEAR_DISTANCE`` bits but
  whose pixels differ (count: images that nearly repeat another);
- ``leakage``: validation images with an exact or near copy among the training images: the
  validation score then measures memory, not generalisation (warns);
- ``imbalance``: the largest class over the smallest above ``IMBALANCE_WARN`` (warns).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np

from visionstudio.core.data.checks_hash import NEAR_DISTANCE, Groups, near_pairs

IMBALANCE_WARN = 10.0
TRAIN, VAL = "training", "validation"


@dataclass
class Item:
    name: str          # a file path or "training #12"
    split: str         # TRAIN or VAL (what training will see)
    label: int


@dataclass
class Finding:
    kind: str
    count: int
    message: str
    warns: bool
    groups: list[list[str]] = field(default_factory=list)   # the items behind it, grouped
    detail: dict = field(default_factory=dict)


@dataclass
class CheckResult:
    source: str
    images: int
    class_names: list[str]
    class_counts: list[int]
    findings: list[Finding]
    histograms: dict
    class_means: list[list]       # per class a 3×32×32 uint8 nested list (empty: no image)
    cached: bool = False
    seconds: float = 0.0

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.warns]

    def finding(self, kind: str) -> Finding | None:
        return next((f for f in self.findings if f.kind == kind), None)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CheckResult:
        findings = [Finding(**f) for f in data["findings"]]
        return cls(**{**data, "findings": findings})


def _histogram(values: list[float], bins: int = 10) -> dict:
    if not values:
        return {"counts": [], "edges": []}
    arr = np.asarray(values, dtype=np.float64)
    counts, edges = np.histogram(arr, bins=bins)
    return {"counts": counts.tolist(), "edges": [round(float(e), 4) for e in edges],
            "min": round(float(arr.min()), 4), "max": round(float(arr.max()), 4)}


def _duplicates(items: list[Item], records: list[dict], good: list[int]) -> tuple[list, list, Groups]:
    """(exact groups, near groups, the union-find over exact and near pairs)."""
    by_pixels: dict[str, list[int]] = defaultdict(list)
    for i in good:
        by_pixels[records[i]["pixels"]].append(i)
    exact = [g for g in by_pixels.values() if len(g) > 1]
    reps = [g[0] for g in by_pixels.values()]
    near = Groups(len(items))
    for g in exact:
        for j in g[1:]:
            near.union(g[0], j)
    rep_groups = Groups(len(items))
    for a, b in near_pairs([records[r]["dhash"] for r in reps], NEAR_DISTANCE):
        near.union(reps[a], reps[b])
        rep_groups.union(reps[a], reps[b])
    near_groups = [sorted(j for r in g for j in by_pixels[records[r]["pixels"]])
                   for g in rep_groups.groups(reps)]
    return exact, near_groups, near


def _leaks(items: list[Item], records: list[dict], good: list[int],
           linked: Groups) -> tuple[list[list[int]], int, int]:
    train_pixels = {records[i]["pixels"] for i in good if items[i].split == TRAIN}
    train_roots: dict[int, list[int]] = defaultdict(list)
    for i in good:
        if items[i].split == TRAIN:
            train_roots[linked.find(i)].append(i)
    leaks, exact, near = [], 0, 0
    for i in good:
        if items[i].split != VAL or linked.find(i) not in train_roots:
            continue
        if records[i]["pixels"] in train_pixels:
            exact += 1
        else:
            near += 1
        leaks.append([i, *train_roots[linked.find(i)]])
    return leaks, exact, near


def _names(items: list[Item], groups: list[list[int]]) -> list[list[str]]:
    return [[items[i].name for i in g] for g in groups]


def analyse(source: str, items: list[Item], records: list[dict], thumbs: dict[int, np.ndarray],
            class_names: list[str]) -> CheckResult:
    """The findings, class balance, histograms and class means of fingerprinted items."""
    good = [i for i, r in enumerate(records) if "problem" not in r]
    bad = [i for i, r in enumerate(records) if "problem" in r]
    findings = []
    if bad:
        findings.append(Finding("unreadable", len(bad), f"unreadable files: {len(bad)}", False,
                                [[items[i].name] for i in bad],
                                {"reasons": {items[i].name: records[i]["problem"] for i in bad}}))
    exact, near_groups, linked = _duplicates(items, records, good)
    if exact:
        extra = sum(len(g) - 1 for g in exact)
        same_file = sum(len({records[i]["bytes"] for i in g}) < len(g) for g in exact)
        findings.append(Finding("exact_duplicates", extra, f"exact duplicates (the same pixels): {extra} "
                                f"extra copies in {len(exact)} groups", False, _names(items, exact),
                                {"groups": len(exact), "groups_with_identical_files": same_file}))
    if near_groups:
        count = sum(len({records[i]["pixels"] for i in g}) - 1 for g in near_groups)
        findings.append(Finding("near_duplicates", count, f"near duplicates (perceptual hash within "
                                f"{NEAR_DISTANCE} bits): {count} images in {len(near_groups)} groups",
                                False, _names(items, near_groups), {"distance": NEAR_DISTANCE}))
    leaks, n_exact, n_near = _leaks(items, records, good, linked)
    if leaks:
        findings.append(Finding("leakage", len(leaks), f"validation images that leak from training: "
                                f"{len(leaks)} (exact {n_exact}, near {n_near})", True,
                                _names(items, leaks), {"exact": n_exact, "near": n_near}))
    counts = Counter(items[i].label for i in good)
    class_counts = [counts.get(k, 0) for k in range(len(class_names))]
    present = [c for c in class_counts if c > 0]
    if len(present) >= 2 and max(present) / min(present) > IMBALANCE_WARN:
        ratio = max(present) / min(present)
        big = class_names[class_counts.index(max(present))]
        small = class_names[class_counts.index(min(present))]
        findings.append(Finding("imbalance", round(ratio, 1), f"class imbalance: the largest class "
                                f"({big}, {max(present)}) has {ratio:.1f}× the images of the smallest "
                                f"({small}, {min(present)})", True,
                                [[items[i].name for i in good if items[i].label == class_names.index(small)]],
                                {"ratio": ratio, "largest": big, "smallest": small}))
    sizes = [(records[i]["w"], records[i]["h"]) for i in good]
    histograms = {"width": _histogram([w for w, _ in sizes]), "height": _histogram([h for _, h in sizes]),
                  "aspect": _histogram([w / h for w, h in sizes if h]),
                  "channels": {str(k): v for k, v in
                               sorted(Counter(records[i]["channels"] for i in good).items())}}
    means = []
    for k in range(len(class_names)):
        rows = [thumbs[i] for i in good if items[i].label == k and i in thumbs]
        means.append(np.rint(np.mean(rows, axis=0)).astype(np.uint8).tolist() if rows else [])
    return CheckResult(source, len(items), list(class_names), class_counts, findings,
                       histograms, means)
