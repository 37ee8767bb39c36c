"""``visionstudio report`` end to end: train a tiny run, report on it, read the page back."""

from __future__ import annotations

from html.parser import HTMLParser

from visionstudio.cli import main
from visionstudio.core.project import save_project
from visionstudio.core.templates import load_template


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.tags: list[str] = []
        self._h2 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._h2 = tag == "h2"

    def handle_endtag(self, tag):
        self._h2 = False

    def handle_data(self, data):
        if self._h2:
            self.h2.append(data)


def test_train_then_report(tmp_path, capsys):
    doc = load_template("classic_cnn")
    doc.dataset = type(doc.dataset).from_dict({"key": "shapes", "params": {"samples": 80,
                                                                         "val_samples": 40}})
    project = tmp_path / "tiny.vsproj"
    save_project(doc, project)
    out = tmp_path / "out"
    assert main(["train", str(project), "--epochs", "1", "--batch-size", "40", "--device", "cpu",
                 "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    # a bare folder needs its project; the sentence says so
    assert main(["report", str(out)]) == 1
    assert "--project" in capsys.readouterr().err
    page = tmp_path / "report.html"
    assert main(["report", str(out), "--project", str(project), "-o", str(page),
                 "--max-images", "20"]) == 0
    said = capsys.readouterr()
    assert f"Wrote {page}" in said.out and "first 20 of 40" in said.err
    parser = _Sections()
    parser.feed(page.read_text("utf-8"))
    for section in ("Network", "Layers", "Training settings", "Training curves", "Per-class metrics",
                    "Confusion matrix", "Worst errors"):
        assert section in parser.h2, section
    assert "script" not in parser.tags
    # a project file: its latest run, but this project lists none
    assert main(["report", str(project)]) == 1
    assert "has no runs yet" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.vsproj")]) == 1
    assert main(["report", str(tmp_path / "bad.vsproj"), "--run", "x"]) == 1
