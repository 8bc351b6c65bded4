"""Any scikit-learn estimator as an objective: hyperparameters from the space, a score to minimise.

The worksheet's MLP is one preset (conf/objective/mlp.yaml) and an SVC another
(conf/objective/svc.yaml).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.errors import UserError
from bench.objective import Evaluation, Fidelity, Objective, reporter, to_plain
from objectives.sklearn_data import check_data_spec, load_data

METRICS = ("neg_accuracy", "loss")


class SklearnObjective(Objective):
    """Trains ``estimator`` with the proposed hyperparameters and scores it.

    Args:
        space: the search space (``{name: {type, low, high, log}}``); names are estimator params.
        estimator: a Hydra-style mapping with ``_target_`` (e.g. sklearn.neural_network.MLPClassifier)
            and fixed keyword arguments; proposed parameters override them.
        data: ``{kind: make_classification, **options}`` or ``{kind: digits|breast_cancer|wine|iris}``.
        split: keyword arguments of ``train_test_split``; ``stratify: true`` stratifies on y.
        cv: folds of cross-validation on the training split instead of the held-out score.
        metric: ``neg_accuracy`` (negative held-out or CV accuracy) or ``loss`` (the estimator's
            final training loss, ``loss_``, as the worksheet suggests).
        seed_param: an estimator parameter that receives the evaluation's seed (None: keep the
            configured ``random_state``, as the worksheet does).
        name: a short name for reports.
        report_every: train by ``partial_fit`` one epoch at a time and score after every this many
            iterations (an estimator with ``partial_fit`` and ``max_iter``, such as the MLP): the
            objective then has a fidelity (iterations, up to ``max_iter``) and reports as it goes, so
            a scheduler (``scheduler=asha``) can stop it early. None (the default): one ``fit``.
            Nothing is kept between segments: a continued evaluation trains again from the start.
    """

    def __init__(
        self,
        space: Mapping[str, Any],
        estimator: Mapping[str, Any],
        data: Mapping[str, Any] | None = None,
        split: Mapping[str, Any] | None = None,
        cv: int | None = None,
        metric: str = "neg_accuracy",
        seed_param: str | None = None,
        name: str = "sklearn",
        report_every: int | None = None,
    ):
        super().__init__(space, name)
        self.estimator = dict(to_plain(estimator))
        self.data = dict(to_plain(data) or {"kind": "make_classification"})
        self.split = dict(to_plain(split) or {})
        self.cv = cv
        self.metric = metric
        self.seed_param = seed_param
        if "_target_" not in self.estimator:
            raise UserError("objective.estimator._target_: missing (e.g. sklearn.svm.SVC)")
        if metric not in METRICS:
            raise UserError(f"objective.metric: unknown metric {metric!r} (use one of {', '.join(METRICS)})")
        if cv is not None and (not isinstance(cv, int) or cv < 2):
            raise UserError(f"objective.cv: must be an integer >= 2 or null, got {cv!r}")
        if metric == "loss" and cv is not None:
            raise UserError("objective.metric: 'loss' is the training loss and cannot be cross-validated")
        check_data_spec(self.data)
        self._split: tuple[np.ndarray, ...] | None = None
        self.report_every = report_every
        if report_every is not None:
            self.fidelity = self._iterations(report_every)

    def _iterations(self, every: Any) -> Fidelity:
        """The fidelity of chunked training (``report_every``), checked."""
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise UserError(f"objective.report_every: expected an integer >= 1 or null, got {every!r}")
        max_iter = self.estimator.get("max_iter")
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < every:
            raise UserError(
                f"objective.report_every: needs objective.estimator.max_iter, an integer >= {every}, got {max_iter!r}"
            )
        if self.cv is not None:
            raise UserError("objective.report_every: reports the held-out score; set objective.cv to null")
        return Fidelity("iterations", minimum=every, maximum=max_iter, integer=True, checkpoints=False)

    def setup(self) -> None:
        from sklearn.model_selection import train_test_split

        X, y = load_data(self.data)
        split = dict(self.split)
        if split.pop("stratify", False):
            split["stratify"] = y
        self._split = tuple(train_test_split(X, y, **split))

    def _build(self, params: dict[str, Any], seed: int) -> Any:
        from hydra.utils import get_class

        kwargs = {k: v for k, v in self.estimator.items() if k != "_target_"}
        for key, value in list(kwargs.items()):
            if isinstance(value, list):
                kwargs[key] = tuple(value)  # hidden_layer_sizes and friends
        kwargs.update(params)
        if self.seed_param:
            kwargs[self.seed_param] = seed
        return get_class(self.estimator["_target_"])(**kwargs)

    def __call__(self, params: dict[str, Any], seed: int) -> Evaluation:
        if self._split is None:
            self.setup()
        assert self._split is not None
        X_train, X_test, y_train, y_test = self._split
        model = self._build(params, seed)
        if self.report_every is not None:
            return self._in_chunks(model, self._split)
        with warnings.catch_warnings():
            # max_iter is a budget knob: not converging is expected (the worksheet says so).
            warnings.simplefilter("ignore")
            if self.cv:
                from sklearn.model_selection import cross_val_score

                scores = cross_val_score(model, X_train, y_train, cv=self.cv, scoring="accuracy")
                model.fit(X_train, y_train)
            else:
                scores = None
                model.fit(X_train, y_train)
            train_acc = float(model.score(X_train, y_train))
            test_acc = float(model.score(X_test, y_test))
        metrics: dict[str, Any] = {"train_accuracy": train_acc, "test_accuracy": test_acc}
        loss = getattr(model, "loss_", None)
        if loss is not None:
            metrics["loss"] = float(loss)
        if scores is not None:
            metrics["cv_accuracy"] = float(np.mean(scores))
            metrics["cv_accuracy_std"] = float(np.std(scores))
        if self.metric == "loss":
            if loss is None:
                raise UserError(f"objective.metric: {self.estimator['_target_']} has no training loss (loss_)")
            value = float(loss)  # NaN/inf here is divergence: the driver records it as such
        else:
            value = -(metrics["cv_accuracy"] if scores is not None else test_acc)
        if loss is not None and not math.isfinite(float(loss)):
            metrics["diverged"] = True
        return Evaluation(value=value, metrics=metrics)

    def _in_chunks(self, model: Any, split: tuple[np.ndarray, ...]) -> Evaluation:
        """Trains one epoch per ``partial_fit`` up to the reporter's stop, reporting every ``report_every``."""
        assert self.report_every is not None and self.fidelity is not None
        X_train, X_test, y_train, y_test = split
        rep = reporter()
        stop = round(rep.until(self.fidelity.maximum))
        classes = np.unique(y_train)
        done = 0
        metrics: dict[str, Any] = {}
        value = math.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while done < stop:
                for _ in range(min(self.report_every, stop - done)):
                    model.partial_fit(X_train, y_train, classes=classes)
                done = min(done + self.report_every, stop)
                loss = float(getattr(model, "loss_", math.nan))
                metrics = {
                    "train_accuracy": float(model.score(X_train, y_train)),
                    "test_accuracy": float(model.score(X_test, y_test)),
                    "loss": loss,
                    "iterations": done,
                }
                value = loss if self.metric == "loss" else -metrics["test_accuracy"]
                if done > rep.start:  # a continued evaluation trains again from 0: its earlier steps were reported
                    rep.report(done, value, **metrics)
        return Evaluation(value=value, metrics=metrics)
