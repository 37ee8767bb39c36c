"""The run report: one self-contained HTML page, every project string escaped."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from visionstudio.core.project import load_project, save_project
from visionstudio.core.report import ReportError, from_folder, from_project, project_of, write_report
from visionstudio.core.runs.store import make_entry, runs_root
from visionstudio.core.templates import load_template

ATTACK = "<script>alert(1)</script>"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.h2: list[str] = []
        self.srcs: list[str] = []
        self.text: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_h2 = tag == "h2"
        self.srcs += [v for k, v in attrs if k in ("src", "href")]

    def handle_endtag(self, tag):
        self._in_h2 = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_h2:
            self.h2.append(data)


def parse(text: str) -> _Tags:
    p = _Tags()
    p.feed(text)
    p.close()
    return p


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A saved project (named like an attack) with one 1-epoch run in its runs folder."""
    from visionstudio.core.training.plan import execute, plan_run

    tmp = tmp_path_factory.mktemp("report")
    doc = load_template("classic_cnn")
    doc.name = ATTACK
    doc.dataset = type(doc.dataset).from_dict({"key": "shapes", "params": {"samples": 120,
                                                                         "val_samples": 40}})
    path = tmp / "net.vsproj"
    plan = plan_run(doc, {"epochs": 1, "batch_size": 40, "device": "cpu"})
    entry = make_entry("run1", "<img src=x onerror=alert(1)>",
                       {"training": plan.config.to_dict(), "dataset": plan.dataset.to_dict()},
                       status="completed")
    doc.runs.append(entry)
    save_project(doc, path)
    folder = runs_root(path) / "run1"
    result = execute(plan, run_dir=folder)
    assert result.ok, result.failure
    return path, folder


def test_report_of_a_project_run_has_every_section_and_escapes_names(trained, tmp_path):
    path, folder = trained
    doc = load_project(path)
    result = write_report(from_project(doc, path), tmp_path / "r.html")
    text = result.path.read_text("utf-8")
    tags = parse(text)
    for section in ("Network", "Layers", "Training settings", "Dataset", "Training curves",
                    "Per-class metrics", "Confusion matrix", "Worst errors", "Feature maps"):
        assert section in tags.h2, section
    assert "script" not in tags.tags and "<script>" not in text     # the attack is text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert ATTACK in "".join(tags.text)                             # and reads as the name
    assert "onerror" not in " ".join(tags.srcs)
    assert tags.tags.count("img") >= 2 and "svg" in tags.tags and "circle" in tags.tags
    assert all(s.startswith("data:image/png;base64,") for s in tags.srcs)  # nothing fetched
    assert result.size == len(text.encode()) < 2_000_000
    for name in ("circle", "square", "triangle"):
        assert name in text


def test_report_of_a_cli_folder_and_its_default_place(trained):
    path, folder = trained
    assert project_of(folder) == path.resolve()
    source = from_folder(folder, load_project(path))
    result = write_report(source, evaluate=False)
    assert result.path == folder / "report.html"
    assert "Confusion matrix" not in result.path.read_text("utf-8")


def test_a_planted_link_does_not_send_the_report_elsewhere(trained, tmp_path):
    path, folder = trained
    outside = tmp_path / "elsewhere.html"
    link = folder / "report.html"
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    try:
        with pytest.raises(ValueError, match="outside"):
            write_report(from_folder(folder, load_project(path)), evaluate=False)
        assert not outside.exists()
    finally:
        link.unlink()


def test_unknown_run_and_missing_folder_are_sentences(trained, tmp_path):
    path, _folder = trained
    doc = load_project(path)
    with pytest.raises(ReportError, match="no run named 'nope'"):
        from_project(doc, path, "nope")
    with pytest.raises(ReportError, match="no such run folder"):
        from_folder(tmp_path / "absent", doc)
    doc.runs[0]["folder"] = "../../etc"
    with pytest.raises(ReportError):
        from_project(doc, path)


def test_a_run_without_checkpoint_is_reported_without_evaluation(trained, tmp_path):
    path, folder = trained
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "metrics.csv").write_bytes((folder / "metrics.csv").read_bytes())
    result = write_report(from_folder(bare, load_project(path)))
    assert any("no checkpoint" in n for n in result.notes)
    assert "could not be evaluated" in Path(result.path).read_text("utf-8")


def test_the_last_dataset_check_is_in_the_report(trained, tmp_path):
    from visionstudio.core.data.checks import check_dataset

    path, _folder = trained
    source = from_project(load_project(path), path)
    page = write_report(source, tmp_path / "before.html", evaluate=False).path.read_text("utf-8")
    assert "No check of this dataset has been run yet" in page
    result = check_dataset(source.dataset, val_split=source.training.val_split, seed=source.training.seed)
    page = write_report(source, tmp_path / "after.html", evaluate=False).path.read_text("utf-8")
    tags = parse(page)
    assert "Dataset checks" in tags.h2 and f"{result.images:,} images checked" in page
    assert "Class balance" in "".join(tags.text) and "Mean image per class" in "".join(tags.text)


def test_the_cli_finds_a_run_folder_in_its_project(trained, tmp_path, capsys):
    from visionstudio.cli import main

    path, folder = trained
    out = tmp_path / "cli.html"
    assert main(["report", str(folder), "-o", str(out), "--max-images", "8"]) == 0
    assert "&lt;img src=x onerror=alert(1)&gt;" in out.read_text("utf-8")   # the entry's name
    assert "first 8 of 40" in capsys.readouterr().err
