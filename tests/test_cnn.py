"""The CNN objective: config checks, eager data checks, training, metrics, divergence, determinism."""

from __future__ import annotations

import math
import pickle
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.errors import Interrupted, UserError
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


def make(root: Path, cls: type[CNNObjective] = CNNObjective, **options: Any) -> CNNObjective:
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
    return cls(config.pop("space", LR_SPACE), **config)


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


# --------------------------------------------------------------------- checkpoints
class Preempted(Interrupted):
    """The run stopped mid-evaluation (here the driver's SIGTERM, which evaluate lets through): it runs again."""

    def __init__(self) -> None:
        super().__init__(signal.SIGTERM)


class PreemptedAfter(CNNObjective):
    """A CNN whose process stops right after it saved the checkpoint of epoch 2."""

    def _save(self, torch: Any, path: Path, key: dict, epoch: int, *state: Any) -> None:
        super()._save(torch, path, key, epoch, *state)
        if epoch == 2:
            raise Preempted


class CountingSaves(CNNObjective):
    """A CNN that counts the epochs it trains (one checkpoint each)."""

    saves = 0

    def _save(self, torch: Any, path: Path, key: dict, epoch: int, *state: Any) -> None:
        super()._save(torch, path, key, epoch, *state)
        CountingSaves.saves += 1


def in_run(objective: CNNObjective, run_dir: Path) -> CNNObjective:
    """The objective as a worker or a Slurm job of a run in ``run_dir`` gets it (a pickled copy)."""
    objective.set_run_dir(run_dir)
    return pickle.loads(pickle.dumps(objective))


def assert_same_training(a: dict, b: dict) -> None:
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"):
        assert a[key] == b[key], key


def test_a_re_run_continues_from_the_last_epochs_checkpoint_and_ends_as_an_uninterrupted_run(
    root: Path, tmp_path: Path
) -> None:
    options = {"epochs": 3, "dropout": 0.3}  # with dropout, the RNG state matters too
    task = Task(eval_id=4, params={"lr": 3e-3}, seed=5)
    whole = evaluate(in_run(make(root, **options), tmp_path / "whole"), task, 0.0, "w")
    assert whole.status == OK and "resumed_from_epoch" not in whole.metrics
    assert not (tmp_path / "whole" / "evals" / "4").exists()  # finished: its checkpoint is gone

    run = tmp_path / "run"
    with pytest.raises(Preempted):  # a stop, not the objective's fault: evaluate lets it through
        evaluate(in_run(make(root, PreemptedAfter, **options), run), task, 0.0, "w")
    state = torch.load(run / "evals" / "4" / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and len(state["metrics"]["val_loss"]) == 2
    assert not list((run / "evals" / "4").glob(".*.tmp"))  # written atomically: no temporary left

    CountingSaves.saves = 0
    again = evaluate(in_run(make(root, CountingSaves, **options), run), task, 0.0, "w")  # the re-run, a new process
    assert again.status == OK and again.metrics["resumed_from_epoch"] == 2
    assert CountingSaves.saves == 1  # it trained epoch 3 only
    assert again.value == whole.value
    assert_same_training(again.metrics, whole.metrics)
    assert not (run / "evals" / "4").exists()  # the checkpoint went with the evaluation's end


def test_a_scheduler_segment_keeps_its_checkpoint_and_the_next_goes_on_from_it(root: Path, tmp_path: Path) -> None:
    whole = make(root, epochs=3)({"lr": 3e-3}, seed=1)
    objective = in_run(make(root, CountingSaves, epochs=3), tmp_path)
    assert objective.fidelity is not None and objective.fidelity.checkpoints
    CountingSaves.saves = 0
    first = evaluate(objective, Task(0, {"lr": 3e-3}, seed=1, fidelity=1), 0.0, "w")
    assert first.status == OK and (tmp_path / "evals" / "0" / "checkpoint.pt").exists()
    rest = evaluate(objective, Task(0, {"lr": 3e-3}, seed=1, fidelity=3, resume_from=1), 0.0, "w")
    assert rest.metrics["resumed_from_epoch"] == 1 and CountingSaves.saves == 3  # 1 + 2 epochs, none twice
    assert rest.value == whole.value
    assert_same_training(rest.metrics, whole.metrics)
    assert not (tmp_path / "evals" / "0").exists()


def test_a_checkpoint_of_other_parameters_or_a_damaged_one_is_ignored(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = Task(eval_id=0, params={"lr": 3e-3}, seed=0)
    whole = make(root, epochs=2)({"lr": 3e-3}, seed=0)
    saved = tmp_path / "evals" / "0" / "checkpoint.pt"
    with pytest.raises(Preempted):  # the same eval_id with other parameters
        evaluate(in_run(make(root, PreemptedAfter, epochs=2), tmp_path), Task(0, {"lr": 1e-2}, seed=0), 0.0, "w")
    assert saved.exists()
    other = evaluate(in_run(make(root, epochs=2), tmp_path), task, 0.0, "w")
    assert "resumed_from_epoch" not in other.metrics and other.value == whole.value

    marker = tmp_path / "code-ran"
    tampered = pickle.dumps({"format": 1, "epoch": 1, "model": Payload(marker)})
    for content in (b"not a checkpoint", tampered):
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_bytes(content)
        out = evaluate(in_run(make(root, epochs=2), tmp_path), task, 0.0, "w")
        assert out.status == OK and "resumed_from_epoch" not in out.metrics and out.value == whole.value
        assert "ignoring unreadable checkpoint" in capsys.readouterr().err
        assert not marker.exists()  # read with weights_only: no code in it runs


class Payload:
    """Unpickling it would write a file: a checkpoint must never be read that way."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "code ran"))


def test_a_failed_evaluation_leaves_no_checkpoint_and_none_is_written_outside_a_run_or_when_off(
    root: Path, tmp_path: Path
) -> None:
    diverged = evaluate(in_run(make(root, epochs=3), tmp_path), Task(0, {"lr": 1e10}, seed=0), 0.0, "w")
    assert diverged.status == DIVERGED and not (tmp_path / "evals" / "0").exists()
    off = in_run(make(root, epochs=3, checkpoint=False), tmp_path)
    assert off.fidelity is not None and not off.fidelity.checkpoints  # a scheduler's segments start over
    segment = evaluate(off, Task(0, {"lr": 3e-3}, seed=0, fidelity=1), 0.0, "w")  # with checkpoints it would keep one
    assert segment.status == OK and not (tmp_path / "evals" / "0").exists()
    outside = in_run(make(root, PreemptedAfter, epochs=3), tmp_path)  # called outside an evaluation: no eval_id
    assert outside({"lr": 3e-3}, seed=0).metrics["n_train"] == 300 and not (tmp_path / "evals").exists()
    with pytest.raises(UserError, match=r"objective\.checkpoint: must be true or false"):
        make(root, checkpoint="yes")
