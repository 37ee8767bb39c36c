"""Hostile project text cannot make an export run code or write invalid Python (#11, item 1).

The attack: a downloaded project whose name, description, layer names, dataset key and
folders, training words and run names hold arbitrary Unicode mixed with docstring and
string closers, NUL, CR, lone surrogates, coding cookies and payloads that create a
sentinel file. For every example the text files of the PyTorch and training-script
exports are generated (the functions the exporters write from), then ALL generated
modules are imported in ONE subprocess (one torch import) whose working folder is the
sentinel's: it must stay empty, and every module must import, build and run.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import keyword
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.export import ExportError, export_project
from visionstudio.core.export.pytorch_code import model_source
from visionstudio.core.export.script import README, README_FILE, bundle_files, fixed_files
from visionstudio.core.graph import name_problem
from visionstudio.core.project import ProjectFormatError, document_from_dict, load_project, save_project

from .export_graphs import template_projects
from .support import import_file

SENTINEL = "PWNED"  # relative: created in the importing process's working folder
PAYLOADS = (
    f"__import__('os').system('touch {SENTINEL}')",
    f'open("{SENTINEL}", "w").write("x")',
    f"exec(\"open('{SENTINEL}', 'w')\")",
    f"import os; os.makedirs('{SENTINEL}')",
    f"__import__('pathlib').Path('{SENTINEL}').touch()",
)
CLOSERS = ('"""', "'''", '"', "'", "\\", "\\\\", "\n", "\r", "\r\n", "\x00", "\ud800", "\udfff",
           "\udc80", "\u2028", "\u2029", "\x0c", "\x0b", "\x1a", "\ufeff", "\u202e", "\t", "#", "  # ",
           ")", "]", "}", "{", "\\N{", "\\x", "\\u", "# -*- coding: rot13 -*-\n", "# coding=latin-1\n",
           "\nif True:\n    ", ";", ":")
ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates and NUL included
HOSTILE = st.one_of(
    st.lists(st.one_of(st.sampled_from(CLOSERS), st.sampled_from(PAYLOADS),
                       st.text(ANY_CHAR, max_size=8)), max_size=10).map("".join),
    st.text(ANY_CHAR, max_size=40),
)
IDENTIFIERS = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
    st.sampled_from(["x", "self", "torch", "F", "nn", "logits", "forward", "training", "super",
                     "__import__", "PROJECT_NAME", "INPUT_SHAPE", "WeightedSum", "None", "ﬁ"]),
)
FIELDS = st.fixed_dictionaries({
    "name": HOSTILE, "description": HOSTILE, "dataset_key": st.one_of(st.just("image_folder"), HOSTILE),
    "folder": HOSTILE, "val_folder": HOSTILE, "device": HOSTILE, "augmentation": HOSTILE,
    # One example in five renames a layer (most hostile names are refused, with no files).
    "run_name": HOSTILE, "layer": st.integers(0, 9).flatmap(
        lambda k: st.none() if k < 8 else (IDENTIFIERS if k == 8 else HOSTILE)),
})
WORST = [
    'x"""\nimport os; open("PWNED", "w")\n"""',
    "x'''\n__import__('os').system('touch PWNED')\n'''",
    'x""" + str(open("PWNED", "w")) + """',
    'Classic \\"""\x00 CNN\n"""\r\nopen("PWNED", "w")  # ',
    "# -*- coding: rot13 -*-\nbcra('CJARQ', 'j')",
    "\u202e\"\"\"; __import__('os').makedirs('PWNED'); \"\"\"",
]
BASE = dict(template_projects())["classic_cnn"]
EXAMPLES = 500


def _valid_identifier(text: str) -> bool:
    return text.isascii() and text.isidentifier() and not keyword.iskeyword(text)


def _hostile_doc(f: dict):
    """The classic CNN with every text field set from ``f``; returns (doc, renamed layer
    name or None). Layers are renamed in memory, past the loader's name check, as a
    document built in code (or a future loader bug) could hold them."""
    doc = copy.deepcopy(BASE)
    doc.name, doc.description = f["name"], f["description"]
    doc.dataset = DatasetConfig(f["dataset_key"], {"folder": f["folder"], "val_folder": f["val_folder"]})
    doc.training = dataclasses.replace(doc.training, device=f["device"], augmentation=f["augmentation"])
    doc.runs = [{"id": "run1", "name": f["run_name"], "folder": f["run_name"]}]
    layer = f["layer"]
    names = {n.name for n in doc.graph.nodes.values()}
    if layer is None or layer in names:
        return doc, None
    conv = next(n for n in doc.graph.nodes.values() if n.kind == "conv2d")
    doc.graph.nodes[conv.id] = dataclasses.replace(conv, name=layer)
    return doc, layer


def _top_level_is_inert(source: bytes) -> bool:
    """model.py at import does nothing but bind names: docstring, imports, constant
    assignments, class definitions and the ``__main__`` guard; no call anywhere at the
    top level outside the guard and the class bodies' defs."""
    tree = ast.parse(source)
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef)):
            continue
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Constant, ast.Tuple)):
            if all(isinstance(e, ast.Constant) for e in ast.walk(node.value)
                   if not isinstance(e, (ast.Tuple, ast.Load))):
                continue
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and ast.unparse(node.test) == "__name__ == '__main__'"):
            continue
        return False
    return True


def _literal(source: bytes, name: str):
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found")


IMPORTER = textwrap.dedent('''
    import importlib.util, json, os, sys
    import torch

    cases = json.load(open(sys.argv[1], encoding="utf-8"))
    report = {"imported": 0, "failed": [], "sentinel": False}

    def load(path, name):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    for i, case in enumerate(cases):
        try:
            if case["kind"] == "model":
                m = load(case["path"], f"exported_model_{i}")
                assert m.PROJECT_NAME == case["name"], "PROJECT_NAME differs from the project name"
                net = getattr(m, case["class"])().eval()
                with torch.no_grad():
                    out = net(torch.zeros(1, *m.INPUT_SHAPE))
                assert tuple(out.shape[1:]) == tuple(m.OUTPUT_SHAPE)
            else:
                sys.path.insert(0, os.path.dirname(case["path"]))
                m = load(case["path"], f"exported_{case['kind']}_{i}")
                assert not os.path.exists(os.path.join(os.path.dirname(case["path"]), "out")), \\
                    "importing train.py started training"
            report["imported"] += 1
        except BaseException as exc:
            report["failed"].append(f"{case['path']}: {type(exc).__name__}: {exc}"[:300])
    report["sentinel"] = os.path.exists("PWNED")
    report["cwd"] = sorted(os.listdir("."))
    print(json.dumps(report))
''')


def _import_all(cases: list[dict], workdir: Path) -> dict:
    workdir.mkdir()
    manifest = workdir.parent / "manifest.json"
    manifest.write_text(json.dumps(cases), encoding="utf-8")  # ASCII escapes keep surrogates
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", IMPORTER, str(manifest)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_hostile_text_in_every_field_never_runs(tmp_path):
    cases_dir = tmp_path / "cases"
    cases: list[dict] = []
    counts = {"examples": 0, "refused": 0, "files": 0, "invalid": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(FIELDS)
    @example({"name": WORST[0], "description": WORST[3], "dataset_key": WORST[1], "folder": WORST[2],
              "val_folder": "\ud800", "device": WORST[4], "augmentation": "\x00", "run_name": "../..",
              "layer": None})
    @example({"name": "\udfff\"\"\"\x00", "description": "\\", "dataset_key": "image_folder",
              "folder": "", "val_folder": "", "device": "", "augmentation": "", "run_name": "",
              "layer": 'c"""\nopen("PWNED","w")#'})
    def one(f):
        counts["examples"] += 1
        doc, layer = _hostile_doc(f)
        try:
            generated = model_source(doc)
            files = dict(bundle_files(doc, generated))
        except ExportError as exc:
            # Only a layer name that is not a Python name may refuse, and it says so.
            assert layer is not None and not _valid_identifier(layer), exc
            assert "not a valid Python name" in str(exc)
            counts["refused"] += 1
            return
        assert layer is None or _valid_identifier(layer)
        folder = cases_dir / str(counts["examples"])
        folder.mkdir(parents=True)
        for name in ("model.py", "config.json", README_FILE):
            (folder / name).write_bytes(files[name])
        source = files["model.py"]
        counts["files"] += 1
        try:
            compile(source, "model.py", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            counts["invalid"] += 1
            raise
        assert _top_level_is_inert(source)
        assert _literal(source, "PROJECT_NAME") == doc.name
        config = json.loads(files["config.json"].decode("utf-8"))
        # data, read back unchanged — as JSON carries it: JSON writes a lone surrogate as an
        # escape, and reads the escapes of a surrogate pair back as the one character they name
        as_json = lambda text: json.loads(json.dumps(text))  # noqa: E731 - a one-line helper
        assert config["project"] == as_json(doc.name)
        assert config["dataset"]["params"]["folder"] == as_json(f["folder"])
        assert config["training"]["device"] == as_json(f["device"])
        # The README is the fixed text with the name on its one printable heading line.
        head, _, tail = files[README_FILE].decode("utf-8").partition("\n")
        assert head.startswith("# ") and head.endswith(": training script exported by VisionStudio")
        assert head.isprintable()
        assert tail == README.format(name="", cls=generated.class_name).partition("\n")[2]
        # The fixed files are the app's own text whatever the project holds.
        for name, data in fixed_files():
            assert files[name] == data
        cases.append({"kind": "model", "path": str(folder / "model.py"), "name": doc.name,
                      "class": config["model"]["class"]})

    one()
    assert counts["examples"] >= EXAMPLES

    # A handful of end-to-end exports of the worst payloads: saved, loaded from disk and
    # exported as a user would, every format that writes Python.
    for i, name in enumerate(WORST):
        doc = copy.deepcopy(BASE)
        doc.name, doc.description = name, WORST[(i + 1) % len(WORST)]
        doc.dataset = DatasetConfig("image_folder", {"folder": WORST[i - 1], "val_folder": name})
        path = tmp_path / f"hostile{i}.vsproj"
        save_project(doc, path)
        loaded = load_project(path)
        assert loaded.name == name
        for fmt in ("pytorch", "script"):
            out = tmp_path / f"e2e{i}_{fmt}"
            result = export_project(loaded, fmt, out)
            assert {p.name for p in result.files} >= {"model.py", "weights.safetensors"}
            counts["files"] += 1
            cases.append({"kind": "model", "path": str(out / "model.py"), "name": name,
                          "class": json.loads((out / "config.json").read_text("utf-8"))["model"]["class"]
                          if fmt == "script" else _class_of(out / "model.py")})
            if fmt == "script":
                for module in ("train.py", "train_data.py", "shapes_data.py", "augmentation.py",
                               "lr_schedule.py"):
                    src = (out / module).read_bytes()
                    compile(src, module, "exec", dont_inherit=True)
                    counts["files"] += 1
                    cases.append({"kind": module[:-3], "path": str(out / module)})
                assert ast.unparse(ast.parse((out / "train.py").read_bytes()).body[-1].test) \
                    == "__name__ == '__main__'"

    report = _import_all(cases, tmp_path / "run")
    print(f"\nexamples {counts['examples']}, refused {counts['refused']}, files {counts['files']}, "
          f"invalid {counts['invalid']}, imported {report['imported']}, "
          f"executions {int(report['sentinel'] or bool(report['cwd']))}")
    assert report["failed"] == []
    assert report["imported"] == len(cases)
    assert report["sentinel"] is False and report["cwd"] == []
    assert counts["invalid"] == 0


def _class_of(path: Path) -> str:
    return [n.name for n in ast.parse(path.read_bytes()).body if isinstance(n, ast.ClassDef)][-1]


# -- regressions, each written as the attack ----------------------------------------------
def _compile_all(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.glob("*.py"))
    for name in names:
        compile((folder / name).read_bytes(), name, "exec", dont_inherit=True)
    return names


@pytest.mark.parametrize("template", ['x"""\nimport os; open({path},"w")\n"""',
                                      'x""" + str(open({path}, "w")) + """'])
def test_name_closing_the_docstring_does_not_run_on_import(tmp_path, monkeypatch, template):
    sentinel = tmp_path / "sentinel"
    name = template.format(path=repr(str(sentinel)))
    doc = copy.deepcopy(BASE)
    doc.name = doc.description = name
    save_project(doc, tmp_path / "attack.vsproj")
    loaded = load_project(tmp_path / "attack.vsproj")
    export_project(loaded, "pytorch", tmp_path / "pt")
    export_project(loaded, "script", tmp_path / "script")
    monkeypatch.syspath_prepend(str(tmp_path / "script"))
    for folder in (tmp_path / "pt", tmp_path / "script"):
        assert "model.py" in _compile_all(folder)
        module = import_file(folder / "model.py", f"attack_model_{folder.name}")
        assert module.PROJECT_NAME == name
    train = import_file(tmp_path / "script" / "train.py", "attack_train")
    assert callable(train.main) and not (tmp_path / "script" / "out").exists()  # guarded
    assert not sentinel.exists()


@pytest.mark.parametrize("name", ['a\x00b"""\nc', '"""\n', "\x00", 'x\\"""\r\n\\', "\ud800\"\"\"\n"])
def test_nul_quotes_newlines_give_valid_python_or_an_error(tmp_path, name):
    doc = copy.deepcopy(BASE)
    doc.name, doc.description = name, name + "\n\n" + name
    for fmt in ("pytorch", "script"):
        out = tmp_path / fmt
        try:
            export_project(doc, fmt, out)
        except ExportError:
            assert not out.exists()
            continue
        assert "model.py" in _compile_all(out)
        module = import_file(out / "model.py", f"nul_model_{fmt}")
        assert module.PROJECT_NAME == name


def test_lone_surrogates_are_written_not_crashed_on(tmp_path):
    from safetensors import safe_open

    doc = copy.deepcopy(BASE)
    doc.name, doc.description = "net\ud800", "about \udfff"
    doc.dataset = DatasetConfig("image_folder", {"folder": "/data/\udc80x", "val_folder": ""})
    export_project(doc, "script", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text("utf-8"))
    assert config["project"] == "net\ud800" and config["dataset"]["params"]["folder"] == "/data/\udc80x"
    assert (tmp_path / README_FILE).read_text("utf-8").startswith("# net\ufffd: training script")
    assert import_file(tmp_path / "model.py", "surrogate_model").PROJECT_NAME == "net\ud800"
    export_project(doc, "pytorch", tmp_path / "pt")
    with safe_open(str(tmp_path / "pt" / "weights.safetensors"), "pt") as fh:
        assert fh.metadata()["project"] == "net\\ud800"


@pytest.mark.parametrize("fmt", ["pytorch", "script", "onnx", "torchscript"])
@pytest.mark.parametrize("layer", ['conv1\n', 'c"""\nopen("PWNED","w")#', "a b", "None", "ﬁ", ""])
def test_layer_name_that_is_not_a_python_name_is_refused_and_writes_nothing(tmp_path, fmt, layer):
    doc = copy.deepcopy(BASE)
    conv = next(n for n in doc.graph.nodes.values() if n.kind == "conv2d")
    doc.graph.nodes[conv.id] = dataclasses.replace(conv, name=layer)
    with pytest.raises(ExportError, match="not a valid Python name"):
        export_project(doc, fmt, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_loader_refuses_a_layer_name_with_a_trailing_newline():
    assert name_problem("conv1\n") is not None and name_problem("conv1") is None
    data = BASE.to_dict()
    data["graph"]["nodes"][1]["name"] = "conv1\n"
    with pytest.raises(ProjectFormatError, match=r"graph\.nodes\[1\]\.name"):
        document_from_dict(data)


def test_generated_code_that_does_not_compile_is_an_export_error(tmp_path, monkeypatch):
    from visionstudio.core.export import codegen

    real = codegen.emitted_for
    monkeypatch.setattr(codegen, "emitted_for",
                        lambda *a: dataclasses.replace(real(*a), expr=real(*a).expr + "("))
    for fmt in ("pytorch", "script"):
        with pytest.raises(ExportError, match=r"model\.py: the generated code is not valid Python"):
            export_project(BASE, fmt, tmp_path / fmt)
        assert not (tmp_path / fmt).exists()


@pytest.mark.parametrize("source", ["x = '\x00'", "x = '\ud800'", "# -*- coding: rot13 -*-\nx = 1",
                                    '"""never closed'])
def test_checked_source_refuses_what_import_would_not_read(source):
    from visionstudio.core.export.source_check import checked_source

    with pytest.raises(ExportError, match="x.py"):
        checked_source(source, "x.py")


def test_docstring_text_cannot_close_or_escape():
    from visionstudio.core.export.source_check import docstring_line

    for text in ['"""', '\\"""', '\\', "\\N{", "a\nb\rc\x00d\u2028e\ud800", "\u202e"]:
        body = docstring_line(text)
        assert '"' not in body and body.isprintable()
        assert ast.literal_eval(f'"""{body}"""') == body.replace("\\\\", "\\")


@pytest.mark.slow
def test_onnx_and_torchscript_carry_no_project_text(tmp_path):
    """Neither format has a field the exporter fills from the project: the name and
    description appear nowhere in the files (the model's parts are named by identifiers)."""
    onnx = pytest.importorskip("onnx")
    marker = "MARK3R"
    doc = document_from_dict({
        "name": f'{marker}"""\nopen("PWNED","w")', "description": f"{marker}\x00'''",
        "graph": {"nodes": [
            {"id": "a", "kind": "input", "name": "inp", "params": {"channels": 1, "height": 4, "width": 4}},
            {"id": "b", "kind": "flatten", "name": "fl", "params": {}},
            {"id": "c", "kind": "dense", "name": "head", "params": {"units": 3}}],
            "edges": [{"src": "a", "dst": "b"}, {"src": "b", "dst": "c"}]}})
    onnx_file = export_project(doc, "onnx", tmp_path).files[0]
    proto = onnx.load(str(onnx_file))
    assert proto.doc_string == "" and list(proto.metadata_props) == []
    assert marker.encode() not in onnx_file.read_bytes()
    ts_file = export_project(doc, "torchscript", tmp_path).files[0]
    with zipfile.ZipFile(ts_file) as zf:
        assert all(marker.encode() not in zf.read(info) for info in zf.infolist())
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()
