"""Command line: ``visionstudio [PROJECT]`` opens the app; sub-commands work headless.

Each sub-command lives in ``visionstudio/commands/<name>.py`` with ``add_parser`` and
``run``; this module only dispatches. The command modules import torch and Qt inside
``run``, so ``--help`` and a headless command never load what they do not use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from visionstudio import __version__
from visionstudio.commands import export, summary, train

COMMANDS = {"summary": summary, "train": train, "export": export}
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


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in SUBCOMMANDS and not args_list[0].startswith("-")):
        from visionstudio.app import main as gui_main

        return gui_main(args_list)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        from visionstudio.app import main as gui_main

        return gui_main([])
    return int(args.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
