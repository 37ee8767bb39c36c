"""The window around the panels: main window, actions, docks, theme, icons, errors,
files, autosave and recovery, settings, the document controller and undo."""
