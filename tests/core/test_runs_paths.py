"""A project's runs list cannot write or delete anything outside the project (issue #11).

Attacks, as a crafted project file makes them: absolute paths, ``..``, NUL, very long
names and Windows device names as run ids or folders (refused at load); symbolic
links that lead out of the runs folder (refused at use); junk the app did not write
(kept when a run is deleted). A canary folder outside the runs folder must survive
every one of them. Plus the limits on the free-form runs data (count, depth, values,
text).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from visionstudio.core.project import (
    ProjectFormatError,
    document_from_dict,
    dumps_project,
    parse_project,
    runs_data,
)
from visionstudio.core.runs import (
    RunHistory,
    RunPathError,
    adopt_runs,
    delete_run_files,
    make_entry,
    run_dir,
    writable_run_dir,
)
from visionstudio.core.runs import paths as run_paths

needs_links = pytest.mark.skipif(os.name != "posix", reason="symbolic links without privileges")

HOSTILE_NAMES = ["/etc", "/", "../..", "..", ".", "../outside", "a/b", "a\\b", "C:", "C:\\Windows",
                 "x\x00y", "a" * 10_000, "", ".hidden", "nul", "CON.txt", "lpt1", "a b", "run\n",
                 "é", "trailing.", "~", "$HOME", "%APPDATA%"]


def project(runs) -> str:
    return json.dumps({"format": "visionstudio.project", "schema_version": 1, "runs": runs})


def good(i: int = 0, **extra) -> dict:
    return {"id": f"run{i}", "name": f"Run {i}", **extra}


@pytest.fixture
def canary(tmp_path) -> Path:
    """A folder outside the runs folder with a file in it; checked after each attack."""
    folder = tmp_path / "outside"
    (folder / "checkpoints" / "last").mkdir(parents=True)
    for name in ("precious.txt", "metrics.json", "history.npz"):
        (folder / name).write_text("keep me")
    (folder / "checkpoints" / "last" / "model.safetensors").write_text("keep me")
    return folder


def survives(folder: Path) -> bool:
    return all((folder / n).read_text() == "keep me" for n in
               ("precious.txt", "metrics.json", "history.npz", "checkpoints/last/model.safetensors"))


# -- at load --------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["id", "folder"])
@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n[:12]))
def test_hostile_run_names_are_refused_at_load(field, name):
    bad = good(1, **{field: name})
    with pytest.raises(ProjectFormatError) as info:
        parse_project(project([good(0), bad]))
    assert info.value.json_path == f"runs[1].{field}"
    assert len(str(info.value)) < 400   # a 10,000-character name is not echoed back


@pytest.mark.parametrize("name", ["abc123def456", "run-1", "My_run.2", "0", "a" * 64, "RUN.final"])
def test_plain_names_load(name):
    assert parse_project(project([good(0, folder=name)])).runs[0]["folder"] == name
    assert parse_project(project([{"id": name}])).runs[0]["id"] == name


@pytest.mark.parametrize("runs, path, words", [
    ([good(0), good(0)], "runs[1].id", "used by runs[0]"),
    ([good(0, folder="x"), good(1, folder="x")], "runs[1].folder", "used by runs[0]"),
    ([good(0, folder="Shared"), good(1, folder="shared")], "runs[1].folder", "used by runs[0]"),
    ([good(0), {"id": "x", "folder": "run0"}], "runs[1].folder", "used by runs[0]"),
    ([good(0, folder=5)], "runs[0].folder", "folder name"),
    ([good(0, settings=[])], "runs[0].settings", "object"),
    ([good(0, summary="x")], "runs[0].summary", "object"),
    ([good(0, name=5)], "runs[0].name", "text"),
    ([good(0, name="n" * 1001)], "runs[0].name", "1000"),
    ([good(0, stale="yes")], "runs[0].stale", "true or false"),
    ([good(0, settings={"training": 3})], "runs[0].settings.training", "object"),
    ([good(0, settings={"training": {"optimizer": "adam"}})], "runs[0].settings.training.optimizer",
     "object"),
    ("runs", "runs", "list"),
    ([3], "runs[0]", "object"),
])
def test_run_entries_are_shape_checked(runs, path, words):
    with pytest.raises(ProjectFormatError) as info:
        parse_project(project(runs))
    assert info.value.json_path == path and words in info.value.problem


def test_an_overflowing_number_is_refused():
    """1e999 parses to inf, which a save could not write again."""
    text = project([good(0, summary={"loss": [1.0, 2.0]})]).replace("2.0", "1e999")
    with pytest.raises(ProjectFormatError) as info:
        parse_project(text)
    assert info.value.json_path == "runs[0].summary.loss[1]" and "finite" in info.value.problem


def test_too_many_runs():
    with pytest.raises(ProjectFormatError) as info:
        parse_project(project([{"id": f"r{i}"} for i in range(runs_data.MAX_RUNS + 1)]))
    assert info.value.json_path == "runs" and "10,000" in info.value.problem
    assert len(parse_project(project([{"id": f"r{i}"} for i in range(runs_data.MAX_RUNS)])).runs) == 10_000


def test_deep_nesting_names_where():
    deep: dict = {}
    inner = deep
    for _ in range(40):
        inner["d"] = {}
        inner = inner["d"]
    with pytest.raises(ProjectFormatError) as info:
        parse_project(project([good(0), good(1, settings=deep)]))
    assert info.value.json_path.startswith("runs[1].settings.d.d") and "32" in info.value.problem
    ok = {"d": 1}
    for _ in range(runs_data.MAX_RUN_DEPTH - 3):
        ok = {"d": ok}
    assert parse_project(project([good(0, settings=ok)])).runs[0]["settings"] == ok


def test_a_huge_runs_entry_is_refused_without_walking_it_all():
    """The attack of issue #11 (65 s, 4.5 GB): one run entry with millions of values."""
    text = '{"format": "visionstudio.project", "schema_version": 1, "runs": [{"id": "r", "settings": ' \
           '{"x": [' + "0," * 3_000_000 + '0]}}]}'
    with pytest.raises(ProjectFormatError) as info:
        parse_project(text)
    assert info.value.json_path == "runs[0]" and "10,000 values" in info.value.problem


def test_text_and_total_limits(monkeypatch):
    with pytest.raises(ProjectFormatError, match="characters of text") as info:
        parse_project(project([good(0), good(1, status="x" * (runs_data.MAX_RUN_TEXT + 1))]))
    assert info.value.json_path == "runs[1]"
    monkeypatch.setattr(runs_data, "MAX_RUNS_VALUES", 100)
    with pytest.raises(ProjectFormatError, match="together") as info:
        parse_project(project([good(i, summary={"v": list(range(30))}) for i in range(5)]))
    assert info.value.json_path == "runs[2]"
    monkeypatch.setattr(runs_data, "MAX_RUNS_TEXT", 1000)
    monkeypatch.setattr(runs_data, "MAX_RUNS_VALUES", 10**6)
    with pytest.raises(ProjectFormatError, match="together"):
        parse_project(project([good(i, status="s" * 400) for i in range(5)]))


def test_runs_are_copied_not_shared_and_round_trip():
    summary = {"loss": [1.0, 0.5], "nested": {"a": [{"b": None}], "t": True}}
    data = {"runs": [good(0, summary=summary, extra={"free": "form"})]}
    doc = document_from_dict(data)
    summary["loss"].append(99)
    summary["nested"]["a"][0]["b"] = "changed"
    assert doc.runs[0]["summary"] == {"loss": [1.0, 0.5], "nested": {"a": [{"b": None}], "t": True}}
    assert doc.runs[0]["extra"] == {"free": "form"}
    assert parse_project(dumps_project(doc)).runs == doc.runs


def test_lone_surrogates_in_runs_are_refused_by_the_runs_walk():
    """Text that could not be saved again, checked in the same walk as the limits."""
    with pytest.raises(ProjectFormatError) as info:
        document_from_dict({"runs": [good(0), good(1, summary={"note": "x\ud800"})]})
    assert info.value.json_path == "runs[1].summary.note" and "surrogate" in info.value.problem
    with pytest.raises(ProjectFormatError) as info:
        document_from_dict({"runs": [good(0, summary={"k\udc00": 1})]})
    assert info.value.json_path == "runs[0].summary" and "surrogate" in info.value.problem
    assert document_from_dict({"runs": [good(0, name="é 😀")]}).runs[0]["name"] == "é 😀"


def test_non_json_values_from_callers_are_refused():
    with pytest.raises(ProjectFormatError) as info:
        document_from_dict({"runs": [good(0, summary={"when": object()})]})
    assert info.value.json_path == "runs[0].summary.when"


# -- at use: names that did not come through load -------------------------------------------------
@pytest.mark.parametrize("name", ["../outside", "/abs", "x\x00y", "a" * 10_000, "..", "a/../../outside"],
                         ids=lambda n: repr(n[:12]))
def test_run_dir_refuses_names_that_are_not_plain(tmp_path, canary, name):
    root = tmp_path / "p.vsproj.runs"
    root.mkdir()
    entry = {"id": "ok", "folder": name}
    for use in (run_dir, writable_run_dir, delete_run_files):
        with pytest.raises(RunPathError):
            use(root, entry)
    assert adopt_runs([entry], root, tmp_path / "q.vsproj.runs", move=True)   # a problem line
    assert survives(canary)


# -- at use: symbolic links out of the runs folder ----------------------------------------------------
@needs_links
def test_a_run_folder_linked_outside_is_neither_written_nor_deleted(tmp_path, canary):
    root = tmp_path / "p.vsproj.runs"
    root.mkdir()
    (root / "r1").symlink_to(canary, target_is_directory=True)
    entry = make_entry("r1", "Run 1", {})
    with pytest.raises(RunPathError, match="outside the project's runs folder"):
        writable_run_dir(root, entry)
    with pytest.raises(RunPathError, match="outside"):
        delete_run_files(root, entry)
    problems = adopt_runs([entry], root, tmp_path / "copy.vsproj.runs", move=False)
    assert problems and not (tmp_path / "copy.vsproj.runs" / "r1").exists()
    problems = adopt_runs([entry], root, tmp_path / "moved.vsproj.runs", move=True)
    assert problems and (root / "r1").is_symlink()
    assert survives(canary)


@needs_links
@pytest.mark.parametrize("link", ["checkpoints", "checkpoints/last", "checkpoints/best", "metrics.json",
                                  "history.npz", "metrics.csv"])
def test_files_inside_a_run_linked_outside_are_refused_for_writing(tmp_path, canary, link):
    root = tmp_path / "p.vsproj.runs"
    folder = root / "r1"
    (folder / "checkpoints").mkdir(parents=True)
    target = {"checkpoints": canary / "checkpoints", "checkpoints/last": canary / "checkpoints" / "last",
              "checkpoints/best": canary / "checkpoints" / "last"}.get(link, canary / "precious.txt")
    if (folder / link).exists():
        (folder / link).rmdir()
    (folder / link).symlink_to(target, target_is_directory=target.is_dir())
    entry = make_entry("r1", "Run 1", {})
    with pytest.raises(RunPathError, match="outside") as info:
        writable_run_dir(root, entry)
    assert link.split("/")[-1] in str(info.value)
    kept = delete_run_files(root, entry)   # removes what is ours, keeps (and reports) the link
    assert str(folder / link) in kept and (folder / link).is_symlink()
    assert survives(canary)


@needs_links
def test_a_runs_folder_that_is_itself_a_link_works_inside_its_target(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    root = tmp_path / "p.vsproj.runs"
    root.symlink_to(real, target_is_directory=True)
    entry = make_entry("r1", "Run 1", {})
    folder = writable_run_dir(root, entry)
    RunHistory().save(folder)
    assert (real / "r1" / "metrics.json").is_file()
    assert delete_run_files(root, entry) == [] and not (real / "r1").exists() and real.is_dir()


# -- deleting removes only what the app wrote -------------------------------------------------------
def full_run(folder: Path) -> None:
    RunHistory().save(folder)
    for ckpt in ("last", "best", ".last.tmp-0123abcd", ".best.old-89abcdef"):
        (folder / "checkpoints" / ckpt).mkdir(parents=True)
        for name in run_paths.CHECKPOINT_FILES:
            (folder / "checkpoints" / ckpt / name).write_bytes(b"w")
    (folder / ".metrics.json.abcd1234.tmp").write_bytes(b"half")   # a killed save


def test_delete_removes_the_apps_files_and_the_folder(tmp_path):
    root = tmp_path / "runs"
    full_run(root / "r1")
    assert delete_run_files(root, make_entry("r1", "Run 1", {})) == []
    assert not (root / "r1").exists() and root.is_dir()
    assert delete_run_files(root, make_entry("gone", "Gone", {})) == []   # nothing there: fine


def test_delete_keeps_what_the_app_did_not_write(tmp_path):
    root = tmp_path / "runs"
    folder = root / "r1"
    full_run(folder)
    (folder / "notes.txt").write_text("mine")
    (folder / "data" / "deep").mkdir(parents=True)
    (folder / "data" / "deep" / "x.bin").write_bytes(b"1")
    (folder / "checkpoints" / "last" / "extra.txt").write_text("mine")
    (folder / "checkpoints" / "other").mkdir()
    kept = delete_run_files(root, make_entry("r1", "Run 1", {}))
    assert kept == sorted([str(folder / "checkpoints" / "last" / "extra.txt"),
                           str(folder / "checkpoints" / "other") + os.sep,
                           str(folder / "data" / "deep" / "x.bin"), str(folder / "notes.txt")])
    assert (folder / "notes.txt").read_text() == "mine"
    assert not (folder / "metrics.json").exists() and not (folder / "checkpoints" / "best").exists()
    assert not (folder / "checkpoints" / "last" / "model.safetensors").exists()


def test_the_known_files_are_what_the_app_writes(tmp_path):
    """RUN_FILES / CHECKPOINT_FILES follow RunHistory.save and save_checkpoint: a real run
    folder is deleted completely."""
    torch = pytest.importorskip("torch")
    from visionstudio.core.training import checkpoint

    assert set(run_paths.CHECKPOINT_FILES) == {checkpoint.MODEL_FILE, checkpoint.STATE_FILE,
                                               checkpoint.META_FILE}
    root = tmp_path / "runs"
    folder = root / "r1"
    RunHistory().save(folder)
    for kind in run_paths.CHECKPOINT_DIRS:
        for _ in range(2):   # the second save replaces the first (.old- folder on the way)
            checkpoint.save_checkpoint(folder / "checkpoints" / kind, model_state={"w": torch.zeros(2)},
                                       tensors={}, meta={"step": 1})
    assert delete_run_files(root, make_entry("r1", "Run 1", {})) == []
    assert not folder.exists()


# -- moving and copying ----------------------------------------------------------------------------
@needs_links
def test_copying_runs_keeps_links_as_links_never_their_targets(tmp_path, canary):
    src, dst = tmp_path / "a.vsproj.runs", tmp_path / "b.vsproj.runs"
    (src / "r1").mkdir(parents=True)
    RunHistory().save(src / "r1")
    (src / "r1" / "checkpoints").symlink_to(canary / "checkpoints", target_is_directory=True)
    assert adopt_runs([make_entry("r1", "Run 1", {})], src, dst, move=False) == []
    assert (dst / "r1" / "metrics.json").is_file() and (dst / "r1" / "checkpoints").is_symlink()
    with pytest.raises(RunPathError):
        writable_run_dir(dst, make_entry("r1", "Run 1", {}))
    assert survives(canary)
