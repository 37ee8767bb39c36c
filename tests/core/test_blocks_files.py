"""Blocks in project files and .vsblock files: round trips, the v1 migration, and
hostile files, each refused with one clear error naming its JSON path."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.block_helpers import add, chain, conv_block, network
from visionstudio.core.blocks.files import (
    MAX_BLOCK_FILE_BYTES,
    dumps_block,
    parse_block,
    read_block_file,
    write_block_file,
)
from visionstudio.core.graph import SetParam, analyze
from visionstudio.core.graph.blocks import ExposedParam
from visionstudio.core.project import ProjectDocument, ProjectFormatError, dumps_project, parse_project
from visionstudio.core.project import io as project_io


def nested_doc() -> ProjectDocument:
    doc = ProjectDocument()
    lib = doc.graph.blocks
    lib.add(conv_block("inner"))
    outer = conv_block("outer")
    lib.add(outer)
    g = outer.graph
    relu, out = g.node_by_name("relu1").id, g.node_by_name("out").id
    g._delete_edges_of({out})
    nested = add(g, "block", "nested", block="inner", channels=5)
    chain(g, relu, nested, out)
    outer.exposed.append(ExposedParam("inner_channels", nested, "channels", "Inner channels"))
    outer.input_shapes = [(4, 16, 16)]
    first, _ = network(doc.graph, ["outer", "inner"])
    SetParam(first, "inner_channels", 7).apply(doc.graph)
    return doc


def _text(doc) -> str:
    return dumps_project(doc)


def test_project_round_trip_keeps_blocks():
    doc = nested_doc()
    text = _text(doc)
    again = parse_project(text)
    for section in ("graph", "layout"):
        assert json.loads(_text(again))[section] == json.loads(text)[section]
    lib = again.graph.blocks
    assert lib.keys() == ["inner", "outer"] and lib.get("outer").graph.blocks is lib
    assert lib.get("outer").input_shapes == [(4, 16, 16)]
    a, b = analyze(doc.graph), analyze(again.graph)
    assert b.ok and b.total_params == a.total_params and b.output_shape == a.output_shape
    data = json.loads(text)
    assert data["schema_version"] == 3 and "key" not in data["graph"]["blocks"]["outer"]


def test_version_1_files_migrate_and_cannot_claim_blocks():
    data = json.loads(_text(ProjectDocument()))
    data["schema_version"] = 1
    doc = parse_project(json.dumps(data))
    assert len(doc.graph.blocks) == 0 and json.loads(_text(doc))["schema_version"] == 3
    data["graph"]["blocks"] = {}
    with pytest.raises(ProjectFormatError) as info:
        parse_project(json.dumps(data))
    assert info.value.json_path == "graph.blocks"


def _error(data) -> ProjectFormatError:
    with pytest.raises(ProjectFormatError) as info:
        parse_project(json.dumps(data))
    assert project_io.INTERNAL_PROBLEM not in str(info.value)
    return info.value


def _nested_data() -> dict:
    return json.loads(_text(nested_doc()))


def _first_instance(nodes: list) -> int:
    return next(i for i, n in enumerate(nodes) if n["kind"] == "block")


def test_a_definition_that_includes_itself():
    data = _nested_data()
    inner = data["graph"]["blocks"]["inner"]
    inner["nodes"].append({"id": "loop", "kind": "block", "name": "loop", "params": {"block": "outer"}})
    exc = _error(data)
    assert "contains itself (inner → outer → inner)" in exc.problem
    assert exc.json_path.startswith("graph.blocks.") and exc.json_path.endswith(".params.block")
    data = _nested_data()
    inner = data["graph"]["blocks"]["inner"]
    inner["nodes"].append({"id": "me", "kind": "block", "name": "me", "params": {"block": "inner"}})
    exc = _error(data)
    assert exc.json_path == "graph.blocks.inner.nodes[4].params.block" and "(inner → inner)" in exc.problem


def test_a_thousand_deep_nesting_chain():
    data = json.loads(_text(ProjectDocument()))
    blocks = {}
    for i in range(1000):
        d = conv_block(f"k{i}").to_dict()
        del d["key"]
        if i < 999:
            d["nodes"].append({"id": "deeper", "kind": "block", "name": "deeper",
                               "params": {"block": f"k{i + 1}"}})
        blocks[f"k{i}"] = d
    data["graph"]["blocks"] = blocks
    exc = _error(data)
    assert "nests blocks 33 deep; at most 32" in exc.problem and exc.json_path == "graph.blocks.k967"


@pytest.mark.parametrize("change, path, words", [
    (lambda e: e.__setitem__(0, {**e[0], "node": "ghost"}), "graph.blocks.outer.exposed[0].node",
     "no layer of block outer has id 'ghost'"),
    (lambda e: e.__setitem__(0, {**e[0], "param": "nope"}), "graph.blocks.outer.exposed[0].param",
     "conv1 has no parameter 'nope'"),
    (lambda e: e.__setitem__(0, {**e[0], "name": "os.system"}), "graph.blocks.outer.exposed[0].name",
     "not a valid name"),
    (lambda e: e.append(dict(e[0])), "graph.blocks.outer.exposed[2]",
     "out_channels of conv1 is exposed twice"),
    (lambda e: e.append({**e[0], "param": "bias"}), "graph.blocks.outer.exposed[2].name",
     "already sets a parameter of another kind"),
])
def test_bad_exposed_params(change, path, words):
    data = _nested_data()
    change(data["graph"]["blocks"]["outer"]["exposed"])
    exc = _error(data)
    assert exc.json_path == path and words in exc.problem


@pytest.mark.parametrize("key", ["../../etc/passwd", "a.b", "class", "", "x" * 65, "__import__('os')"])
def test_block_keys_must_be_identifiers(key):
    data = _nested_data()
    blocks = data["graph"]["blocks"]
    blocks[key] = blocks.pop("inner")
    exc = _error(data)
    assert exc.json_path.startswith("graph.blocks") and exc.json_path != "graph.blocks"
    assert any(w in exc.problem for w in ("not a valid name", "keyword", "characters", "non-empty"))


def test_instances_are_checked_against_their_definitions():
    data = _nested_data()
    i = _first_instance(data["graph"]["nodes"])
    bad = copy.deepcopy(data)
    bad["graph"]["nodes"][i]["params"]["block"] = "missing"
    assert _error(bad).json_path == f"graph.nodes[{i}].params.block"
    bad = copy.deepcopy(data)
    bad["graph"]["nodes"][i]["params"]["bogus"] = 1
    assert _error(bad).json_path == f"graph.nodes[{i}].params.bogus"
    bad = copy.deepcopy(data)
    bad["graph"]["nodes"][i]["params"]["inner_channels"] = 0
    exc = _error(bad)
    assert exc.json_path == f"graph.nodes[{i}].params.inner_channels" and "at least 1" in exc.problem
    bad = copy.deepcopy(data)
    bad["graph"]["blocks"]["outer"]["nodes"][0]["kind"] = "conv9d"
    assert _error(bad).json_path == "graph.blocks.outer.nodes[0].kind"
    bad = copy.deepcopy(data)
    bad["graph"]["blocks"]["outer"]["edges"][0]["src"] = "nowhere"
    assert _error(bad).json_path == "graph.blocks.outer.edges[0].src"
    bad = copy.deepcopy(data)
    bad["graph"]["blocks"]["outer"]["surprise"] = 1
    assert _error(bad).json_path == "graph.blocks.outer.surprise"
    bad = copy.deepcopy(data)
    bad["graph"]["blocks"]["outer"]["input_shapes"] = [[10**9]]
    assert _error(bad).json_path == "graph.blocks.outer.input_shapes[0][0]"


def test_all_definitions_count_toward_the_layer_limit(monkeypatch):
    from visionstudio.core.project import graph_reader

    monkeypatch.setattr(graph_reader, "MAX_NODES", 12)
    exc = _error(_nested_data())  # 4 + 5 layers in the blocks, 6 on the network
    assert exc.json_path == "graph.nodes" and "blocks included" in exc.problem


def test_vsblock_round_trip(tmp_path):
    doc = nested_doc()
    path = tmp_path / "outer.vsblock"
    write_block_file(path, doc.graph.blocks, "outer")
    block, deps = read_block_file(path)
    assert block.key == "outer" and list(deps) == ["inner"]
    assert block.graph.blocks is deps["inner"].graph.blocks
    assert dumps_block(block.graph.blocks, "outer") == path.read_text(encoding="utf-8")
    assert block.to_dict() == doc.graph.blocks.get("outer").to_dict()


def _block_data() -> dict:
    return json.loads(dumps_block(nested_doc().graph.blocks, "outer"))


def _block_error(data) -> ProjectFormatError:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with pytest.raises(ProjectFormatError) as info:
        parse_block(raw)
    return info.value


def test_hostile_block_files(tmp_path):
    data = _block_data()
    data["dependencies"]["inner"]["nodes"].append(
        {"id": "loop", "kind": "block", "name": "loop", "params": {"block": "outer"}})
    exc = _block_error(data)
    assert "contains itself" in exc.problem and exc.json_path.endswith(".params.block")
    data = _block_data()
    data["block"]["key"] = "../evil"
    assert _block_error(data).json_path == "block.key"
    data = _block_data()
    data["block"]["exposed"][0]["node"] = "ghost"
    assert _block_error(data).json_path == "block.exposed[0].node"
    data = _block_data()
    data["format"] = "x" * 1_000_000
    exc = _block_error(data)
    assert exc.json_path == "format" and len(str(exc)) < 200
    data = _block_data()
    data["version"] = 2
    assert "newer VisionStudio" in _block_error(data).problem
    data = _block_data()
    data["dependencies"]["spare"] = data["dependencies"]["inner"]
    assert _block_error(data).json_path == "dependencies.spare"
    huge = tmp_path / "huge.vsblock"
    huge.write_bytes(b'{"format": "' + b"x" * (MAX_BLOCK_FILE_BYTES + 10) + b'"}')
    with pytest.raises(ProjectFormatError, match="block files are at most 8 MiB") as info:
        read_block_file(huge)
    assert info.value.file == str(huge)
    assert "JSON lists and objects" in _block_error(b"[" * 600_000).problem
    assert "not valid JSON" in _block_error(b'{"format": "visionstudio.block", ').problem


def _paths(value, path=()):
    """Every (path to a value) inside a JSON value, containers included."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2, 10**6) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                 max_size=3), max_leaves=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_change_inside_the_blocks_section_is_read_or_refused_with_a_path(data):
    project = _nested_data()
    spots = list(_paths(project["graph"]["blocks"]))[1:]
    where = data.draw(st.sampled_from(spots))
    parent = project["graph"]["blocks"]
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = data.draw(_JSON)
    try:
        doc = parse_project(json.dumps(project))
    except ProjectFormatError as exc:
        assert project_io.INTERNAL_PROBLEM not in str(exc) and exc.json_path, exc
    else:
        analyze(doc.graph)  # whatever opens can be analysed
