"""The ``debug`` config (``+debug=fast``, conf/debug/): cheap settings applied where they fit.

A strategy or objective takes a value of ``debug.<group>`` only if its own config has that
option (random search has no ``raw_samples``), and ``debug.at_most.<group>`` caps options
instead of setting them. :func:`bench.build.build` applies it, so the CLI, the driver and the
tests shrink a run through the one list in conf/debug/fast.yaml.
"""

from __future__ import annotations

from omegaconf import DictConfig

#: The config groups a debug config may shrink.
GROUPS = ("strategy", "objective")


def apply_debug(cfg: DictConfig) -> None:
    """Applies ``cfg.debug`` (if any) to ``cfg.strategy`` and ``cfg.objective`` in place."""
    debug = cfg.get("debug")
    if not isinstance(debug, DictConfig):
        return
    caps = debug.get("at_most") or {}
    for group in GROUPS:
        node = cfg.get(group)
        if not isinstance(node, DictConfig):
            continue
        for key, value in (debug.get(group) or {}).items():
            if key in node:
                node[key] = value
        for key, cap in (caps.get(group) or {}).items():
            if key in node and node[key] is not None and node[key] > cap:
                node[key] = cap
