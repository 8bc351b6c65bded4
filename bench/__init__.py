"""bobench: Bayesian optimisation of ML hyperparameters, with its cost in evaluations, time and CO2.

The Python API (docs/python-api.md): :func:`bench.run` runs one experiment as the ``bobench``
command does, :class:`bench.Optimizer` drives a strategy ask/tell. Both load on first use, so
that ``import bench`` stays cheap (no Hydra, no torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.resolvers import register as _register_resolvers

if TYPE_CHECKING:
    from bench.api import Optimizer, run

__version__ = "0.1.0"
__all__ = ["Optimizer", "__version__", "run"]
_register_resolvers()

#: What ``bench`` exports lazily, and the module that defines it.
_LAZY = {"run": "bench.api", "Optimizer": "bench.api"}


def __getattr__(name: str) -> Any:
    """Loads :func:`run` and :class:`Optimizer` from :mod:`bench.api` on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
