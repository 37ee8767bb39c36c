"""``python -m visionstudio``: the same as the ``visionstudio`` command."""

import sys

from visionstudio.cli import main

sys.exit(main())
