"""The training UI: settings panel, worker thread, session and window integration.

``TrainingPanel(controller)`` is the dock the main window adds (objectName
``trainingPanel``); ``install(window)`` (``integration``) adds the Train/Pause/
Resume/Stop/Continue actions and the status-bar progress; ``session_for(controller)``
is the shared TrainingSession behind them.
"""

from visionstudio.ui.training.panel import TrainingPanel
from visionstudio.ui.training.session import TrainingSession, session_for

__all__ = ["TrainingPanel", "TrainingSession", "session_for"]
