"""File › Export: the dialog and the background export it starts."""
