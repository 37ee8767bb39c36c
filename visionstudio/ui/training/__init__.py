"""The training UI: settings panel, run controller and worker, and window integration.

``panel.TrainingPanel(controller)`` is the dock the main window adds (objectName
``trainingPanel``); ``integration.install(window)`` adds the Train/Pause/Resume/Stop/
Continue actions and the status-bar progress; ``run_controller.runs_for(controller)``
is the shared RunController behind them (its ``worker`` trains through the core
``plan_run``/``execute``).
"""
