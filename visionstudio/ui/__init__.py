"""The Qt shell: widgets that listen to core models and turn user intent into commands."""

import os

# pyqtgraph picks the first Qt binding it finds; make sure it is ours.
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
