"""Command line: ``visionstudio [PROJECT]`` opens the app; sub-commands work headless.

Only nothing or an existing file opens the app: any other first word is a mistyped
command ("unknown command 'sumary' (did you mean summary?)", exit status 2) or a
project that is not there ("no such project file: …", exit 2).

Each sub-command lives in ``visionstudio/commands/<name>.py`` with ``add_parser`` and
``run``; this module only dispatches. The command modules import torch and Qt inside
``run``, so ``--help`` and a headless command never load what they do not use.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

from visionstudio import __version__
from visionstudio.commands import (
    batch_find,
    check_data,
    evaluate,
    export,
    import_model,
    lr_find,
    report,
    summary,
    sweep,
    sweep_worker,
    train,
)

COMMANDS = {"summary": summary, "train": train, "export": export, "import": import_model,
            "lr-find": lr_find, "batch-find": batch_find,
            "check-data": check_data, "report": report, "evaluate": evaluate, "sweep": sweep,
            "sweep-worker": sweep_worker}
SUBCOMMANDS = tuple(COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visionstudio",
        description="Design convolutional neural networks visually, train them and look inside them. "
                    "Without a sub-command the app opens (with PROJECT if given).",
    )
    parser.add_argument("--version", action="version", version=f"VisionStudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def unknown_word(word: str) -> str | None:
    """The complaint for a first word that is neither a sub-command, an option nor an
    existing file (None: the app may open it). A typo must not open a window."""
    if word.startswith("-") or word in COMMANDS:
        return None
    path = Path(word)
    if path.is_file():
        return None
    from visionstudio.core.project import PROJECT_SUFFIX  # here: 0.3 s the app's start never pays

    if path.suffix.lower() == PROJECT_SUFFIX:
        return f"no such project file: {word}"
    close = difflib.get_close_matches(word, SUBCOMMANDS, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return (f"unknown command {word!r}{hint}; the commands are {', '.join(SUBCOMMANDS)}, "
            f"or give a project file to open")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and (problem := unknown_word(args_list[0])) is not None:
        print(f"visionstudio: {problem}", file=sys.stderr)
        return 2
    if not args_list or (args_list[0] not in SUBCOMMANDS and not args_list[0].startswith("-")):
        return _open_app(args_list, exit_process=argv is None)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        return _open_app([], exit_process=argv is None)
    return int(args.run(args) or 0)


def _open_app(args: list[str], *, exit_process: bool) -> int:
    from visionstudio.app import main as gui_main

    return gui_main(args, exit_process=exit_process)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
