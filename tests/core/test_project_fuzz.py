"""Fuzzing the project loader: whatever the bytes, only ProjectFormatError escapes.

Structural problems must name their JSON path; a file that opens must also save and
open again to the same document. About 1,800 examples per run, each a few ms; the big
run (2,204 files, up to 64 MiB and 100,000 levels deep, with peak memory and the
slowest file) is benchmarks/fuzz_projects.py.
"""

from __future__ import annotations

import copy
import json
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visionstudio.core.project import SCHEMA_VERSION, ProjectFormatError, dumps_project, parse_project
from visionstudio.core.project import io as project_io
from visionstudio.core.templates import TEMPLATES, load_template


def fuzz(n: int) -> settings:
    return settings(max_examples=n, deadline=None, suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Problems found before there is any JSON structure to point into.
NO_PATH_PREFIXES = ("not valid JSON", "the file is not UTF-8", "the file is nested too deeply",
                    "the project is", "opens ")


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
    st.sampled_from([0, SCHEMA_VERSION + 1, "1", None, True, 1.0, -1, 10**30, [], {}]), json_values))
def test_wrong_schema_version(key, version):
    doc = copy.deepcopy(template_dicts()[key])
    doc["schema_version"] = version
    try:
        parse_project(json.dumps(doc))
    except ProjectFormatError as exc:
        assert exc.json_path == "schema_version" and "schema_version" in str(exc)
    else:
        assert type(version) is int and 1 <= version <= SCHEMA_VERSION  # older files are migrated


@fuzz(60)
@given(key=template_keys, depth=st.integers(1, 3000), data=st.data())
def test_deep_nesting(key, depth, data):
    doc = copy.deepcopy(template_dicts()[key])
    path = data.draw(st.sampled_from(list(all_paths(doc))[1:]))
    opener, closer = data.draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    marker = "__DEEP__"
    text = json.dumps(set_at(doc, path, marker)).replace(json.dumps(marker),
                                                         opener * depth + "1" + closer * depth)
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


# -- issue #11: wrong types everywhere, duplicates, huge and deep values ---------------------------
def _swapped(value):
    """A value of another JSON type than ``value``."""
    if isinstance(value, bool) or value is None:
        return "x"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 0 if value else None
    return {} if isinstance(value, list) else []


WRONG_VALUES = [None, True, -1, 10**30, 1e308, "", "x", [], [1, 2], {}, {"key": "x"}]


def _every_path_cases():
    doc = template_dicts()["classic_cnn"]
    for i, path in enumerate(list(all_paths(doc))[1:]):
        yield pytest.param(path, WRONG_VALUES[i % len(WRONG_VALUES)], id=f"{i}-a")
        yield pytest.param(path, _swapped(_get(doc, path)), id=f"{i}-b")


@pytest.mark.parametrize("path, value", list(_every_path_cases()))
def test_wrong_type_at_every_path(path, value):
    check(json.dumps(set_at(copy.deepcopy(template_dicts()["classic_cnn"]), path, value)))


def _splice(doc, path, raw: str) -> str:
    """The JSON of ``doc`` with the value at ``path`` replaced by the raw text ``raw``."""
    marker = "__SPLICE__"
    return json.dumps(set_at(doc, path, marker)).replace(json.dumps(marker), raw, 1)


@fuzz(80)
@given(key=template_keys, data=st.data())
def test_duplicate_key_in_any_object(key, data):
    doc = copy.deepcopy(template_dicts()[key])
    objects = [p for p in all_paths(doc) if p and isinstance(_get(doc, p), dict) and _get(doc, p)]
    path = data.draw(st.sampled_from(objects))
    field = data.draw(st.sampled_from(sorted(_get(doc, path))))
    raw = json.dumps(_get(doc, path))[:-1] + f", {json.dumps(field)}: {json.dumps(data.draw(json_values))}}}"
    with pytest.raises(ProjectFormatError, match="appears twice"):
        parse_project(_splice(doc, path, raw))


@fuzz(60)
@given(key=template_keys, raw=st.sampled_from(
    ["1e400", "-1e400", "1e-400", "123456789e999999", "9" * 4300, "9" * 4301, "-" + "9" * 50_000,
     "0." + "3" * 50_000, "1" + "0" * 400]), data=st.data())
def test_huge_numbers_anywhere(key, raw, data):
    doc = copy.deepcopy(template_dicts()[key])
    path = data.draw(st.sampled_from(list(all_paths(doc))[1:]))
    check(_splice(doc, path, raw))


@fuzz(12)
@given(key=template_keys, fill=st.sampled_from(["x", "é", "\\u00e9", '\\"', "\\ud800"]), data=st.data())
def test_megabyte_strings_anywhere(key, fill, data):
    doc = copy.deepcopy(template_dicts()[key])
    path = data.draw(st.sampled_from(list(all_paths(doc))[1:]))
    check(_splice(doc, path, '"' + fill * ((1 << 20) // len(fill)) + '"'))


@fuzz(12)
@given(key=template_keys, item=st.sampled_from(["0", "1.5", '"a"', "[]", "{}", "null", "[0, 0]"]),
       data=st.data())
def test_long_lists_anywhere(key, item, data):
    doc = copy.deepcopy(template_dicts()[key])
    path = data.draw(st.sampled_from([("graph", "nodes"), ("graph", "edges"), ("runs",), ("name",)]
                                     + list(all_paths(doc))[1:]))
    check(_splice(doc, path, "[" + ",".join([item] * 200_000) + "]"))


@fuzz(10)
@given(key=template_keys, depth=st.sampled_from([990, 1000, 5000, 100_000]), data=st.data())
def test_nesting_far_beyond_the_parser(key, depth, data):
    doc = copy.deepcopy(template_dicts()[key])
    path = data.draw(st.sampled_from(list(all_paths(doc))[1:]))
    opener, closer = data.draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    check(_splice(doc, path, opener * depth + "1" + closer * depth))
