"""Fuzzing the project loader: whatever the bytes, only ProjectFormatError escapes.

Structural problems must name their JSON path; a file that opens must also save and
open again to the same document. About 1,200 examples per run, each a few ms.
"""

from __future__ import annotations

import copy
import json
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visionstudio.core.project import ProjectFormatError, dumps_project, parse_project
from visionstudio.core.project import io as project_io
from visionstudio.core.templates import TEMPLATES, load_template

def fuzz(n: int) -> settings:
    return settings(max_examples=n, deadline=None, suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Problems found before there is any JSON structure to point into.
NO_PATH_PREFIXES = ("not valid JSON", "the file is not UTF-8", "the file is nested too deeply")


@cache
def template_texts() -> dict[str, str]:
    return {t.key: dumps_project(load_template(t.key)) for t in TEMPLATES}


@cache
def template_dicts() -> dict[str, dict]:
    return {k: json.loads(v) for k, v in template_texts().items()}


def check(payload: str | bytes) -> None:
    """The loader's contract, for any input."""
    try:
        doc = parse_project(payload)
    except ProjectFormatError as exc:
        message = str(exc)
        assert project_io.INTERNAL_PROBLEM not in message, message
        if not exc.problem.startswith(NO_PATH_PREFIXES):
            assert exc.json_path, f"structural error without a JSON path: {message}"
            assert exc.json_path in message
        return
    # It opened: it must save, and re-open to the same document.
    text = dumps_project(doc)
    assert parse_project(text).to_dict() == doc.to_dict()


def all_paths(data, prefix=()):
    """Every (path tuple) inside a JSON value, containers included."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from all_paths(value, prefix + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from all_paths(value, prefix + (i,))


def set_at(data, path, value):
    if not path:
        return value
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from([10**30, -10**30, 1e308, -1e308, -1, 0, 1024, 2**63, 1.5, -0.0, "", "1",
                     "relu", "same", "conv2d", [], {}, [1, 2], [1, 2, 3], {"key": "x"}]),
)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
template_keys = st.sampled_from([t.key for t in TEMPLATES])


@fuzz(200)
@given(key=template_keys, data=st.data())
def test_truncated_text(key, data):
    text = template_texts()[key]
    cut = data.draw(st.integers(0, len(text)))
    check(text[:cut])


@fuzz(250)
@given(key=template_keys, data=st.data())
def test_random_byte_flips(key, data):
    raw = bytearray(template_texts()[key].encode("utf-8"))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    check(bytes(raw))


@fuzz(300)
@given(key=template_keys, data=st.data())
def test_wrong_value_at_random_json_path(key, data):
    doc = copy.deepcopy(template_dicts()[key])
    paths = list(all_paths(doc))
    path = data.draw(st.sampled_from(paths))
    value = data.draw(json_values)
    check(json.dumps(set_at(doc, path, value)))


@fuzz(100)
@given(key=template_keys, data=st.data())
def test_random_field_removed_or_added(key, data):
    doc = copy.deepcopy(template_dicts()[key])
    containers = [p for p in all_paths(doc) if isinstance(_get(doc, p), (dict, list)) and _get(doc, p)]
    path = data.draw(st.sampled_from(containers))
    target = _get(doc, path)
    if isinstance(target, dict):
        if data.draw(st.booleans()):
            del target[data.draw(st.sampled_from(sorted(target)))]
        else:
            target[data.draw(st.text(max_size=10))] = data.draw(json_values)
    else:
        del target[data.draw(st.integers(0, len(target) - 1))]
    check(json.dumps(doc))


def _get(data, path):
    for part in path:
        data = data[part]
    return data


@fuzz(150)
@given(key=template_keys, data=st.data())
def test_graph_surgery(key, data):
    """Unknown kinds, dangling and duplicated edges, cycles, huge numbers."""
    doc = copy.deepcopy(template_dicts()[key])
    nodes, edges = doc["graph"]["nodes"], doc["graph"]["edges"]
    ids = [n["id"] for n in nodes]
    node_id = st.one_of(st.sampled_from(ids), st.text(max_size=6))
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(
            ["kind", "edge", "reverse", "dangling", "huge", "version", "dup_node", "drop_node"]))
        if action == "kind":
            nodes[data.draw(st.integers(0, len(nodes) - 1))]["kind"] = data.draw(
                st.sampled_from(["conv3d", "", "Conv2d", "linear", "batchnorm", "input"]))
        elif action == "edge":
            edges.append({"src": data.draw(node_id), "dst": data.draw(node_id),
                          "port": data.draw(st.integers(-2, 5))})
        elif action == "reverse" and edges:
            e = edges[data.draw(st.integers(0, len(edges) - 1))]
            edges.append({"src": e["dst"], "dst": e["src"], "port": 0})  # closes a cycle
        elif action == "dangling" and edges:
            edges[data.draw(st.integers(0, len(edges) - 1))][data.draw(st.sampled_from(["src", "dst"]))] = \
                data.draw(st.text(max_size=6))
        elif action == "huge":
            node = nodes[data.draw(st.integers(0, len(nodes) - 1))]
            if node["params"]:
                name = data.draw(st.sampled_from(sorted(node["params"])))
                node["params"][name] = data.draw(st.sampled_from(
                    [10**30, -10**30, 1e308, -1e308, -1, 10**400, 2**31, [10**30, 1]]))
        elif action == "version":
            nodes[data.draw(st.integers(0, len(nodes) - 1))]["version"] = data.draw(
                st.sampled_from([0, 2, -1, 10**30, "1", None, 1.0]))
        elif action == "dup_node":
            nodes.append(copy.deepcopy(nodes[data.draw(st.integers(0, len(nodes) - 1))]))
        elif action == "drop_node" and len(nodes) > 1:
            nodes.pop(data.draw(st.integers(0, len(nodes) - 1)))
    check(json.dumps(doc))


@fuzz(60)
@given(key=template_keys, version=st.one_of(
    st.sampled_from([0, 2, "1", None, True, 1.0, -1, 10**30, [], {}]), json_values))
def test_wrong_schema_version(key, version):
    doc = copy.deepcopy(template_dicts()[key])
    doc["schema_version"] = version
    try:
        parse_project(json.dumps(doc))
    except ProjectFormatError as exc:
        assert exc.json_path == "schema_version" and "schema_version" in str(exc)
    else:
        assert version == 1 and type(version) is int


@fuzz(60)
@given(key=template_keys, depth=st.integers(1, 3000), data=st.data())
def test_deep_nesting(key, depth, data):
    doc = copy.deepcopy(template_dicts()[key])
    path = data.draw(st.sampled_from(list(all_paths(doc))[1:]))
    opener, closer = data.draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    marker = "__DEEP__"
    text = json.dumps(set_at(doc, path, marker)).replace(json.dumps(marker), opener * depth + "1" + closer * depth)
    check(text)


@fuzz(100)
@given(value=json_values)
def test_arbitrary_json_documents(value):
    check(json.dumps(value))
    if isinstance(value, dict):
        check(json.dumps({**value, "schema_version": 1}))


@fuzz(60)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes(raw):
    check(raw)
    check(b'{"schema_version": 1, "name": "' + raw + b'"}')
