"""Gaussian-process surrogates on the unit cube, shared by the model-based strategies.

Every model-based strategy fits a BoTorch ``SingleTaskGP`` (outcome ``Standardize``) to the
*negated* values, so that BoTorch's acquisition functions maximise while the harness minimises.

:class:`GPModelCache` refits hyperparameters only every ``refit_every`` evaluations and in
between conditions exactly on the new data with the cached hyperparameters (a state_dict is
loaded, nothing is fitted). Which points a fit sees is a function of the history alone (the
first ``m`` rows, ``m`` on a fixed schedule), and a warm start comes from the fit at the previous
point of that schedule, recomputed if the cache does not hold it, so proposals stay a pure
function of (seed, history) even across a resume. With ``fit_lag`` the fits run in a background
process, ahead of the decisions that use them (``bench/strategies/background_fit.py``).
"""

from __future__ import annotations

import abc
import hashlib
import math
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.exceptions.errors import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Standardize
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import RBFKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from linear_operator.utils.errors import NotPSDError
from torch import Tensor

from bench.seeding import derive_seed
from bench.space import Space
from bench.strategies import acq_optim, fast_mll
from bench.strategies.background_fit import FIT_POOL, FitPool
from bench.strategies.base import History, Strategy
from bench.strategies.base import sobol_points as base_sobol
from bench.strategies.gp_options import GPOptions
from bench.strategies.hyper_posterior import LogLikelihood, elliptical_slice, model_prior, set_theta, theta_of

DTYPE = torch.double
T = TypeVar("T")

#: The course worksheet's GPyOpt prior: RBF variance, lengthscale (log10 units), white noise.
WORKSHEET_OUTPUTSCALE = 0.2
WORKSHEET_LENGTHSCALE_LOG10 = 2.0
WORKSHEET_NOISE = 0.05

#: Fewer finished points than this and a strategy proposes Sobol points instead.
MIN_POINTS = 2


@contextmanager
def torch_seeded(seed: int) -> Iterator[None]:
    """Seeds torch's global RNG for the block and restores the caller's RNG state after it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def training_data(history: History, dim: int) -> tuple[Tensor, Tensor]:
    """The finite rows of the history as ``(X (n, d), Y (n, 1))`` with ``Y = -y`` (maximised)."""
    X = np.asarray(history.X, dtype=float).reshape(-1, dim)
    y = np.asarray(history.y, dtype=float).reshape(-1)
    keep = np.isfinite(y) & np.all(np.isfinite(X), axis=1)
    return (
        torch.as_tensor(X[keep], dtype=DTYPE),
        torch.as_tensor(-y[keep], dtype=DTYPE).unsqueeze(-1),
    )


def as_pending(pending: np.ndarray | None, dim: int) -> np.ndarray:
    """The pending points as a ``(p, d)`` array (an empty ``(0, 0)`` array is fine)."""
    if pending is None:
        return np.zeros((0, dim))
    arr = np.asarray(pending, dtype=float)
    if arr.size == 0:
        return np.zeros((0, dim))
    return arr.reshape(-1, dim)


def unit_bounds(dim: int) -> Tensor:
    return torch.stack([torch.zeros(dim, dtype=DTYPE), torch.ones(dim, dtype=DTYPE)])


def worksheet_lengthscales(space: Space) -> list[float]:
    """The worksheet's lengthscale 2.0 (in log10 units) per dimension, in unit-cube units.

    A ``log`` parameter spans ``log10(high) - log10(low)`` log10 units; a linear one spans
    ``high - low`` of its own units; a categorical one spans 1.
    """
    scales = []
    for p in space.params:
        if p.type == "categorical":
            span = 1.0
        else:
            low, high = p.bounds
            span = math.log10(high) - math.log10(low) if p.log else high - low
        scales.append(WORKSHEET_LENGTHSCALE_LOG10 / span)
    return scales


#: BoTorch's floor on the inferred noise variance (of standardised outcomes).
DEFAULT_NOISE_FLOOR = 1e-4


def gaussian_likelihood(noise_floor: float) -> GaussianLikelihood:
    """BoTorch's default likelihood (LogNormal(-4, 1) noise prior) with the noise variance floored.

    The outcomes are standardised, so the floor is relative to Var(Y): Kandasamy et al.'s code
    bounds the noise variance below by ``0.005 · Var(Y)``.
    """
    prior = LogNormalPrior(loc=-4.0, scale=1.0)
    initial = max(float(prior.mode), 2.0 * noise_floor)
    return GaussianLikelihood(
        noise_prior=prior, noise_constraint=GreaterThan(noise_floor, transform=None, initial_value=initial)
    )


def build_gp(X: Tensor, Y: Tensor, noise_floor: float = DEFAULT_NOISE_FLOOR) -> SingleTaskGP:
    """BoTorch's default single-task GP on the unit cube, outcomes standardised, noise floored."""
    return SingleTaskGP(X, Y, likelihood=gaussian_likelihood(noise_floor), outcome_transform=Standardize(m=1))


def build_worksheet_gp(X: Tensor, Y: Tensor, lengthscales: list[float]) -> SingleTaskGP:
    """A GP with the worksheet's fixed prior: nothing is fitted.

    RBF kernel, outputscale 0.2, the given lengthscales, Gaussian noise 0.05, zero mean, all on
    standardised outcomes (GPyOpt normalises Y by default).
    """
    d = X.shape[-1]
    covar = ScaleKernel(RBFKernel(ard_num_dims=d))
    likelihood = GaussianLikelihood()
    model = SingleTaskGP(X, Y, covar_module=covar, likelihood=likelihood, outcome_transform=Standardize(m=1))
    covar.outputscale = WORKSHEET_OUTPUTSCALE
    covar.base_kernel.lengthscale = torch.tensor(lengthscales, dtype=DTYPE).reshape(1, d)
    likelihood.noise = WORKSHEET_NOISE
    model.mean_module.constant = 0.0
    model.eval()
    return model


def _hyper_state(model: SingleTaskGP) -> dict[str, Tensor]:
    """The fitted hyperparameters, without the outcome transform's data-dependent statistics."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("outcome_transform.")}


def fit_hyperparameters(model: SingleTaskGP, seed: int, restarts: int = 0) -> None:
    """Maximises the marginal likelihood times the priors (MAP, BoTorch's ``fit_gpytorch_mll``), seeded.

    For the default GP the loss and its gradient are computed in plain torch
    (``bench/strategies/fast_mll.py``); BoTorch's optimiser, bounds and retries are unchanged.

    With ``restarts``, the fit is repeated from that many starts drawn from the priors and the
    one with the highest log posterior is kept (the first fit starts from the model's current
    hyperparameters: a warm start or BoTorch's defaults).
    """
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    best: tuple[float, dict[str, Tensor]] | None = None
    generator = torch.Generator().manual_seed(derive_seed(seed, "restarts", bits=32))
    prior = model_prior(model)
    for attempt in range(restarts + 1):
        if attempt:
            set_theta(model, prior.loc + prior.scale * torch.randn(prior.loc.shape, dtype=DTYPE, generator=generator))
        try:
            with (
                torch_seeded(derive_seed(seed, attempt, bits=32) if attempt else seed),
                warnings.catch_warnings(record=True),
            ):
                warnings.simplefilter("ignore")  # optimisation warnings: BoTorch retries by itself
                mll.train()
                fit_gpytorch_mll(mll, closure=fast_mll.closure_for(mll))
        except (ModelFittingError, NotPSDError, RuntimeError):
            if not attempt:
                raise  # the plain fit failing is the model's problem, as without restarts
            continue  # a start drawn far out in the priors' tails: the other fits stand
        if restarts:
            model.train()
            with torch.no_grad():
                value = float(mll(model(*model.train_inputs), model.train_targets))
            value = value if math.isfinite(value) else -math.inf
            if best is None or value > best[0]:
                best = (value, _hyper_state(model))
    if best is not None:
        model.load_state_dict(best[1], strict=False)
    model.eval()


def hyper_samples(model: SingleTaskGP, seed: int, n_samples: int) -> Tensor:
    """``(n_samples, d + 2)`` posterior samples of the model's hyperparameters, from its MAP fit.

    Elliptical slice sampling (``bench/strategies/hyper_posterior.py``): a burn-in of
    ``HYPER_BURN_IN`` steps from the fitted hyperparameters, then one sample every
    ``HYPER_THIN`` steps.
    """
    generator = torch.Generator().manual_seed(derive_seed(seed, "hyper", bits=32))
    model.eval()
    return elliptical_slice(
        theta_of(model),
        LogLikelihood.of(model),
        model_prior(model),
        n_samples=n_samples,
        burn_in=HYPER_BURN_IN,
        thin=HYPER_THIN,
        generator=generator,
    )


#: The hyperparameter chain's burn-in from the MAP fit and its thinning (elliptical slice steps).
HYPER_BURN_IN = 20
HYPER_THIN = 3


#: Warm starts chain through "anchor" fits at least this many evaluations apart.
ANCHOR_SPACING = 10


def fit_state(
    X: Tensor, Y: Tensor, parent: dict[str, Tensor] | None, seed: int, noise_floor: float, restarts: int
) -> dict[str, Tensor]:
    """One scheduled fit: the MAP hyperparameters of the GP on ``(X, Y)``, from ``parent``'s (a warm start)."""
    gp = build_gp(X, Y, noise_floor)
    if parent is not None:
        gp.load_state_dict(parent, strict=False)
    fit_hyperparameters(gp, seed, restarts)
    return _hyper_state(gp)


def state_samples(X: Tensor, Y: Tensor, state: dict[str, Tensor], seed: int, noise_floor: float, n: int) -> Tensor:
    """``n`` posterior samples of the hyperparameters of the GP on ``(X, Y)``, its chain started at ``state``."""
    gp = build_gp(X, Y, noise_floor)
    gp.load_state_dict(state, strict=False)
    return hyper_samples(gp, seed, n)


Arrays = dict[str, np.ndarray]


def _arrays(state: dict[str, Tensor]) -> Arrays:
    return {k: v.numpy() for k, v in state.items()}


def _tensors(state: Arrays) -> dict[str, Tensor]:
    return {k: torch.from_numpy(v) for k, v in state.items()}


def fit_job(
    X: np.ndarray,
    Y: np.ndarray,
    parent: Arrays | None,
    seed: int,
    noise_floor: float,
    restarts: int,
    n_samples: int,
) -> tuple[Arrays, np.ndarray | None]:
    """What a background worker computes for a scheduled fit: its state and, with ``n_samples``, its samples.

    A pure function of its arguments (numpy in and out: exact for float64, and no tensor goes
    through shared memory).
    """
    Xt, Yt = torch.tensor(X, dtype=DTYPE), torch.tensor(Y, dtype=DTYPE)  # torch's own (aligned) memory
    state = fit_state(Xt, Yt, None if parent is None else _tensors(parent), seed, noise_floor, restarts)
    samples = state_samples(Xt, Yt, state, seed, noise_floor, n_samples).numpy() if n_samples else None
    return _arrays(state), samples


def samples_job(X: np.ndarray, Y: np.ndarray, state: Arrays, seed: int, noise_floor: float, n: int) -> np.ndarray:
    """What a background worker computes for samples a fit was not prefetched with (see :func:`fit_job`)."""
    Xt, Yt = torch.tensor(X, dtype=DTYPE), torch.tensor(Y, dtype=DTYPE)
    return state_samples(Xt, Yt, _tensors(state), seed, noise_floor, n).numpy()


def warm_up() -> None:
    """Nothing: a background worker's first job, so that it has started by the time a fit is needed."""


@dataclass
class _Fit:
    m: int  # how many history rows it saw
    digest: bytes  # of those rows
    state: dict[str, Tensor]
    samples: Tensor | None = None  # posterior hyperparameter samples (theta), drawn on first use


@dataclass
class _Pending:
    """A fit submitted to the background worker."""

    digest: bytes  # of the rows it sees
    future: Future[tuple[Arrays, np.ndarray | None]]


class GPModelCache:
    """Builds the GP for a history, refitting hyperparameters on a fixed schedule.

    Hyperparameters are fitted at history sizes ``2, 3, ..., refit_every - 1`` and at every
    multiple of ``refit_every`` (with ``refit_growth = g``, only at a multiple at least ``1 + g``
    times the last fit's size), each fit on the first ``m`` rows of the history. At any other
    size the GP conditions on all rows with the hyperparameters of the last scheduled fit
    (its state_dict is loaded; nothing is fitted).

    With ``warm_start`` a fit starts from the hyperparameters of the last *anchor* fit before it;
    anchors are the scheduled fits at multiples of ``W = refit_every · ceil(10 / refit_every)``
    and chain among themselves (each anchor warm-starts from the previous one; fits before the
    first anchor start from BoTorch's defaults; with ``refit_growth`` the anchors are the scheduled
    fits at multiples of ``W``). So what a fit sees, and where it starts, depends
    on the history alone, and a fresh cache (a resumed run) recomputes at most ``n / W`` anchors
    plus one fit, while a running one does one warm fit per refit. Without ``warm_start`` every
    fit starts from the defaults. Rows are assumed appended in the order results arrived: if an
    earlier row changes, the fits from there on are redone.

    With ``fit_lag = L > 0`` the GP at history size ``n`` uses the last scheduled fit at or
    before ``max(n - L, 2)`` (it still conditions on all ``n`` rows), and each call submits the
    scheduled fits whose rows have arrived to the background worker
    (``bench/strategies/background_fit.py``), so that by the time a decision needs a fit it has
    usually been computed while the previous decisions ran. A fit that is not ready when needed
    (after a resume, all of them) is waited for if the worker has started it, else computed in
    this process at once. Both compute the same function (:func:`fit_job`) of the same arguments
    on one torch thread, so they agree bit for bit (``tests/test_background_fit.py``), and a
    resumed run proposes what an uninterrupted one does. Posterior samples of the
    hyperparameters (``hyper_samples``) are drawn with the fit, the same way.

    Args:
        refit_every: evaluations between hyperparameter fits (1 = refit every step).
        warm_start: start each fit from the last anchor fit.
        seed: seeds the fits (BoTorch retries a failed fit from random starts).
        fixed_lengthscales: if given, use the worksheet's fixed prior with these unit-cube
            lengthscales and never fit.
        noise_floor: the lowest noise variance a fit may infer, relative to Var(Y).
        fit_restarts: extra MAP fits from starts drawn from the priors (the best is kept).
        refit_growth: the fraction by which the history grows between two fits above ``refit_every``.
        fit_lag: evaluations by which the fit a decision uses lags its history (0: fitted in
            this process, on demand).
        hyper_samples: posterior samples of the hyperparameters to draw with each background
            fit (what :meth:`hyper_samples` will be asked for; 0: none).
        pool: the background worker (the process's shared ``FIT_POOL`` if None).
    """

    def __init__(
        self,
        refit_every: int = 1,
        warm_start: bool = True,
        seed: int = 0,
        fixed_lengthscales: list[float] | None = None,
        noise_floor: float = DEFAULT_NOISE_FLOOR,
        fit_restarts: int = 0,
        fit_lag: int = 0,
        hyper_samples: int = 0,
        pool: FitPool | None = None,
        refit_growth: float = 0.0,
    ):
        self.refit_every = int(refit_every)
        self.warm_start = bool(warm_start)
        self.seed = int(seed)
        self.fixed_lengthscales = fixed_lengthscales
        self.noise_floor = float(noise_floor)
        self.fit_restarts = int(fit_restarts)
        self.fit_lag = int(fit_lag)
        self.refit_growth = float(refit_growth)
        self.n_hyper_samples = int(hyper_samples)
        self.anchor_spacing = self.refit_every * math.ceil(ANCHOR_SPACING / self.refit_every)
        self._fits: dict[int, _Fit] = {}
        self._pending: dict[int, _Pending] = {}
        self._pool = pool if pool is not None else FIT_POOL
        self._holds_pool = False
        self.n_fits = 0  # fits actually run (for tests and benchmarks); with fit_lag, results received
        self.n_background = 0  # with fit_lag: fits that came from the worker
        self.n_waits = 0  # with fit_lag: fits not ready when needed (waited for, or computed here)
        self.wait_s = 0.0  # the time decisions spent on them (seconds, part of their decision time)
        if self.fit_lag and fixed_lengthscales is None:
            self._submit(warm_up, ())  # the worker starts (imports torch) while the initial design runs

    def fit_points(self, n: int) -> list[int]:
        """The scheduled fit sizes up to ``n`` (ascending)."""
        k, g = self.refit_every, self.refit_growth
        if not g:
            return [m for m in range(MIN_POINTS, n + 1) if m < k or m % k == 0]
        points: list[int] = []
        for m in [*range(MIN_POINTS, min(k, n + 1)), *range(k, n + 1, k)]:
            if m <= k or m >= points[-1] * (1.0 + g) - 1e-9:  # the tolerance: 100 * 1.1 is 110.00000000000001
                points.append(m)
        return points

    def fit_size(self, n: int) -> int:
        """The history size whose last scheduled fit the GP at size ``n`` uses: ``max(n - fit_lag, 2)``."""
        return max(n - self.fit_lag, MIN_POINTS)

    def chain(self, n: int) -> list[int]:
        """The fits the model at size ``n >= 2`` depends on, in order: anchors, then the last fit.

        ``n`` is a fit size (:meth:`fit_size` of a history size).
        """
        last = self.fit_points(max(n, MIN_POINTS))[-1]
        if not self.warm_start:
            return [last]
        w = self.anchor_spacing
        if self.refit_growth:
            anchors = [m for m in self.fit_points(last) if m % w == 0]
        else:
            anchors = list(range(w, last + 1, w))
        return anchors if anchors and anchors[-1] == last else [*anchors, last]

    def model(self, X: Tensor, Y: Tensor, theta: Tensor | None = None) -> SingleTaskGP:
        """The GP on all of ``(X, Y)`` (``n >= 2`` rows), in eval mode.

        With ``theta`` (one of :meth:`hyper_samples`), the GP has those hyperparameters instead
        of the fitted ones.
        """
        if self.fixed_lengthscales is not None:
            return build_worksheet_gp(X, Y, self.fixed_lengthscales)
        gp = build_gp(X, Y, self.noise_floor)
        gp.load_state_dict(self._last_fit(X, Y).state, strict=False)
        if theta is not None:
            set_theta(gp, theta)
        gp.eval()
        return gp

    def hyper_samples(self, X: Tensor, Y: Tensor, n_samples: int) -> Tensor:
        """``(n_samples, d + 2)`` posterior samples of the hyperparameters of the last scheduled fit.

        They are drawn once per scheduled fit, on the rows that fit saw, starting from its MAP
        hyperparameters; so, like the fit, they depend on the history alone.
        """
        fit = self._last_fit(X, Y)
        if fit.samples is None or len(fit.samples) != n_samples:
            seed = derive_seed(self.seed, "fit", fit.m)
            if self.fit_lag:
                args = (X[: fit.m].numpy(), Y[: fit.m].numpy(), _arrays(fit.state), seed, self.noise_floor, n_samples)
                fit.samples = torch.from_numpy(self._here(samples_job, args))
            else:
                fit.samples = state_samples(X[: fit.m], Y[: fit.m], fit.state, seed, self.noise_floor, n_samples)
        return fit.samples

    def close(self) -> None:
        """Cancels the background fits not started and lets the worker go (idempotent)."""
        for pending in self._pending.values():
            pending.future.cancel()
        self._pending.clear()
        if self._holds_pool:
            self._holds_pool = False
            self._pool.release()

    def wait_for_background(self) -> None:
        """Blocks until every fit submitted so far has finished (tests, benchmarks); errors are left for later."""
        for pending in list(self._pending.values()):
            try:
                pending.future.result()
            except Exception:  # raised again when the fit is needed; cancelled ones: not needed
                pass

    def _last_fit(self, X: Tensor, Y: Tensor) -> _Fit:
        """The scheduled fit the model at ``len(Y)`` uses, fitting it (and its chain) if needed."""
        points = self.chain(self.fit_size(len(Y)))
        digests = _prefix_digests(X, Y, points)
        parent: _Fit | None = None
        valid = True  # every fit so far in the chain came from the cache unchanged
        for m, digest in zip(points, digests, strict=True):
            fit = self._fits.get(m)
            if not (valid and fit is not None and fit.digest == digest):
                valid = False
                fit = self._fit(X, Y, m, digest, parent)
                self._fits[m] = fit
            parent = fit
        assert parent is not None
        if self.fit_lag:
            self._prefetch(X, Y, points[-1])
        # Keep the anchors, the latest fit and later (prefetched) ones; drop other non-anchor fits.
        keep = set(points)
        for m in [m for m in self._fits if m not in keep and m % self.anchor_spacing and m < points[-1]]:
            del self._fits[m]
        for m in [m for m in self._pending if m % self.anchor_spacing and m < points[-1]]:
            self._pending.pop(m).future.cancel()
        return parent

    def _fit(self, X: Tensor, Y: Tensor, m: int, digest: bytes, parent: _Fit | None) -> _Fit:
        """The fit at ``m``: computed here; with ``fit_lag``, the worker's if it has started it, waited for."""
        seed = derive_seed(self.seed, "fit", m)
        if not self.fit_lag:
            self.n_fits += 1
            state = fit_state(
                X[:m], Y[:m], None if parent is None else parent.state, seed, self.noise_floor, self.fit_restarts
            )
            return _Fit(m, digest, state)
        pending = self._pending.pop(m, None)
        if pending is not None and pending.digest == digest and (pending.future.running() or pending.future.done()):
            self.n_background += 1
            return self._received(m, digest, self._wait(pending.future))
        if pending is not None:
            pending.future.cancel()  # still queued: computed here at once rather than behind the queue
        return self._received(m, digest, self._here(fit_job, self._fit_args(X, Y, m, parent)))

    def _prefetch(self, X: Tensor, Y: Tensor, current: int) -> None:
        """Submits the scheduled fits after ``current`` whose rows have arrived and whose parent is known."""
        ahead = [m for m in self.fit_points(len(Y)) if m > current]
        if not ahead:
            return
        parents = {m: self._parent(m) for m in ahead}
        sizes = sorted({*ahead, *(p for p in parents.values() if p is not None)})
        digest_of = dict(zip(sizes, _prefix_digests(X, Y, sizes), strict=True))
        for m, finished in list(self._pending.items()):  # collect what has finished
            if finished.future.done() and not finished.future.cancelled() and finished.future.exception() is None:
                self.n_background += 1
                self._fits[m] = self._received(m, self._pending.pop(m).digest, finished.future.result())
        for m in ahead:
            digest = digest_of[m]
            fit, pending = self._fits.get(m), self._pending.get(m)
            if (fit is not None and fit.digest == digest) or (pending is not None and pending.digest == digest):
                continue
            parent_m = parents[m]
            parent = None if parent_m is None else self._fits.get(parent_m)
            if parent_m is not None and (parent is None or parent.digest != digest_of[parent_m]):
                continue  # its parent is not computed yet: a later call submits it
            if pending is not None:
                pending.future.cancel()
            self._pending[m] = _Pending(digest, self._submit(fit_job, self._fit_args(X, Y, m, parent)))

    def _parent(self, m: int) -> int | None:
        """The fit that the scheduled fit at ``m`` warm-starts from (None: BoTorch's defaults)."""
        chain = self.chain(m)
        return chain[-2] if len(chain) > 1 else None

    def _fit_args(self, X: Tensor, Y: Tensor, m: int, parent: _Fit | None) -> tuple[Any, ...]:
        """The arguments of :func:`fit_job` for the fit at ``m``."""
        return (
            X[:m].numpy(),
            Y[:m].numpy(),
            None if parent is None else _arrays(parent.state),
            derive_seed(self.seed, "fit", m),
            self.noise_floor,
            self.fit_restarts,
            self.n_hyper_samples,
        )

    def _submit(self, fn: Callable[..., T], args: tuple[Any, ...]) -> Future[T]:
        if not self._holds_pool:
            self._pool.acquire()
            self._holds_pool = True
        return self._pool.submit(fn, *args)

    def _here(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """``fn(*args)`` computed in this process as the worker computes it, on one torch thread.

        Counted in :attr:`wait_s`: the decision spends that time on a fit that was not ready.
        """
        self.n_waits += 1
        t0 = time.perf_counter()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args)
        finally:
            torch.set_num_threads(threads)
            self.wait_s += time.perf_counter() - t0

    def _wait(self, future: Future[T]) -> T:
        """The future's result; the time it was not ready is counted in :attr:`wait_s`."""
        if future.done():
            return future.result()
        self.n_waits += 1
        t0 = time.perf_counter()
        try:
            return future.result()
        finally:
            self.wait_s += time.perf_counter() - t0

    def _received(self, m: int, digest: bytes, result: tuple[Arrays, np.ndarray | None]) -> _Fit:
        self.n_fits += 1
        state, samples = result
        return _Fit(m, digest, _tensors(state), None if samples is None else torch.from_numpy(samples))


def _prefix_digests(X: Tensor, Y: Tensor, points: list[int]) -> list[bytes]:
    """SHA-256 of the first ``m`` rows of ``(X, Y)`` for each ``m`` in ``points`` (ascending)."""
    h = hashlib.sha256()
    rows = torch.cat([X, Y], dim=-1).detach().numpy()
    out, start = [], 0
    for m in points:
        h.update(np.ascontiguousarray(rows[start:m]).tobytes())
        start = m
        out.append(h.copy().digest())
    return out


def hallucinate(model: SingleTaskGP, X_new: Tensor) -> SingleTaskGP:
    """The GP conditioned on ``X_new`` observed at its posterior mean.

    The posterior mean is unchanged and the variance shrinks around ``X_new`` (Desautels et
    al.'s hallucination, Kandasamy et al.'s asyHUCB/asyHTS). Hyperparameters are kept.
    """
    if X_new.shape[0] == 0:
        return model
    with torch.no_grad():
        mean = model.posterior(X_new).mean
        model.posterior(X_new[:1])  # fills the prediction caches condition_on_observations needs
    conditioned = model.condition_on_observations(X=X_new, Y=mean)
    assert isinstance(conditioned, SingleTaskGP)  # a conditioned copy of the same class
    return conditioned


def optimise_acqf(
    acq: AcquisitionFunction,
    dim: int,
    q: int,
    num_restarts: int | None,
    raw_samples: int | None,
    sequential: bool = False,
    maxiter: int = 200,
) -> Tensor:
    """Maximises ``acq`` over the unit cube with BoTorch's multi-start L-BFGS-B: ``(q, d)``.

    A budget left None is sized to the dimension (:func:`~bench.strategies.acq_optim.acquisition_budget`).
    """
    restarts, raw = acq_optim.acquisition_budget(dim, num_restarts, raw_samples)
    return acq_optim.multistart(acq, dim, q, restarts, raw, maxiter, sequential=sequential)


class GPStrategy(Strategy):
    """Base of the GP strategies: Sobol start, the GP cache, seeding, the output checks.

    Subclasses implement :meth:`acquire` and parse their options (a :class:`GPOptions`
    subclass, ``bench/strategies/schema.py``) from keywords before calling this constructor.

    Args:
        space: the search space.
        seed: the run's seed.
        options: the checked options (:class:`GPOptions`'s defaults if None); a
            ``worksheet_prior`` option, where a strategy has one, selects the course
            worksheet's fixed GP prior instead of fitting.
    """

    name = "gp"

    def __init__(self, space: Space, seed: int = 0, options: GPOptions | None = None):
        options = options if options is not None else GPOptions.parse(self.name, {})
        super().__init__(space, seed, n_initial=options.n_initial, initial_time=options.initial_time)
        self.options = options
        self.num_restarts, self.raw_samples = acq_optim.acquisition_budget(
            space.dim, options.num_restarts, options.raw_samples
        )
        self.acq_optimizer = str(getattr(options, "acq_optimizer", "auto"))
        self.refit_every = options.refit_every
        self.worksheet_prior = bool(getattr(options, "worksheet_prior", False))
        self.cache = GPModelCache(
            refit_every=self.refit_every,
            warm_start=options.warm_start,
            seed=self.seed,
            fixed_lengthscales=worksheet_lengthscales(space) if self.worksheet_prior else None,
            noise_floor=options.noise_floor,
            fit_restarts=options.fit_restarts,
            fit_lag=options.fit_lag,
            hyper_samples=int(getattr(options, "hyper_samples", 0)),
            refit_growth=options.refit_growth,
        )

    def close(self) -> None:
        """Lets the background fit worker go (``fit_lag``); the strategy still works after it."""
        self.cache.close()

    @property
    def dim(self) -> int:
        return self.space.dim

    def ask(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        n = int(n)
        d = self.dim
        pending = as_pending(pending, d)
        if n <= 0:
            return np.zeros((0, d))
        X, Y = training_data(history, d)
        if len(Y) < MIN_POINTS:
            return base_sobol(d, self.seed, start=history.n_tried + len(pending), n=n)
        with torch_seeded(self.rng_seed(history, pending, self.name)):
            model = self.cache.model(X, Y)
            P = torch.as_tensor(pending, dtype=DTYPE)
            t = history.n_tried + len(pending) + 1
            out = self.acquire(model, X, Y, P, n, t)
        points = np.asarray(out.detach().numpy() if isinstance(out, Tensor) else out, dtype=float)
        return np.clip(points.reshape(n, d), 0.0, 1.0)

    @abc.abstractmethod
    def acquire(self, model: SingleTaskGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, t: int) -> Tensor:
        """``n`` points ``(n, d)``.

        Args:
            model: the GP on ``(X, Y)``, ``Y = -y`` (maximised).
            X, Y: the training data.
            pending: ``(p, d)`` points being evaluated.
            n: how many points.
            t: the 1-based index of the first point to choose among all evaluations (finished,
                failed, running), for schedules such as UCB's beta.
        """

    def maximise(self, acq: AcquisitionFunction, q: int = 1, sequential: bool = False) -> Tensor:
        """``(q, d)`` points maximising ``acq`` (greedily for ``q > 1`` with ``sequential``), by the
        ``acq_optimizer`` option: a dense grid in 1-D and 2-D (``auto``), else multi-start L-BFGS-B
        (``bench/strategies/acq_optim.py``)."""
        if q > 1 and not sequential:
            return optimise_acqf(acq, self.dim, q, self.num_restarts, self.raw_samples)
        return acq_optim.maximise(acq, self.dim, q, self.acq_optimizer, self.num_restarts, self.raw_samples)
