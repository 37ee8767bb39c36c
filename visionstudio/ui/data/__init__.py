"""The Data panel: the dataset checks (core/data/checks.py) with a class-balance chart and
a gallery of the images behind each finding."""
