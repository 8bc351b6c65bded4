"""bobench: Bayesian optimisation of ML hyperparameters, with its cost in evaluations, time and CO2."""

from __future__ import annotations

__version__ = "0.1.0"
