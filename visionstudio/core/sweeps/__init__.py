"""Hyper-parameter and architecture sweeps: Optuna studies whose trials are ordinary runs."""
