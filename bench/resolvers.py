"""OmegaConf resolvers that bobench's configs use; registered when :mod:`bench` is imported."""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf


def per_dim(k: Any, *, _root_: Any) -> int:
    """``${bench.per_dim:3}``: 3 × the number of parameters of the objective's space."""
    return int(k) * len(_root_.objective.space)


def register() -> None:
    if not OmegaConf.has_resolver("bench.per_dim"):
        OmegaConf.register_new_resolver("bench.per_dim", per_dim)
