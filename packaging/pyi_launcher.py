"""Entry point of the PyInstaller bundle: the ``visionstudio`` command (no arguments or a
project file opens the app; sub-commands as in the console script)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # DataLoader workers re-run the frozen executable
    from visionstudio.cli import main

    sys.exit(main())
