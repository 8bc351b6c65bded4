"""A plain Python function as the objective: ``objective=function objective.target=package.module:fn``.

The function takes the space's parameters as keyword arguments (and ``seed``, the evaluation's
seed, if it has a ``seed`` parameter or ``**kwargs``) and returns the value to minimise: a number,
or a mapping with ``value`` whose other keys are kept as metrics::

    def train(lr: float, hidden: int, seed: int = 0) -> dict:
        ...
        return {"value": val_loss, "train_loss": train_loss}

Only the target's name is kept (so the objective pickles to local workers and Slurm jobs); the
module is imported in :meth:`FunctionObjective.setup`, with the folders of ``path`` and the
folder bobench was started in (both recorded absolute when the objective is built) on
``sys.path``. A misspelt module, function or parameter is a one-line error before any
evaluation: the module is looked up when the objective is built and the function's signature
is checked against the space in :meth:`FunctionObjective.validate`.

With ``fidelity`` (``{name, minimum, maximum, integer, checkpoints}``: its resource) a scheduler
can stop it early: the function asks :func:`bench.objective.reporter` how far to run and reports
as it goes (docs/early-stopping.md).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.objective import Evaluation, Objective, fidelity_from_config


def split_target(target: str) -> tuple[str, str]:
    """``"pkg.mod:fn"`` (or ``"pkg.mod.fn"``) as ``("pkg.mod", "fn")``; a UserError if malformed."""
    text = str(target).strip()
    module, sep, attr = text.partition(":") if ":" in text else text.rpartition(".")
    if not module or not attr or not sep:
        raise UserError(f"objective.target: expected package.module:function, got {target!r}")
    return module, attr


def import_hint(path_field: str | None = "objective.path") -> str:
    """How to make a module importable: the end of a 'no module named' message."""
    where = f"PYTHONPATH or {path_field}" if path_field else "PYTHONPATH"
    return f"run bobench from the folder that holds it, or add that folder to {where}"


def check_space_given(space: Mapping[str, Any]) -> None:
    """A user objective has no space of its own: a one-line error if none was given."""
    if not space:
        raise UserError(
            "objective.space: give the parameters to tune, one override each, e.g. "
            "'+objective.space.lr={type: float, low: 1e-4, high: 0.1, log: true}'"
        )


def put_on_sys_path(folders: Sequence[str]) -> None:
    """Puts ``folders`` first on ``sys.path``, as PYTHONPATH would (those already there stay where they are)."""
    sys.path[:0] = [f for f in folders if f not in sys.path]


@contextlib.contextmanager
def _on_sys_path(folders: Sequence[str]) -> Iterator[None]:
    """``folders`` first on ``sys.path`` for the block (those already there stay where they are)."""
    added = [f for f in folders if f not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for f in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(f)


class FunctionObjective(Objective):
    """Minimises ``fn(**params)`` for a function named by ``target``.

    Args:
        space: the search space; its names are the function's keyword arguments.
        target: ``package.module:function`` (or ``package.module.function``).
        path: folders put first on ``sys.path`` before the module is imported (relative ones from
            the folder bobench was started in); that folder itself is always on it.
        optimum: the function's known minimum, for regret, or None.
        name: shown in the progress bar and the summary (default: ``target``).
    """

    def __init__(
        self,
        space: Mapping[str, Any],
        target: str | None = None,
        path: Sequence[str] | str | None = None,
        optimum: float | None = None,
        name: str | None = None,
        fidelity: Mapping[str, Any] | None = None,
    ):
        if not target:
            raise UserError("objective.target: name the function to tune, e.g. objective.target=train:objective")
        self.module, self.attr = split_target(target)
        check_space_given(space)
        self.target = f"{self.module}:{self.attr}"
        super().__init__(space, name or self.target)
        self.optimum = None if optimum is None else float(optimum)
        self.fidelity = fidelity_from_config(fidelity)  # its resource: the function calls reporter() itself
        folders = [path] if isinstance(path, str) else list(path or [])
        self.path = [str(Path(p).expanduser().absolute()) for p in folders] + [os.getcwd()]
        self._fn: Callable[..., Any] | None = None
        self._takes_seed = False
        with _on_sys_path(self.path):
            try:
                missing = self.module if importlib.util.find_spec(self.module) is None else None
            except ModuleNotFoundError as exc:  # a parent package is missing
                missing = exc.name or self.module
            except Exception as exc:  # a parent package raised when imported
                raise UserError(
                    f"objective.target: importing {self.module!r} raised {type(exc).__name__}: {exc}"
                ) from None
        if missing:
            raise UserError(f"objective.target: no module named {missing!r}: {import_hint()}")

    # -- pickling: the function is imported again where the copy runs --------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fn"] = None
        return state

    def _resolve(self) -> Callable[..., Any]:
        if self._fn is not None:
            return self._fn
        put_on_sys_path(self.path)  # for good: the module may import its neighbours later
        try:
            module = importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            raise UserError(f"objective.target: {self.target}: {exc}: {import_hint()}") from None
        except Exception as exc:
            raise UserError(f"objective.target: importing {self.module!r} raised {type(exc).__name__}: {exc}") from None
        fn = getattr(module, self.attr, None)
        if fn is None:
            raise UserError(f"objective.target: module {self.module!r} has no {self.attr!r}")
        if not callable(fn):
            raise UserError(f"objective.target: {self.target} is a {type(fn).__name__}, not a function")
        self._takes_seed = _accepts(fn, "seed")
        self._fn = fn
        return fn

    def validate(self) -> None:
        """Imports the function and checks that it takes the space's parameters."""
        fn = self._resolve()
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            return  # a builtin or C function without a signature: its call will say
        names = dict.fromkeys(self.space.names)
        if self._takes_seed and "seed" not in names:
            names["seed"] = None
        try:
            signature.bind(**names)
        except TypeError as exc:
            raise UserError(
                f"objective.target: {self.target}{signature} cannot take objective.space's parameters "
                f"({', '.join(self.space.names)}): {exc}"
            ) from None

    def setup(self) -> None:
        self._resolve()

    def __call__(self, params: dict[str, Any], seed: int) -> Evaluation | float:
        fn = self._resolve()
        kwargs = dict(params)
        if self._takes_seed and "seed" not in kwargs:
            kwargs["seed"] = seed
        out = fn(**kwargs)
        if isinstance(out, Mapping):
            if "value" not in out:
                keys = ", ".join(map(str, out)) or "none"
                raise ValueError(f"{self.target} returned a mapping without 'value' (keys: {keys})")
            return Evaluation(out["value"], {str(k): v for k, v in out.items() if k != "value"})
        return out  # a number, or whatever it is: bench.evaluate.classify checks it


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` takes a keyword argument ``name`` (by name or through ``**kwargs``)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        (p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)) or p.kind == p.VAR_KEYWORD
        for p in parameters
    )
