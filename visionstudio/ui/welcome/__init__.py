"""The welcome page: template cards, recent projects, one click to a training run."""
