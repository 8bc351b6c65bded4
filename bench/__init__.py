"""bobench: Bayesian optimisation of ML hyperparameters, with its cost in evaluations, time and CO2."""

from __future__ import annotations

from bench.resolvers import register as _register_resolvers

__version__ = "0.1.0"
_register_resolvers()
