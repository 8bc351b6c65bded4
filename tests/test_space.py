from __future__ import annotations

import math

import numpy as np
import pytest

from bench.errors import UserError
from bench.space import Space


def test_log_float_maps_log10_linearly():
    space = Space.from_config({"lr": {"type": "float", "low": 1e-5, "high": 1e5, "log": True}})
    assert space.to_params([0.5])["lr"] == pytest.approx(1.0)
    assert space.to_params([0.0])["lr"] == pytest.approx(1e-5)
    assert space.to_params([1.0])["lr"] == pytest.approx(1e5)
    assert space.to_unit({"lr": 1e-3})[0] == pytest.approx(0.2)


def test_round_trip_of_every_type():
    space = Space.from_config(
        {
            "a": {"type": "float", "low": -2.0, "high": 3.0},
            "b": {"type": "int", "low": 1, "high": 8, "log": True},
            "c": {"type": "categorical", "choices": ["relu", "tanh", "logistic"]},
        }
    )
    rng = np.random.default_rng(0)
    for _ in range(50):
        params = space.to_params(rng.random(3))
        assert -2.0 <= params["a"] <= 3.0
        assert isinstance(params["b"], int) and 1 <= params["b"] <= 8
        assert params["c"] in ("relu", "tanh", "logistic")
        again = space.to_params(space.to_unit(params))
        assert again["b"] == params["b"] and again["c"] == params["c"]
        assert math.isclose(again["a"], params["a"], rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"lr": {"type": "float", "low": 1.0, "high": 0.1}}, "objective.space.lr: inverted bounds"),
        ({"lr": {"type": "float", "low": 1.0, "high": 1.0}}, "objective.space.lr: equal bounds"),
        ({"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "objective.space.lr.low: a log-scale"),
        ({"lr": {"type": "float", "low": -1.0, "high": 1.0, "log": True}}, "needs positive bounds"),
        ({"lr": {"type": "complex", "low": 0, "high": 1}}, "objective.space.lr.type: unknown parameter type"),
        ({"lr": {"type": "float", "high": 1}}, "objective.space.lr.low: missing bound"),
        ({"lr": {"type": "float", "low": "a", "high": 1}}, "objective.space.lr.low: bound must be a number"),
        ({"lr": {"type": "float", "low": 0, "high": 1, "scale": 2}}, "objective.space.lr: unknown key"),
        ({"k": {"type": "categorical", "choices": []}}, "objective.space.k.choices"),
        ({"n": {"type": "int", "low": 1.2, "high": 1.8}}, "no integer lies between"),
        ({}, "objective.space: the search space has no parameters"),
        (
            {"lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": "no"}},
            "objective.space.lr.log: expected true or false",
        ),
        ({"lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": "false"}}, "objective.space.lr.log: expected true"),
    ],
)
def test_bad_space_names_the_field(spec, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")) as info:
        Space.from_config(spec)
    assert "\n" not in str(info.value)


def test_log_is_a_boolean_never_a_truthy_string():
    assert Space.from_config({"lr": {"low": 0.5, "high": 2.0, "log": False}}).params[0].log is False
    assert Space.from_config({"lr": {"low": 0.5, "high": 2.0, "log": None}}).params[0].log is False
    assert Space.from_config({"lr": {"low": 0.5, "high": 2.0, "log": True}}).params[0].log is True
