"""What every template generator does once its networks are built: check each, render it,
and write it or (``--check``) compare it with the committed file.

The generators (packaging/make_templates.py and the make_*.py scripts here) put the
repository root on ``sys.path`` before importing this, so it is imported as
``resources.templates.template_files`` (the repo's ``packaging/`` folder cannot serve as
a package: the installed ``packaging`` library owns that name). A network with a
diagnostic stops the run before anything is written, so a broken template never reaches
disk; ``--check`` only reads, so CI and the tests can ask whether the committed files are
what the code writes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from visionstudio.core.graph import analyze
from visionstudio.core.project import ProjectDocument, dumps_project

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "resources" / "templates"


def sparse_text(doc: ProjectDocument, sections: Iterable[str], *, dataset: bool = False) -> str:
    """The saved text with the params of the given training ``sections`` (and, with
    ``dataset``, the dataset's) left empty, i.e. their registry defaults: templates then
    keep loading when a registry gains or renames an option, and stay short to read."""
    data = json.loads(dumps_project(doc))
    if dataset:
        data["dataset"]["params"] = {}
    for section in sections:
        data["training"][section]["params"] = {}
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_templates(templates: Mapping[str, Callable[[], ProjectDocument]], argv: list[str] | None,
                    *, description: str, sections: Iterable[str], dataset: bool = False,
                    unit: str = "nodes") -> int:
    """Run a generator's command line: write ``OUT/<key>.vsproj`` for each template (as
    :func:`sparse_text` of ``sections`` and ``dataset``), or with ``--check`` list the
    stale ones. Returns the exit status (1 if any is stale)."""
    sections = tuple(sections)
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = 0
    for key, make in templates.items():
        doc = make()
        analysis = analyze(doc.graph)
        if analysis.diagnostics:
            raise SystemExit(f"{key}: " + "; ".join(map(str, analysis.diagnostics)))
        text, path = sparse_text(doc, sections, dataset=dataset), OUT / f"{key}.vsproj"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{path} is out of date")
                stale += 1
            continue
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(doc.graph.nodes)} {unit}, "
              f"{analysis.total_params:,} parameters")
    return 1 if stale else 0
