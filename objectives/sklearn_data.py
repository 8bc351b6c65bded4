"""Data sets for the scikit-learn objective: generated or bundled with scikit-learn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.errors import UserError

BUNDLED = ("digits", "breast_cancer", "wine", "iris")


def check_data_spec(data: Mapping[str, Any]) -> None:
    """Checks a data spec without loading anything."""
    kind = data.get("kind", "make_classification")
    if kind != "make_classification" and kind not in BUNDLED:
        raise UserError(
            f"objective.data.kind: unknown data set {kind!r} (use make_classification or one of {', '.join(BUNDLED)})"
        )
    if kind in BUNDLED and set(data) - {"kind"}:
        raise UserError(
            f"objective.data: the bundled data set {kind!r} takes no options, got {sorted(set(data) - {'kind'})}"
        )


def load_data(data: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``(X, y)`` for a spec like ``{kind: make_classification, n_samples: 1000, ...}``."""
    check_data_spec(data)
    options = {k: v for k, v in data.items() if k != "kind"}
    kind = data.get("kind", "make_classification")
    if kind == "make_classification":
        from sklearn.datasets import make_classification

        try:
            return make_classification(**options)
        except (TypeError, ValueError) as exc:
            raise UserError(f"objective.data: make_classification rejected the options: {exc}") from exc
    import sklearn.datasets

    return getattr(sklearn.datasets, f"load_{kind}")(return_X_y=True)
