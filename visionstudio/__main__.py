"""``python -m visionstudio``: the same as the ``visionstudio`` command."""

import sys

from .cli import main

sys.exit(main())
