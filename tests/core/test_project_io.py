"""Project files: round trips, precise errors, atomic saves, migrations."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.graph import Edge, GraphModel, make_node
from visionstudio.core.project import (
    SCHEMA_VERSION,
    ProjectDocument,
    ProjectFormatError,
    dumps_project,
    load_project,
    parse_project,
    save_project,
)
from visionstudio.core.project import io as project_io
from visionstudio.core.templates import TEMPLATES, load_template
from visionstudio.core.training.config import TrainingConfig


def small_doc() -> ProjectDocument:
    graph = GraphModel()
    nodes = [
        make_node(graph, "input", "input", {"channels": 3, "height": 16, "width": 16}),
        make_node(graph, "conv2d", "conv1", {"out_channels": 8, "kernel_size": [3, 5], "padding": "same"}),
        make_node(graph, "conv2d", "conv2", {"out_channels": 8, "kernel_size": 1}),
        make_node(graph, "add", "add1"),
        make_node(graph, "global_avgpool", "gap"),
        make_node(graph, "dense", "dense1", {"units": 4, "activation": "softmax"}),
    ]
    for i, node in enumerate(nodes):
        graph.nodes[node.id] = node
        graph.positions[node.id] = (0.5 * i, -100.0 * i)
    ids = [n.id for n in nodes]
    graph.edges += [Edge(ids[0], ids[1]), Edge(ids[0], ids[2]), Edge(ids[1], ids[3], 0),
                    Edge(ids[2], ids[3], 1), Edge(ids[3], ids[4]), Edge(ids[4], ids[5])]
    training = TrainingConfig.from_dict({"epochs": 3, "batch_size": 32, "clip_norm": 1.5,
                                         "seed": 7, "device": "cuda:1"})
    return ProjectDocument(graph, DatasetConfig(), training, "Tiny ✓ net", "a\nmulti-line\ttext",
                           runs=[{"id": "run-1", "metrics": {"loss": [1.0, 0.5]}}])


def doc_dict() -> dict:
    return small_doc().to_dict()


def parse_dict(data) -> ProjectDocument:
    return parse_project(json.dumps(data))


def error_of(data) -> ProjectFormatError:
    with pytest.raises(ProjectFormatError) as info:
        parse_project(data if isinstance(data, (str, bytes)) else json.dumps(data))
    assert project_io.INTERNAL_PROBLEM not in str(info.value)
    return info.value


# -- round trips -----------------------------------------------------------------------
def test_round_trip_keeps_everything(tmp_path):
    doc = small_doc()
    path = tmp_path / "tiny.vsproj"
    save_project(doc, path)
    again = load_project(path)
    assert again.to_dict() == doc.to_dict()
    assert dumps_project(again) == path.read_text(encoding="utf-8")
    assert list(again.graph.nodes) == list(doc.graph.nodes)  # document order is kept
    assert again.graph.positions == doc.graph.positions


@pytest.mark.parametrize("key", [t.key for t in TEMPLATES])
def test_round_trip_every_template(tmp_path, key):
    doc = load_template(key)
    assert doc.name and doc.description
    path = tmp_path / f"{key}.vsproj"
    save_project(doc, path)
    assert load_project(path).to_dict() == doc.to_dict()


def test_empty_document_round_trips():
    # Loading fills registry defaults into empty params; from then on it is a fixed point.
    once = parse_project(dumps_project(ProjectDocument()))
    assert parse_project(dumps_project(once)).to_dict() == once.to_dict()


def test_minimal_hand_written_file_uses_defaults():
    doc = parse_project('{"format": "visionstudio.project", "schema_version": 1}')
    assert doc.name == "Untitled" and not doc.graph.nodes and doc.runs == []


def test_bom_and_bytes_are_accepted(tmp_path):
    text = dumps_project(small_doc())
    assert parse_project(text.encode("utf-8")).name == "Tiny ✓ net"
    path = tmp_path / "bom.vsproj"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_project(path).name == "Tiny ✓ net"


def test_alias_kind_is_saved_under_its_canonical_key():
    data = doc_dict()
    data["graph"]["nodes"][5]["kind"] = "linear"
    assert parse_dict(data).to_dict()["graph"]["nodes"][5]["kind"] == "dense"


# -- errors name the JSON path ---------------------------------------------------------
@pytest.mark.parametrize("mutate, path, words", [
    (lambda d: d["graph"]["nodes"][1].update(kind="conv9d"), "graph.nodes[1].kind", "unknown layer kind"),
    (lambda d: d["graph"]["nodes"][1]["params"].update(out_channels="8"),
     "graph.nodes[1].params.out_channels", "whole number"),
    (lambda d: d["graph"]["nodes"][1]["params"].update(out_channels=10**30),
     "graph.nodes[1].params.out_channels", "at most"),
    (lambda d: d["graph"]["nodes"][1]["params"].update(out_channels=-5),
     "graph.nodes[1].params.out_channels", "at least"),
    (lambda d: d["graph"]["nodes"][1]["params"].update(bogus=1), "graph.nodes[1].params.bogus", "unknown"),
    (lambda d: d["graph"]["nodes"][1].update(version=99), "graph.nodes[1].version", "newer"),
    (lambda d: d["graph"]["nodes"][2].update(name=d["graph"]["nodes"][1]["name"]),
     "graph.nodes[2].name", "used twice"),
    (lambda d: d["graph"]["nodes"][2].update(id=d["graph"]["nodes"][1]["id"]),
     "graph.nodes[2].id", "used twice"),
    (lambda d: d["graph"]["nodes"][2].update(name="2bad"), "graph.nodes[2].name", "not a valid name"),
    (lambda d: d["graph"]["edges"][0].update(src="nowhere"), "graph.edges[0].src", "no layer has id"),
    (lambda d: d["graph"]["edges"][1].update(dst="nowhere"), "graph.edges[1].dst", "no layer has id"),
    (lambda d: d["graph"]["edges"].append({"src": d["graph"]["nodes"][5]["id"],
                                          "dst": d["graph"]["nodes"][1]["id"]}),
     "graph.edges", "already has its input"),
    (lambda d: d["graph"]["edges"].append({"src": d["graph"]["nodes"][5]["id"],
                                          "dst": d["graph"]["nodes"][3]["id"], "port": 2}),
     "graph.edges[6]", "cycle"),
    (lambda d: d["graph"]["edges"].append({"src": d["graph"]["nodes"][1]["id"],
                                          "dst": d["graph"]["nodes"][1]["id"]}),
     "graph.edges[6]", "cannot feed itself"),
    (lambda d: d["graph"]["edges"].append({"src": d["graph"]["nodes"][1]["id"],
                                          "dst": d["graph"]["nodes"][0]["id"]}),
     "graph.edges[6].dst", "Input"),
    (lambda d: d["graph"]["edges"][3].update(port=0), "graph.edges[3].port", "already connected"),
    (lambda d: d["graph"]["edges"][3].update(port=True), "graph.edges[3].port", "boolean"),
    (lambda d: d["graph"]["edges"][4].update(port=10**30), "graph.edges[4].port", "between"),
    (lambda d: d["layout"]["positions"].update({d["graph"]["nodes"][0]["id"]: [10**400, 0]}),
     "layout.positions.", "finite"),
    (lambda d: d["layout"]["positions"].update({d["graph"]["nodes"][0]["id"]: [1e308, 0]}),
     "layout.positions.", "finite"),
    (lambda d: d["layout"]["positions"].update(ghost=[0, 0]), "layout.positions.ghost", "no layer"),
    (lambda d: d["training"].update(epochs=-1), "training.epochs", "at least"),
    (lambda d: d["training"].update(val_split=10**400), "training.val_split", "finite"),
    (lambda d: d["training"].update(batch_size=1e308), "training.batch_size", "at most"),
    (lambda d: d["training"].update(device="gpu"), "training.device", "unknown device"),
    (lambda d: d["training"].update(optimizer=[]), "training.optimizer", "object"),
    (lambda d: d["training"]["loss"].update(params=3), "training.loss.params", "object"),
    (lambda d: d["dataset"].update(params="x"), "dataset.params", "object"),
    (lambda d: d["dataset"].update(key=5), "dataset.key", "name"),
    (lambda d: d["dataset"].update(extra=1), "dataset.extra", "unknown field"),
    (lambda d: d.update(runs=[{"no": "id"}]), "runs[0].id", "text"),
    (lambda d: d.update(colour="red"), "colour", "unknown field"),
    (lambda d: d.update(name=None), "name", "text"),
    (lambda d: d.update(app_version=1), "app_version", "text"),
    (lambda d: d.update(format="something.else"), "format", "not a VisionStudio project"),
    (lambda d: d.update(graph=[]), "graph", "object"),
])
def test_structural_errors_name_the_path(mutate, path, words):
    data = doc_dict()
    mutate(data)
    exc = error_of(data)
    assert exc.json_path.startswith(path), exc
    assert exc.json_path in str(exc)
    assert words in exc.problem


@pytest.mark.parametrize("version, words", [
    (0, "unknown format version"), (SCHEMA_VERSION + 1, "newer VisionStudio"), ("1", "whole number"),
    (None, "whole number"), (True, "whole number"), (1.0, "whole number"), (10**30, "newer"),
])
def test_wrong_schema_version(version, words):
    data = doc_dict()
    data["schema_version"] = version
    exc = error_of(data)
    assert exc.json_path == "schema_version" and words in exc.problem


def test_missing_schema_version():
    data = doc_dict()
    del data["schema_version"]
    assert error_of(data).json_path == "schema_version"


@pytest.mark.parametrize("text, words", [
    ("", "not valid JSON"), ("[1, 2]", "JSON object"), ('{"schema_version": NaN}', "NaN"),
    ('{"schema_version": 1, "name": "a", "name": "b"}', "appears twice"),
    ('{"schema_version": 1, "name": "\\ud800"}', "invalid character"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (b"\xff\xfe{}", "not UTF-8"),
])
def test_unparseable_text(text, words):
    assert words in str(error_of(text))


def test_load_names_the_file(tmp_path):
    path = tmp_path / "broken.vsproj"
    path.write_bytes(b'{"schema_version": 1, "graph": {"nodes": 3}}')
    with pytest.raises(ProjectFormatError) as info:
        load_project(path)
    assert info.value.file == str(path) and info.value.json_path == "graph.nodes"
    assert str(path) in str(info.value) and "graph.nodes" in str(info.value)


@pytest.mark.parametrize("make", [
    lambda tmp: tmp / "missing.vsproj",
    lambda tmp: tmp,                          # a folder
    lambda tmp: str(tmp / "nul\0byte.vsproj"),
])
def test_unreadable_paths(tmp_path, make):
    with pytest.raises(ProjectFormatError) as info:
        load_project(make(tmp_path))
    assert "cannot be read" in str(info.value)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.vsproj"
    path.write_bytes('{"schema_version": 1, "name": "café"}'.encode("latin-1"))
    with pytest.raises(ProjectFormatError, match="not UTF-8"):
        load_project(path)


def test_oversized_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(project_io, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.vsproj"
    path.write_text(project_io.dumps_project(small_doc()), encoding="utf-8")
    with pytest.raises(ProjectFormatError, match="at most"):
        load_project(path)


# -- atomic saves ----------------------------------------------------------------------
def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "p.vsproj")


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "p.vsproj"
    save_project(small_doc(), path)
    before = path.read_bytes()
    real_write = os.write

    def half_then_fail(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project_io.os, "write", half_then_fail)
    bigger = small_doc()
    bigger.name = "changed" * 1000
    with pytest.raises(OSError, match="No space"):
        save_project(bigger, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []
    assert load_project(path).name == "Tiny ✓ net"


def test_short_write_without_error_is_detected(tmp_path, monkeypatch):
    path = tmp_path / "p.vsproj"
    save_project(small_doc(), path)
    before = path.read_bytes()
    calls = []

    def short(fd, data):
        calls.append(1)
        return 0  # a full disk that reports nothing written

    monkeypatch.setattr(project_io.os, "write", short)
    with pytest.raises(OSError, match="short write"):
        save_project(small_doc(), path)
    monkeypatch.undo()
    assert path.read_bytes() == before and _leftovers(tmp_path) == []


def test_partial_writes_are_continued(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(project_io.os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    path = tmp_path / "p.vsproj"
    doc = small_doc()
    save_project(doc, path)
    monkeypatch.undo()
    assert load_project(path).to_dict() == doc.to_dict()


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_rename_or_fsync_keeps_the_old_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "p.vsproj"
    save_project(small_doc(), path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(project_io.os, failing, boom)
    changed = small_doc()
    changed.name = "changed"
    with pytest.raises(OSError):
        save_project(changed, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and _leftovers(tmp_path) == []


def test_save_to_a_new_file_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_project(small_doc(), "relative.vsproj")
    assert load_project("relative.vsproj").name == "Tiny ✓ net"


# -- migrations ------------------------------------------------------------------------
def test_migration_hook_upgrades_old_files(monkeypatch):
    """Pretend the next format renamed 'name' to 'title' (files of today are one version old)."""
    seen = []

    def one_to_two(data):
        seen.append(data["schema_version"])
        data["name"] = data.pop("title")
        return data

    monkeypatch.setattr(project_io, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(project_io.MIGRATIONS, SCHEMA_VERSION, one_to_two)
    data = doc_dict()
    data["title"] = data.pop("name")
    doc = parse_dict(data)
    assert seen == [SCHEMA_VERSION] and doc.name == "Tiny ✓ net"


def test_migrations_chain_and_stamp_versions(monkeypatch):
    monkeypatch.setattr(project_io, "SCHEMA_VERSION", 3)
    monkeypatch.setitem(project_io.MIGRATIONS, 1, lambda d: {**d, "step1": d["schema_version"]})
    monkeypatch.setitem(project_io.MIGRATIONS, 2, lambda d: {**d, "step2": d["schema_version"]})
    out = project_io.migrate({"schema_version": 1})
    assert out == {"schema_version": 3, "step1": 1, "step2": 2}
    assert project_io.migrate({"schema_version": 3}) == {"schema_version": 3}


@pytest.mark.parametrize("step, words", [
    (None, "no upgrade"),
    (lambda d: d["missing"], "cannot upgrade"),
    (lambda d: [], "failed"),
])
def test_broken_migrations_are_format_errors(monkeypatch, step, words):
    monkeypatch.setattr(project_io, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    if step is not None:
        monkeypatch.setitem(project_io.MIGRATIONS, SCHEMA_VERSION, step)
    else:
        monkeypatch.delitem(project_io.MIGRATIONS, SCHEMA_VERSION, raising=False)
    exc = error_of(doc_dict())
    assert exc.json_path == "schema_version" and words in exc.problem


# -- the documentation -----------------------------------------------------------------
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_hand_written_example_in_the_docs_loads():
    from visionstudio.core.graph import analyze

    text = (DOCS / "project-format.md").read_text(encoding="utf-8")
    example = text.split("## A complete example", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    doc = parse_project(example)
    analysis = analyze(doc.graph)
    assert analysis.diagnostics == [] and analysis.total_params == 235
    assert doc.name == "Tiny example" and doc.training.epochs == 2


def test_layer_reference_in_the_docs_is_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_layer_reference", DOCS / "gen_layer_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run: .venv/bin/python docs/gen_layer_reference.py"
