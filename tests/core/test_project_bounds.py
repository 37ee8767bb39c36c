"""parse_project is bounded like load_project, and its text check names the bad string.

Attacks of issue #11: ``parse_project(bytes)`` skipped the 64 MiB limit; a str whose
characters are short but whose UTF-8 is long must be measured in bytes; the check for
unsavable strings (lone surrogate escapes) must still find them, at any depth, with
their JSON path, while files without such escapes are not walked at all.
"""

from __future__ import annotations

import json

import pytest

from visionstudio.core.project import ProjectFormatError, dumps_project, load_project, parse_project
from visionstudio.core.project import io as project_io


def _named(name_json: str) -> str:
    return '{"schema_version": 1, "name": ' + name_json + "}"


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(project_io, "MAX_FILE_BYTES", 1000)
    return 1000


@pytest.mark.parametrize("as_bytes", [False, True])
def test_parse_project_refuses_text_over_the_limit(small_limit, as_bytes):
    text = _named(json.dumps("x" * 2000))
    with pytest.raises(ProjectFormatError, match="project files are at most"):
        parse_project(text.encode("utf-8") if as_bytes else text)


def test_the_limit_counts_utf8_bytes_not_characters(small_limit):
    fits = _named(json.dumps("€" * 300, ensure_ascii=False))       # 300 characters, ~930 bytes
    too_big = _named(json.dumps("€" * 400, ensure_ascii=False))    # 400 characters, ~1230 bytes
    assert len(too_big) < small_limit
    assert parse_project(fits).name == "€" * 300
    with pytest.raises(ProjectFormatError, match="project files are at most"):
        parse_project(too_big)
    with pytest.raises(ProjectFormatError, match="project files are at most"):
        parse_project(bytearray(too_big.encode("utf-8")))


def test_the_real_limit_is_64_mib():
    assert project_io.MAX_FILE_BYTES == 64 * 1024 * 1024
    with pytest.raises(ProjectFormatError, match="at most 64 MiB"):
        parse_project(b" " * (64 * 1024 * 1024 + 1))


@pytest.mark.parametrize("escape, path", [
    ('"\\ud800"', "name"),
    ('"ok \\udfff ok"', "name"),
    ('"\\udc00\\ud800"', "name"),  # reversed pair: two lone halves
])
def test_lone_surrogate_escapes_are_refused_with_their_path(escape, path):
    with pytest.raises(ProjectFormatError, match="lone surrogate") as info:
        parse_project(_named(escape))
    assert info.value.json_path == path


def test_a_surrogate_deep_inside_is_found_with_its_path():
    data = {"schema_version": 1, "graph": {"nodes": [
        {"id": "a", "kind": "input", "name": "input1"},
        {"id": "b", "kind": "relu", "name": "@@"},
    ], "edges": []}}
    text = json.dumps(data).replace("@@", "\\udbff")
    with pytest.raises(ProjectFormatError) as info:
        parse_project(text)
    assert info.value.json_path == "graph.nodes[1].name"


def test_a_surrogate_in_a_key_is_named_without_printing_it():
    with pytest.raises(ProjectFormatError, match="lone surrogate") as info:
        parse_project('{"schema_version": 1, "layout": {"positions": {"\\ud800": [0, 0]}}}')
    assert info.value.json_path == "layout.positions[?]"


def test_raw_surrogates_in_a_str_are_refused_too():
    with pytest.raises(ProjectFormatError, match="lone surrogate") as info:
        parse_project(_named('"a\ud800b"'))
    assert info.value.json_path == "name"


def test_pairs_and_escaped_backslashes_are_not_surrogates(tmp_path):
    doc = parse_project(_named('"\\ud83d\\ude00 and \\\\ud800"'))
    assert doc.name == "\U0001F600 and \\ud800"
    path = tmp_path / "p.vsproj"
    path.write_text(dumps_project(doc), encoding="utf-8")
    assert load_project(path).name == doc.name


def test_a_deep_structure_with_a_surrogate_at_the_bottom():
    depth = 800  # below the JSON parser's own nesting limit
    text = ('{"schema_version": 1, "description": "x", "runs": '
            + "[" * depth + '"\\ud800"' + "]" * depth + "}")
    with pytest.raises(ProjectFormatError) as info:
        parse_project(text)
    assert info.value.json_path == "runs" + "[0]" * depth


def test_parse_project_wants_text():
    with pytest.raises(TypeError, match="str or bytes"):
        parse_project(None)  # type: ignore[arg-type]


def test_a_file_of_empty_lists_is_refused_before_parsing(monkeypatch):
    # 64 MiB of "[]," parses into 1.7 GB of list objects; the brackets are counted first.
    monkeypatch.setattr(project_io, "MAX_CONTAINERS", 1000)
    text = '{"schema_version": 1, "runs": [' + ",".join(["[]"] * 1000) + "]}"
    with pytest.raises(ProjectFormatError, match="opens 1,002 JSON lists and objects; a project file "
                                                 "may hold at most 1,000"):
        parse_project(text)


def test_the_container_bound_leaves_room_for_the_largest_real_project():
    from visionstudio.core.project import graph_reader, runs_data

    # every run value a container, five per layer (node, params, lists, position), one per edge
    largest = runs_data.MAX_RUNS_VALUES + 5 * graph_reader.MAX_NODES + graph_reader.MAX_EDGES + 100
    assert project_io.MAX_CONTAINERS > 1.5 * largest


def test_a_file_near_the_limit_saves_as_one_that_opens_again(monkeypatch):
    # Found by benchmarks/fuzz_projects.py: a 64 MiB file with a long description opened,
    # but its indented save was 68.6 MiB, which the loader then refused.
    from visionstudio.core.templates import load_template

    compact = json.dumps(load_template("small_resnet").to_dict(), separators=(",", ":"))
    monkeypatch.setattr(project_io, "MAX_FILE_BYTES", len(compact) + 200)
    doc = parse_project(compact)
    text = dumps_project(doc)
    assert len(text.encode("utf-8")) <= project_io.MAX_FILE_BYTES
    assert parse_project(text).to_dict() == doc.to_dict()
    monkeypatch.setattr(project_io, "MAX_FILE_BYTES", 64 * 1024 * 1024)
    assert "\n  " in dumps_project(doc)  # small projects stay indented


def test_a_list_parameter_of_millions_is_refused_before_it_is_walked():
    nodes = [{"id": "a", "kind": "input", "name": "input1"},
             {"id": "w", "kind": "weighted_sum", "name": "wsum1", "params": {"weights": [1.0] * 5000}}]
    with pytest.raises(ProjectFormatError, match="has 5,000 values; a parameter holds at most 4,096") as info:
        parse_project(json.dumps({"schema_version": 1, "graph": {"nodes": nodes, "edges": []}}))
    assert info.value.json_path == "graph.nodes[1].params.weights"


def test_reading_does_not_alias_the_callers_params():
    from visionstudio.core.project import document_from_dict

    data = {"schema_version": 1, "graph": {"nodes": [
        {"id": "a", "kind": "input", "name": "input1"},
        {"id": "w", "kind": "weighted_sum", "name": "wsum1", "params": {"weights": [1.0, 2.0]}}],
        "edges": []}}
    doc = document_from_dict(data)
    data["graph"]["nodes"][1]["params"]["weights"].append(3.0)
    assert doc.graph.nodes["w"].params["weights"] == [1.0, 2.0]


def test_a_save_that_could_not_be_opened_again_is_refused_and_keeps_the_old_file(tmp_path, monkeypatch):
    from visionstudio.core.project import ProjectDocument, ProjectFormatError, io

    target = tmp_path / "net.vsproj"
    target.write_text("old")
    monkeypatch.setattr(io, "MAX_FILE_BYTES", 200)
    with pytest.raises(ProjectFormatError, match="at most 0 MiB"):
        io.save_project(ProjectDocument(name="x" * 500), target)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["net.vsproj"]
