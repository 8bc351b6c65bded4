"""The model-based strategies: EI, UCB/BUCB, Thompson sampling, local penalisation, Ax."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from bench.errors import UserError
from bench.space import Space
from bench.strategies.base import History, sobol_points
from bench.strategies.ei import ExpectedImprovement
from bench.strategies.gp import (
    WORKSHEET_NOISE,
    WORKSHEET_OUTPUTSCALE,
    GPModelCache,
    hallucinate,
    training_data,
    worksheet_lengthscales,
)
from bench.strategies.lp import LocalPenalization, PenalisedAcquisition, lipschitz_constant
from bench.strategies.ts import ThompsonSampling
from bench.strategies.ucb import ucb_beta_sqrt

torch.set_num_threads(1)

GP_STRATEGIES = [
    "ei",
    "ei_worksheet",
    "ucb",
    "bucb",
    "sync_ts",
    "async_ts",
    "ts_hallucinate",
    "ts_exact",
    "lp",
    "async_lp",
]
CHEAP = {"num_restarts": 2, "raw_samples": 32, "mc_samples": 16, "n_candidates": 256, "maxiter": 30}

SPACE = Space.from_config(
    {
        "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "layers": {"type": "int", "low": 1, "high": 4},
    }
)
D = SPACE.dim
NONE = np.zeros((0, D))


def make(compose, name: str, seed: int = 0, **extra):
    cfg = compose(f"strategy={name}").strategy
    for key, value in {**CHEAP, **extra}.items():
        if key in cfg:
            cfg[key] = value
    return instantiate(OmegaConf.to_container(cfg, resolve=True), space=SPACE, seed=seed)


def history(n: int, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    X = rng.random((n, D))
    y = ((X - 0.3) ** 2).sum(axis=1) + 0.01 * rng.standard_normal(n)
    return History(X, y, np.zeros((0, D)))


@pytest.mark.parametrize("name", GP_STRATEGIES)
def test_n_points_in_the_unit_cube_and_reproducible(compose, name):
    h = history(9)
    pending = np.random.default_rng(5).random((2, D))
    a = make(compose, name, seed=4).propose(h, pending, 3)
    assert a.shape == (3, D)
    assert np.all((a >= 0) & (a <= 1))
    b = make(compose, name, seed=4).propose(h, pending, 3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["ei", "bucb", "ucb", "ts_hallucinate", "lp", "async_lp"])
def test_running_points_are_not_proposed_again(compose, name):
    strategy = make(compose, name)
    h = history(10)
    first = strategy.propose(h, NONE, 1)
    again = strategy.propose(h, first, 1)
    assert np.linalg.norm(again[0] - first[0]) > 1e-3, f"{name} re-proposed a running point"


@pytest.mark.parametrize("name", ["sync_ts", "async_ts", "ts_exact"])
def test_plain_thompson_sampling_ignores_what_is_running(compose, name):
    strategy = make(compose, name)
    h = history(10)
    rng = np.random.default_rng(1)
    a = strategy.propose(h, rng.random((2, D)), 2)
    b = strategy.propose(h, rng.random((2, D)), 2)  # other running points, as many
    np.testing.assert_array_equal(a, b)


def test_hallucinating_thompson_sampling_looks_at_what_is_running(compose):
    strategy = make(compose, "ts_hallucinate")
    h = history(10)
    rng = np.random.default_rng(1)
    a = strategy.propose(h, rng.random((2, D)), 1)
    b = strategy.propose(h, rng.random((2, D)), 1)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", ["sync_ts", "ts_exact", "ei"])
def test_seeds_matter_where_there_is_randomness(compose, name):
    h = history(10)
    a = make(compose, name, seed=0).propose(h, NONE, 2)
    b = make(compose, name, seed=1).propose(h, NONE, 2)
    assert not np.allclose(a, b)
    # before two points are in, every GP strategy continues the harness's Sobol sequence
    start = make(compose, name, seed=0).propose(History.empty(D), NONE, 3)
    np.testing.assert_allclose(start, sobol_points(D, 0, start=0, n=3))


def test_each_thompson_point_comes_from_its_own_sample(compose):
    pts = make(compose, "sync_ts").propose(history(12), NONE, 4)
    assert len({tuple(np.round(p, 6)) for p in pts}) == 4


# -- the GP cache ----------------------------------------------------------------------------
def _data(n: int, seed: int = 0):
    return training_data(history(n, seed), D)


def test_hyperparameters_are_refitted_only_on_schedule():
    cache = GPModelCache(refit_every=5, warm_start=False, seed=0)
    X, Y = _data(13)
    assert cache.fit_points(13) == [2, 3, 4, 5, 10]
    cache.model(X[:10], Y[:10])
    assert cache.n_fits == 1
    m11 = cache.model(X[:11], Y[:11])
    m12 = cache.model(X[:12], Y[:12])
    assert cache.n_fits == 1  # 11 and 12 reuse the fit at 10
    ls = m11.covar_module.lengthscale
    torch.testing.assert_close(ls, m12.covar_module.lengthscale)
    # ... but condition on every point: the mean interpolates the newest observation
    with torch.no_grad():
        mean = m12.posterior(X[11:12]).mean.item()
    assert abs(mean - Y[11].item()) < abs(Y[11].item() - Y[:11].mean().item())


def test_warm_started_chain_is_a_function_of_the_history_alone():
    X, Y = _data(24)
    incremental = GPModelCache(refit_every=4, warm_start=True, seed=3)
    for n in range(2, 25):
        incremental.model(X[:n], Y[:n])
    fresh = GPModelCache(refit_every=4, warm_start=True, seed=3)  # e.g. after a resume
    a, b = incremental.model(X, Y), fresh.model(X, Y)
    torch.testing.assert_close(a.covar_module.lengthscale, b.covar_module.lengthscale)
    torch.testing.assert_close(a.likelihood.noise, b.likelihood.noise)
    runs = incremental.n_fits
    incremental.model(X, Y)
    assert incremental.n_fits == runs  # cached
    Y2 = Y.clone()
    Y2[20] += 1.0  # a changed row: the fits from there on are redone
    incremental.model(X, Y2)
    assert incremental.n_fits == runs + 1


def test_a_cold_cache_fits_only_the_anchors_and_the_last_fit():
    X, Y = _data(37)
    cache = GPModelCache(refit_every=1, warm_start=True, seed=0)
    assert cache.chain(37) == [10, 20, 30, 37]
    cache.model(X, Y)
    assert cache.n_fits == 4
    cache.model(X[:38], Y[:38])  # the same history: all cached
    assert cache.n_fits == 4
    assert GPModelCache(refit_every=25).chain(60) == [25, 50]
    assert GPModelCache(refit_every=4, warm_start=False).chain(23) == [20]


def test_a_growing_refit_schedule_thins_with_the_history():
    cache = GPModelCache(refit_every=10, refit_growth=0.1)
    assert cache.fit_points(200) == [*range(2, 10), *range(10, 101, 10), 110, 130, 150, 170, 190]
    assert cache.chain(175) == [*range(10, 101, 10), 110, 130, 150, 170]  # anchors: the scheduled fits
    assert GPModelCache(refit_every=5, refit_growth=0.5).fit_points(40) == [2, 3, 4, 5, 10, 15, 25, 40]
    assert GPModelCache(refit_every=5, refit_growth=0.5).chain(40) == [10, 40]  # anchors: multiples of W = 10
    assert len(GPModelCache(refit_every=10, refit_growth=0.1).fit_points(1000)) == 38  # 108 without


def test_a_growing_schedule_is_a_function_of_the_history_alone():
    X, Y = _data(48)
    incremental = GPModelCache(refit_every=4, refit_growth=0.25, seed=3)
    for n in range(2, 49):
        incremental.model(X[:n], Y[:n])
    assert incremental.n_fits == len(incremental.fit_points(48))  # each scheduled fit once, no other
    fresh = GPModelCache(refit_every=4, refit_growth=0.25, seed=3)  # e.g. after a resume
    a, b = incremental.model(X, Y), fresh.model(X, Y)
    torch.testing.assert_close(a.covar_module.lengthscale, b.covar_module.lengthscale)
    torch.testing.assert_close(a.likelihood.noise, b.likelihood.noise)
    assert fresh.n_fits == len(fresh.chain(48))


def test_worksheet_prior_is_fixed_and_scaled_to_the_space():
    assert worksheet_lengthscales(SPACE) == pytest.approx([0.5, 4.0, 2.0 / 3.0])
    cache = GPModelCache(fixed_lengthscales=worksheet_lengthscales(SPACE))
    model = cache.model(*_data(8))
    assert cache.n_fits == 0
    assert model.covar_module.outputscale.item() == pytest.approx(WORKSHEET_OUTPUTSCALE)
    assert model.likelihood.noise.item() == pytest.approx(WORKSHEET_NOISE)
    ls = model.covar_module.base_kernel.lengthscale.squeeze().tolist()
    assert ls == pytest.approx([0.5, 4.0, 2.0 / 3.0])


def test_hallucination_keeps_the_mean_and_shrinks_the_variance():
    X, Y = _data(10)
    model = GPModelCache(seed=0).model(X, Y)
    P = torch.tensor([[0.9, 0.9, 0.1]], dtype=X.dtype)
    with torch.no_grad():
        before = model.posterior(P)
        after = hallucinate(model, P).posterior(P)
    assert after.mean.item() == pytest.approx(before.mean.item(), abs=1e-6)
    assert after.variance.item() < 0.5 * before.variance.item()


# -- UCB, local penalisation ------------------------------------------------------------------
def test_ucb_beta_follows_kandasamy_schedule():
    assert ucb_beta_sqrt(3, 10, coef=5.0) == pytest.approx(np.sqrt(5 * 3 * np.log(2 * 3 * 10 + 1)))
    assert ucb_beta_sqrt(3, 10) == pytest.approx(np.sqrt(0.5 * 3 * np.log(61)))  # Dragonfly's c
    assert ucb_beta_sqrt(6, 100) > ucb_beta_sqrt(6, 10) > ucb_beta_sqrt(2, 10)


def test_lipschitz_constant_of_a_linear_function():
    rng = np.random.default_rng(0)
    X = rng.random((30, D))
    slope = np.array([3.0, -1.0, 2.0])
    Xt, Yt = training_data(History(X, X @ slope), D)
    model = GPModelCache(seed=0).model(Xt, Yt)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        L = lipschitz_constant(model, D)
    assert pytest.approx(np.linalg.norm(slope), rel=0.25) == L


@pytest.mark.parametrize("penaliser", ["soft", "hard"])
def test_penalisers_follow_gonzalez_and_alvi(penaliser):
    X, Y = _data(10)
    model = GPModelCache(seed=0).model(X, Y)
    centre = torch.tensor([[0.3, 0.3, 0.3]], dtype=X.dtype)
    L, M = 5.0, Y.max()
    common = (model, "ei", M, Y.mean(), Y.std(), 1.0)
    plain = PenalisedAcquisition(*common, centre[:0], L, penaliser)
    penalised = PenalisedAcquisition(*common, centre, L, penaliser)
    with torch.no_grad():
        post = model.posterior(centre)
        r, s = (M - post.mean).abs().item(), post.variance.sqrt().item()
    for dist, x in (
        (1e-3, centre + 1e-3 / np.sqrt(3)),
        (1.1, torch.full((1, D), 0.3 + 1.1 / np.sqrt(3), dtype=X.dtype)),
    ):
        x = x.unsqueeze(0)
        with torch.no_grad():
            got = (penalised(x) - plain(x)).item()
        if penaliser == "soft":  # log Φ((L‖x - x_j‖ - |M - μ_j|) / σ_j)
            want = float(torch.special.log_ndtr(torch.tensor((L * dist - r) / s)))
        else:  # log of the p-norm-smoothed min(L‖x - x_j‖ / (|M - μ_j| + σ_j), 1), p = 5
            h = L * dist / (r + s)
            want = -np.log1p(h**-5) / 5
        assert got == pytest.approx(want, abs=1e-6)
    with torch.no_grad():
        near, far = centre.unsqueeze(0) + 1e-4, torch.full((1, 1, D), 0.95, dtype=X.dtype)
        near_penalty = (penalised(near) - plain(near)).item()
        # At the centre the soft penaliser at least halves the acquisition (Φ(-r/σ) <= 1/2);
        # the hard one removes it (Alvi et al.'s point: the soft one can leave too much).
        assert near_penalty < (np.log(0.5) + 1e-3 if penaliser == "soft" else -5.0)
        assert (penalised(far) - plain(far)).item() == pytest.approx(0.0, abs=0.05)


def test_lp_can_ignore_running_points_as_an_ablation():
    h = history(10)
    strategy = LocalPenalization(SPACE, seed=0, num_restarts=2, raw_samples=32, penalise_pending=False)
    first = strategy.propose(h, NONE, 1)
    again = strategy.propose(h, first, 1)
    assert np.linalg.norm(again[0] - first[0]) < 1e-3
    assert strategy.last_lipschitz is not None and strategy.last_lipschitz > 0


# -- options ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, kwargs, field",
    [
        (ExpectedImprovement, {"num_restarts": 0}, "strategy.num_restarts"),
        (ExpectedImprovement, {"raw_samples": 1, "num_restarts": 4}, "strategy.raw_samples"),
        (ExpectedImprovement, {"refit_every": 0}, "strategy.refit_every"),
        (ExpectedImprovement, {"worksheet_prior": "yes"}, "strategy.worksheet_prior"),
        (ExpectedImprovement, {"restarts": 3}, "strategy.restarts"),
        (LocalPenalization, {"penaliser": "medium"}, "strategy.penaliser"),
        (LocalPenalization, {"base": "pi"}, "strategy.base"),
        (ThompsonSampling, {"n_candidates": 0}, "strategy.n_candidates"),
    ],
)
def test_bad_options_name_the_field(cls, kwargs, field):
    with pytest.raises(UserError, match=field.replace(".", r"\.")):
        cls(SPACE, seed=0, **kwargs)


# -- Ax -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ax_proposes_deterministically_and_respects_running_trials(compose):
    h = history(6)
    pending = np.random.default_rng(3).random((1, D))
    a = make(compose, "ax", seed=2, initialization_budget=3).propose(h, pending, 2)
    b = make(compose, "ax", seed=2, initialization_budget=3).propose(h, pending, 2)
    assert a.shape == (2, D) and np.all((a >= 0) & (a <= 1))
    np.testing.assert_array_equal(a, b)
    assert np.min(np.linalg.norm(a - pending, axis=1)) > 1e-3
    assert np.linalg.norm(a[0] - a[1]) > 1e-3
