"""The CNN objective: config checks, eager data checks, training, metrics, divergence, determinism."""

from __future__ import annotations

import math
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.errors import UserError
from bench.evaluate import evaluate
from bench.objective import Evaluation
from bench.records import DIVERGED, ERROR, OK, Task
from objectives.cnn import CNNObjective
from objectives.idx import write_idx

REPO = Path(__file__).resolve().parent.parent
TINY = REPO.parent / "shared" / "data" / "mnist-tiny"
LR_SPACE = {"lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True}}
SIDE = 12


def synthetic(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Learnable 12×12 images: class k lights a 4×4 block at one of ten places, over noise."""
    y = rng.integers(0, 10, n).astype(np.uint8)
    x = rng.integers(0, 60, (n, SIDE, SIDE)).astype(np.uint8)
    for i, k in enumerate(y):
        r, c = divmod(int(k), 4)
        x[i, 4 * r : 4 * r + 4, 3 * c : 3 * c + 4] = 230
    return x, y


@pytest.fixture
def root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    folder = tmp_path / "data"
    folder.mkdir()
    for prefix, n in (("train", 400), ("t10k", 100)):
        x, y = synthetic(n, rng)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", y)
    return folder


def make(root: Path, **options: Any) -> CNNObjective:
    config: dict[str, Any] = {
        "root": str(root),
        "epochs": 1,
        "batch_size": 32,
        "channels": [4, 8],
        "hidden": 16,
        "device": "cpu",
        "threads": 1,
        "val_images": 100,
    }
    config.update(options)
    return CNNObjective(config.pop("space", LR_SPACE), **config)


def test_one_epoch_returns_the_metrics(root: Path) -> None:
    objective = make(root)
    result = objective({"lr": 3e-3}, seed=0)
    assert isinstance(result, Evaluation)
    m = result.metrics
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds"):
        assert len(m[key]) == 1 and math.isfinite(m[key][0]), key
    assert result.value == -m["val_accuracy"][-1]
    assert 0 <= m["test_accuracy"] <= 1 and m["test_loss"] > 0
    assert (m["n_train"], m["n_val"], m["n_test"], m["device"]) == (300, 100, 100, "cpu")


def test_it_learns(root: Path) -> None:
    result = make(root, epochs=4)({"lr": 1e-2}, seed=0)
    m = result.metrics
    assert m["val_accuracy"][-1] >= 0.8 and m["test_accuracy"] >= 0.8  # chance is 0.1
    assert m["train_loss"][-1] < m["train_loss"][0]


def test_val_loss_metric(root: Path) -> None:
    result = make(root, metric="val_loss")({"lr": 3e-3}, seed=0)
    assert result.value == result.metrics["val_loss"][-1] > 0


def test_params_override_the_config(root: Path) -> None:
    objective = make(root, epochs=1, max_train_images=None)
    params = {"lr": 1e-3, "epochs": 2, "batch_size": 16, "dropout": 0.0, "weight_decay": 1e-4, "max_train_images": 50}
    m = objective(params, seed=1).metrics
    assert len(m["val_loss"]) == 2 and m["n_train"] == 50
    assert objective.defaults["epochs"] == 1  # the config itself is untouched
    assert len(objective({"lr": 1e-3}, seed=1).metrics["val_loss"]) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lr": 1e-3, "momentum": 0.9}, r"params: unknown parameter\(s\) \['momentum'\]"),
        ({"lr": -1.0}, r"params\.lr: must be > 0"),
        ({"lr": 1e-3, "batch_size": 8.5}, r"params\.batch_size: must be an integer"),
        ({"lr": 1e-3, "dropout": 1.0}, r"params\.dropout: must be < 1"),
    ],
)
def test_bad_params_are_errors(root: Path, params: dict, message: str) -> None:
    objective = make(root)
    with pytest.raises(UserError, match=message):
        objective(params, seed=0)
    outcome = evaluate(objective, Task(eval_id=0, params=params, seed=0), clock_origin=0.0, worker="w")
    assert outcome.status == ERROR


def test_same_seed_same_result_on_cpu(root: Path) -> None:
    objective = make(root, epochs=2)
    a, b = objective({"lr": 2e-3}, seed=3), objective({"lr": 2e-3}, seed=3)
    keys = ("train_loss", "val_loss", "val_accuracy", "test_accuracy")
    assert a.value == b.value and all(a.metrics[k] == b.metrics[k] for k in keys)
    other = make(root, epochs=2)({"lr": 2e-3}, seed=3)  # a fresh instance too
    assert other.metrics["val_loss"] == a.metrics["val_loss"]
    c = objective({"lr": 2e-3}, seed=4)
    assert c.metrics["train_loss"] != a.metrics["train_loss"]


def test_torch_state_is_restored(root: Path) -> None:
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    objective = make(root, threads=1 if threads > 1 else 2)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    objective({"lr": 1e-3}, seed=0)
    assert torch.equal(torch.rand(3), expected)  # the caller's RNG stream is untouched
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_divergence_returns_nan_with_the_metrics_so_far(root: Path) -> None:
    objective = make(root, epochs=3)
    result = objective({"lr": 1e10}, seed=0)
    assert math.isnan(result.value)
    assert result.metrics["diverged_epoch"] == 1 and len(result.metrics["train_loss"]) == 1
    outcome = evaluate(objective, Task(eval_id=0, params={"lr": 1e10}, seed=0), 0.0, "w")
    assert outcome.status == DIVERGED and outcome.value is None
    assert outcome.metrics["train_loss"] == ["nan"] and outcome.metrics["diverged_epoch"] == 1
    ok = evaluate(objective, Task(eval_id=1, params={"lr": 1e-3}, seed=0), 0.0, "w")
    assert ok.status == OK and ok.value == -ok.metrics["val_accuracy"][-1]


def test_digits(tmp_path: Path) -> None:
    objective = make(tmp_path / "unused", dataset="digits", epochs=3, val_images=None, channels=[16, 32], hidden=64)
    assert objective.shape is not None and objective.shape.image_shape == (8, 8)
    m = objective({"lr": 1e-2}, seed=0).metrics
    assert (m["n_train"], m["n_val"], m["n_test"]) == (1347, 150, 300)
    assert m["val_accuracy"][-1] >= 0.85 and m["test_accuracy"] >= 0.85  # chance is 0.1


def test_pickled_objective_loads_its_own_data(root: Path) -> None:
    objective = make(root)
    objective.validate()
    objective.setup()
    state = pickle.dumps(objective)
    assert len(state) < 5000  # no arrays or tensors travel to workers
    clone = pickle.loads(state)
    assert clone({"lr": 1e-3}, seed=2).value == objective({"lr": 1e-3}, seed=2).value


def test_relative_root_is_taken_from_the_launch_directory(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root.parent)
    objective = make(Path("data"))
    assert objective.root == str(root)
    monkeypatch.chdir("/")
    assert objective({"lr": 1e-3}, seed=0).metrics["n_val"] == 100


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dataset": "cifar"}, r"objective\.dataset: unknown data set 'cifar'"),
        ({"metric": "accuracy"}, r"objective\.metric: unknown metric 'accuracy'"),
        ({"device": "tpu"}, r"objective\.device: unknown device 'tpu'"),
        ({"lr": 0}, r"objective\.lr: must be > 0"),
        ({"epochs": 0}, r"objective\.epochs: must be >= 1"),
        ({"batch_size": 2.5}, r"objective\.batch_size: must be an integer"),
        ({"dropout": 1.5}, r"objective\.dropout: must be < 1"),
        ({"weight_decay": -1e-3}, r"objective\.weight_decay: must be >= 0"),
        ({"threads": 0}, r"objective\.threads: must be an integer >= 1 or null"),
        ({"val_fraction": 1.0}, r"objective\.val_fraction: must be a number between 0 and 1"),
        ({"val_images": 400}, r"objective\.val_images: 400 validation images out of 400"),
        ({"val_images": None, "val_fraction": 0.001}, r"objective\.val_fraction: 0 validation"),
        ({"channels": []}, r"objective\.channels: must be a non-empty list"),
        ({"channels": [4, 4, 4, 4]}, r"objective\.channels: 4 pooling blocks need images of at least 16"),
        ({"download": "yes"}, r"objective\.download: must be true or false"),
        (
            {"space": {"momentum": {"type": "float", "low": 0.1, "high": 0.9}}},
            r"objective\.space\.momentum: not a parameter of the cnn objective",
        ),
        (
            {"space": {"dropout": {"type": "float", "low": 0.0, "high": 1.0}}},
            r"objective\.space\.dropout\.high: must be < 1",
        ),
        (
            {"space": {"batch_size": {"type": "float", "low": 16, "high": 128}}},
            r"objective\.space\.batch_size\.type: batch_size is an integer",
        ),
        (
            {"space": {"batch_size": {"type": "categorical", "choices": [32, 0]}}},
            r"objective\.space\.batch_size\.choices: must be >= 1, got 0",
        ),
    ],
)
def test_config_is_checked_at_construction(root: Path, options: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        make(root, **options)


def test_bad_data_stops_construction(root: Path) -> None:
    write_idx(root / "train-labels-idx1-ubyte.gz", np.zeros(399, dtype=np.uint8))
    with pytest.raises(UserError, match=r"train-labels-idx1-ubyte\.gz: 399 labels but"):
        make(root)


def test_missing_data_stops_construction(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"objective\.root: .*missing does not exist"):
        make(tmp_path / "missing")


def test_labels_out_of_range_stop_validate(root: Path) -> None:
    labels = np.full(100, 11, dtype=np.uint8)
    write_idx(root / "t10k-labels-idx1-ubyte.gz", labels)
    objective = make(root)  # headers are fine
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte\.gz: label 11 at item 0"):
        objective.validate()


def test_download_without_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision raises ImportError
    objective = make(tmp_path / "mnist", download=True)  # files missing: checked in validate()
    assert objective.shape is None
    with pytest.raises(UserError) as exc:
        objective.validate()
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith("objective.download: torchvision is not usable here")
    assert "bobench[vision]" in message


def test_download_is_skipped_when_the_files_are_there(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)
    objective = make(root, download=True)
    objective.validate()
    assert objective.shape is not None and objective.shape.n_train == 400


def test_explicit_cuda_without_cuda(root: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    objective = make(root, device="cuda")
    with pytest.raises(UserError, match=r"objective\.device: cuda asked for, but torch finds no CUDA"):
        objective.setup()


def test_yaml_config_instantiates(root: Path, compose: Any) -> None:
    from hydra.utils import instantiate

    # conf/objective/cnn.yaml extends its schema (objectives/schema.py), which holds the _target_.
    cfg = compose(
        "objective=cnn",
        f"objective.root={root}",
        "objective.val_images=100",
        "objective.threads=1",
        "objective.device=cpu",
    ).objective
    objective = instantiate(cfg, _recursive_=False)
    assert isinstance(objective, CNNObjective) and objective.name == "cnn"
    assert objective.defaults["lr"] == 5e-4
    (lr,) = objective.space.params
    assert (lr.name, lr.low, lr.high, lr.log) == ("lr", 1e-5, 1e-1, True)
    assert objective.space.to_params([0.5])["lr"] == pytest.approx(10**-3)
    result = objective({"lr": 5e-4, "epochs": 1, "max_train_images": 64}, seed=0)
    assert result.metrics["n_train"] == 64


@pytest.mark.slow
@pytest.mark.skipif(not TINY.is_dir(), reason=f"{TINY} is not there")
def test_mnist_tiny_reaches_85_percent() -> None:
    objective = CNNObjective(LR_SPACE, root=str(TINY), epochs=2, device="cpu", threads=1)
    objective.validate()
    result = objective({"lr": 1e-3}, seed=0)
    m = result.metrics
    assert (m["n_train"], m["n_val"], m["n_test"]) == (1800, 200, 1000)
    assert m["val_accuracy"][-1] >= 0.85, m["val_accuracy"]
    assert m["test_accuracy"] >= 0.8, m["test_accuracy"]
