"""The worksheet's CNN: a small convolutional network trained with Adam on MNIST-style images.

BO tunes Adam's learning rate ``lr`` and, where the space names them, ``batch_size``,
``dropout``, ``weight_decay``, ``epochs`` and ``max_train_images``; whatever the space leaves
out comes from the config (the default point is ``lr = 5e-4``). The network is
``len(channels)`` blocks of 3×3 convolution (same padding), ReLU and 2×2 max-pooling, then
dropout, a fully-connected hidden layer with ReLU and dropout, and a linear head; the loss is
cross-entropy. Each epoch walks a seeded permutation of the training images in mini-batches
(zero_grad, forward, loss, backward, step), then scores the validation split; the final
network is scored once on the held-back test split.

Data is held as tensors in memory (no DataLoader, no per-item transforms). Construction is
cheap and checks the config and the IDX headers; :meth:`CNNObjective.validate` reads every
file (and downloads when asked) and is meant to run in the driver before the first evaluation.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from bench.errors import UserError
from bench.evaluate import current_task
from bench.guard import EvaluationTimeout
from bench.objective import Evaluation, Fidelity, Objective, reporter, to_plain
from bench.space import Space
from objectives import checkpoint
from objectives.datasets import (
    DATASETS,
    DataShape,
    ImageArrays,
    check_files,
    download,
    files_present,
    load_arrays,
)

if TYPE_CHECKING:
    import torch

METRICS = ("val_loss", "neg_val_accuracy")
DEVICES = ("auto", "cpu", "cuda", "mps")
EVAL_CHUNK = 2048  # images scored at once (no gradients)
CHECKPOINT_FORMAT = 1  # the layout of a checkpoint's state (objectives.checkpoint keeps the file)
EPOCH_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds")  # one value an epoch

# Hyperparameters that a call's params may set (they override the config's values):
# name -> (integer?, lowest allowed, lowest is allowed?, highest allowed or None, highest allowed?).
HYPERPARAMETERS: dict[str, tuple[bool, float, bool, float | None, bool]] = {
    "lr": (False, 0.0, False, None, False),
    "batch_size": (True, 1, True, None, False),
    "dropout": (False, 0.0, True, 1.0, False),
    "weight_decay": (False, 0.0, True, None, False),
    "epochs": (True, 1, True, None, False),
    "max_train_images": (True, 1, True, None, False),
}


def check_hyperparameter(where: str, name: str, value: Any) -> int | float | None:
    """Checks one hyperparameter's value and returns it as int or float.

    Raises:
        UserError: naming ``where`` (e.g. ``objective.lr`` or ``params.lr``).
    """
    integer, low, low_ok, high, high_ok = HYPERPARAMETERS[name]
    if name == "max_train_images" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise UserError(f"{where}: must be a finite number, got {value!r}")
    number = float(value)
    if integer and not number.is_integer():
        raise UserError(f"{where}: must be an integer, got {value!r}")
    value = (int(value) if isinstance(value, numbers.Integral) else int(number)) if integer else number
    if value < low or (value == low and not low_ok):
        raise UserError(f"{where}: must be {'>=' if low_ok else '>'} {low:g}, got {value!r}")
    if high is not None and (value > high or (value == high and not high_ok)):
        raise UserError(f"{where}: must be {'<=' if high_ok else '<'} {high:g}, got {value!r}")
    return value


def _check_int(where: str, value: Any, low: int, or_null: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise UserError(f"{where}: must be an integer >= {low}{or_null}, got {value!r}")
    return int(value)


def _check_optional_int(where: str, value: Any, low: int) -> int | None:
    return None if value is None else _check_int(where, value, low, or_null=" or null")


def _check_fraction(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < 1:
        raise UserError(f"{where}: must be a number between 0 and 1, got {value!r}")
    return float(value)


def _check_channels(where: str, value: Any) -> tuple[int, ...]:
    """A non-empty list of positive integers (an OmegaConf list is made plain first)."""
    value = to_plain(value)
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or not value
        or any(isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 1 for c in value)
    ):
        raise UserError(f"{where}: must be a non-empty list of positive integers, got {value!r}")
    return tuple(int(c) for c in value)


def _check_space(space: Space) -> None:
    """Every searched parameter must be a hyperparameter and its whole range allowed."""
    for p in space.params:
        where = f"objective.space.{p.name}"
        if p.name not in HYPERPARAMETERS:
            raise UserError(f"{where}: not a parameter of the cnn objective (use {', '.join(HYPERPARAMETERS)})")
        if p.type == "categorical":
            for choice in p.choices:
                check_hyperparameter(f"{where}.choices", p.name, choice)
            continue
        if HYPERPARAMETERS[p.name][0] and p.type == "float":
            raise UserError(f"{where}.type: {p.name} is an integer; use type int (or categorical)")
        check_hyperparameter(f"{where}.low", p.name, p.low)
        check_hyperparameter(f"{where}.high", p.name, p.high)


def launch_dir() -> Path:
    """The directory the user launched from: Hydra's original cwd in a Hydra app, else the cwd."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.utils import get_original_cwd

        if HydraConfig.initialized():
            return Path(get_original_cwd())
    except (ImportError, ValueError):
        pass
    return Path.cwd()


def resolve_device(torch_module: Any, spec: str) -> torch.device:
    """``auto``: cuda when available, else mps, else cpu; an explicit device must be available."""
    torch = torch_module
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "mps" if mps_ok else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"objective.device: {spec} asked for, but torch finds no CUDA device here")
    if spec == "mps" and not mps_ok:
        raise UserError("objective.device: mps asked for, but torch finds no MPS device here")
    return torch.device(spec)


def build_network(
    torch_module: Any,
    image_shape: tuple[int, int],
    n_classes: int,
    channels: Sequence[int],
    hidden: int,
    dropout: float,
) -> torch.nn.Module:
    """Conv(3×3, same)-ReLU-MaxPool(2) blocks, dropout, a hidden ReLU layer, dropout, a head.

    The input is ``(batch, 1, rows, columns)``; the flattened size follows the image size, so the
    same network takes 28×28 MNIST and 8×8 digits.
    """
    nn = torch_module.nn
    layers: list[Any] = []
    c_in, (h, w) = 1, image_shape
    for c in channels:
        layers += [nn.Conv2d(c_in, c, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c_in, h, w = c, h // 2, w // 2
    layers += [
        nn.Dropout(dropout),
        nn.Flatten(),
        nn.Linear(c_in * h * w, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, n_classes),
    ]
    return nn.Sequential(*layers)


@contextmanager
def torch_settings(torch_module: Any, device: torch.device, threads: int | None, deterministic: bool) -> Iterator[None]:
    """Sets threads and determinism for one evaluation and restores them (and the RNG) after."""
    torch = torch_module
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = torch.backends.cudnn
    old_cudnn = (cudnn.deterministic, cudnn.benchmark)
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        if threads is not None and threads != old_threads:
            torch.set_num_threads(threads)
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            cudnn.deterministic, cudnn.benchmark = True, False
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        if torch.get_num_threads() != old_threads:
            torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
        cudnn.deterministic, cudnn.benchmark = old_cudnn


class CNNObjective(Objective):
    """A CNN on MNIST, Fashion-MNIST or scikit-learn's digits; the value is minimised.

    Args:
        space: the search space; names among ``lr, batch_size, dropout, weight_decay, epochs,
            max_train_images``.
        name: a short name for reports.
        dataset: ``mnist``, ``fashion_mnist`` or ``digits`` (bundled with scikit-learn, 8×8).
        root: the folder with the IDX files, in torchvision's layout (``ROOT/MNIST/raw/...``) or
            flat; a relative path is taken from the directory the user launched from.
        download: fetch MNIST / Fashion-MNIST into ``root`` with torchvision when missing.
        max_train_images: train on at most this many images an epoch (null: all); a budget knob.
        val_fraction: the share of the training files held out for validation.
        val_images: the number held out for validation (overrides ``val_fraction``).
        max_test_images: score the final network on at most this many test images (0: none).
        split_seed: seeds the validation split and the subsets, fixed across evaluations.
        epochs, batch_size, lr, dropout, weight_decay: training settings; params override them.
        channels: output channels of the convolution blocks (each halves the image size).
        hidden: units of the fully-connected hidden layer.
        metric: ``val_loss`` or ``neg_val_accuracy`` of the final epoch.
        device: ``auto`` (cuda, else mps, else cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        threads: torch's intra-op threads during an evaluation (null: leave torch's setting).
        deterministic: ask torch for deterministic algorithms during an evaluation.
        checkpoint: in a run, save model, optimiser, epoch and RNG states after every epoch to
            ``<run folder>/evals/<eval_id>/checkpoint.pt`` (:mod:`objectives.checkpoint`), so that
            a re-run of the evaluation (a requeued Slurm job, a retried attempt, a resumed run)
            continues from its last epoch; the file goes when the evaluation has trained all its
            epochs, diverged or raised (one a scheduler stopped or left paused keeps it). On the
            CPU a continued evaluation ends with the same value and metrics as an uninterrupted one
            (``epoch_seconds`` aside; ``resumed_from_epoch`` says where it went on).
    """

    name = "cnn"
    optimum = None

    def __init__(
        self,
        space: Mapping[str, Any] | Space,
        name: str = "cnn",
        dataset: str = "mnist",
        root: str = "data/mnist",
        download: bool = False,
        max_train_images: int | None = None,
        val_fraction: float = 0.1,
        val_images: int | None = None,
        max_test_images: int | None = None,
        split_seed: int = 0,
        epochs: int = 2,
        batch_size: int = 64,
        lr: float = 5e-4,
        dropout: float = 0.25,
        weight_decay: float = 0.0,
        channels: Sequence[int] = (16, 32),
        hidden: int = 128,
        metric: str = "neg_val_accuracy",
        device: str = "auto",
        threads: int | None = None,
        deterministic: bool = True,
        checkpoint: bool = True,
    ) -> None:
        super().__init__(space, name)
        if dataset not in DATASETS:
            raise UserError(f"objective.dataset: unknown data set {dataset!r} (use {', '.join(DATASETS)})")
        if metric not in METRICS:
            raise UserError(f"objective.metric: unknown metric {metric!r} (use {', '.join(METRICS)})")
        device = str(device)
        if device not in DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
            raise UserError(f"objective.device: unknown device {device!r} (use {', '.join(DEVICES)} or cuda:N)")
        for key, flag in (("download", download), ("deterministic", deterministic), ("checkpoint", checkpoint)):
            if not isinstance(flag, bool):
                raise UserError(f"objective.{key}: must be true or false, got {flag!r}")
        val_fraction = _check_fraction("objective.val_fraction", val_fraction)
        checked_channels = _check_channels("objective.channels", channels)
        self.dataset = dataset
        self.root = os.path.normpath(launch_dir() / Path(str(root)).expanduser())  # absolute for workers
        self.download = download
        self.val_fraction = val_fraction
        self.val_images = _check_optional_int("objective.val_images", val_images, 1)
        self.max_test_images = _check_optional_int("objective.max_test_images", max_test_images, 0)
        self.split_seed = _check_int("objective.split_seed", split_seed, 0)
        self.channels = checked_channels
        self.hidden = _check_int("objective.hidden", hidden, 1)
        self.metric = metric
        self.device = device
        self.threads = _check_optional_int("objective.threads", threads, 1)
        self.deterministic = deterministic
        self.checkpoint = checkpoint
        #: The run folder (set by the driver); checkpoints go under it, none outside a run.
        self.run_dir: str | None = None
        given = {
            "lr": lr,
            "batch_size": batch_size,
            "dropout": dropout,
            "weight_decay": weight_decay,
            "epochs": epochs,
            "max_train_images": max_train_images,
        }
        self.defaults = {k: check_hyperparameter(f"objective.{k}", k, v) for k, v in given.items()}
        _check_space(self.space)
        if "epochs" not in self.space.names:  # epochs are the resource a scheduler (scheduler=asha) spends
            self.fidelity = Fidelity(
                "epochs", minimum=1, maximum=float(self.defaults["epochs"] or 1), integer=True, checkpoints=checkpoint
            )
        self.shape: DataShape | None = None
        if dataset == "digits" or not download or files_present(dataset, Path(self.root)):
            self.shape = self._check_shape(check_files(dataset, Path(self.root)))
        self._arrays: ImageArrays | None = None
        self._data: dict[str, Any] | None = None

    # -- data -------------------------------------------------------------------------------

    def _n_val(self, n_train: int) -> int:
        return self.val_images if self.val_images is not None else round(self.val_fraction * n_train)

    def _check_shape(self, shape: DataShape) -> DataShape:
        n_val = self._n_val(shape.n_train)
        field = "objective.val_images" if self.val_images is not None else "objective.val_fraction"
        if not 1 <= n_val < shape.n_train:
            raise UserError(
                f"{field}: {n_val} validation images out of {shape.n_train} training images"
                " leaves no training or no validation images"
            )
        smallest = min(shape.image_shape)
        if smallest < 2 ** len(self.channels):
            raise UserError(
                f"objective.channels: {len(self.channels)} pooling blocks need images of at least"
                f" {2 ** len(self.channels)} pixels a side; these are {shape.image_shape[0]}×{shape.image_shape[1]}"
            )
        return shape

    def _ensure_files(self) -> None:
        root = Path(self.root)
        if self.dataset != "digits" and self.download and not files_present(self.dataset, root):
            download(self.dataset, root)

    def validate(self) -> None:
        """Downloads when asked, then reads and checks every file, before any evaluation.

        The driver calls this once, in its own process; the arrays it reads are kept for
        :meth:`setup` in the same process and never pickled.

        Raises:
            UserError: a one-line message naming the file (or field) and what is wrong.
        """
        self._ensure_files()
        self.shape = self._check_shape(check_files(self.dataset, Path(self.root)))
        arrays = load_arrays(self.dataset, Path(self.root))
        if self._data is None:  # not set up yet: keep them for setup()
            self._arrays = arrays

    def setup(self) -> None:
        """Loads the data set onto the device as normalised float tensors (once per worker)."""
        import torch

        if self._data is not None:
            return
        if self._arrays is None:
            self.validate()
        arrays = self._arrays
        assert arrays is not None and self.shape is not None
        device = resolve_device(torch, self.device)
        if self.deterministic and device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        rng = np.random.default_rng(self.split_seed)
        order = rng.permutation(len(arrays.x_train))
        n_val = self._n_val(len(arrays.x_train))
        val_idx, pool_idx = order[:n_val], order[n_val:]
        test_idx = np.arange(len(arrays.x_test))
        if self.max_test_images is not None and self.max_test_images < len(test_idx):
            test_idx = np.sort(rng.permutation(len(test_idx))[: self.max_test_images])
        pool = arrays.x_train[pool_idx].astype(np.float32) / arrays.scale
        mean, std = float(pool.mean()), float(pool.std()) or 1.0

        def tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            x = (x.astype(np.float32) / arrays.scale - mean) / std
            xt = torch.from_numpy(np.ascontiguousarray(x[:, None])).to(device)
            return xt, torch.from_numpy(np.ascontiguousarray(y)).to(device)

        self._data = {
            "device": device,
            "train": tensors(arrays.x_train[pool_idx], arrays.y_train[pool_idx]),
            "val": tensors(arrays.x_train[val_idx], arrays.y_train[val_idx]),
            "test": tensors(arrays.x_test[test_idx], arrays.y_test[test_idx]),
            "image_shape": tuple(arrays.x_train.shape[1:]),
            "n_classes": arrays.n_classes,
        }
        self._arrays = None  # the tensors hold what is needed

    def set_run_dir(self, run_dir: Path) -> None:
        self.run_dir = str(Path(run_dir).absolute())

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_arrays"] = state["_data"] = None  # workers load their own copy in setup()
        return state

    # -- evaluation -------------------------------------------------------------------------

    def hyperparameters(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The config's training settings with ``params`` laid over them, checked."""
        unknown = set(params) - set(HYPERPARAMETERS)
        if unknown:
            raise UserError(f"params: unknown parameter(s) {sorted(unknown)} for the cnn objective")
        merged = dict(self.defaults)
        for key, value in params.items():
            merged[key] = check_hyperparameter(f"params.{key}", key, value)
        return merged

    def __call__(self, params: dict[str, Any], seed: int) -> Evaluation:
        import torch

        hp = self.hyperparameters(params)
        if self._data is None:
            self.setup()
        assert self._data is not None
        with torch_settings(torch, self._data["device"], self.threads, self.deterministic):
            try:
                return self._train(torch, hp, int(seed))
            except (Exception, EvaluationTimeout):  # status error or timeout: never run again, nothing resumes it
                saved = self._checkpoint_file()
                if saved is not None:
                    checkpoint.discard(saved)
                raise  # a stop (the driver's signal, a Slurm preemption) keeps it for the re-run

    def _train(self, torch: Any, hp: dict[str, Any], seed: int) -> Evaluation:
        data = self._data
        assert data is not None
        device = data["device"]
        x_train, y_train = data["train"]
        if hp["max_train_images"] is not None:
            x_train, y_train = x_train[: hp["max_train_images"]], y_train[: hp["max_train_images"]]
        n = len(x_train)
        training = self._fresh(torch, hp, seed, device)
        loss_fn = torch.nn.CrossEntropyLoss()
        batch = hp["batch_size"]
        metrics: dict[str, Any] = {
            "train_loss": [],
            "train_accuracy": [],
            "val_loss": [],
            "val_accuracy": [],
            "epoch_seconds": [],
            "n_train": n,
            "n_val": len(data["val"][0]),
            "device": str(device),
        }
        rep = reporter()  # under a scheduler: how many epochs to run, and where each epoch's value goes
        until = round(rep.until(hp["epochs"]))
        saved = self._checkpoint_file()
        key = self._checkpoint_key(hp, seed, n, device)
        first = self._restore(torch, saved, key, until, training, metrics)
        if first < 0:  # a checkpoint that did not fit, partly loaded: as a fresh evaluation
            training, first = self._fresh(torch, hp, seed, device), 0
        model, optimizer, order_rng = training
        for epoch in range(first, until):
            t0 = time.perf_counter()
            model.train()
            perm = torch.randperm(n, generator=order_rng).to(device)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.long, device=device)
            for start in range(0, n, batch):
                idx = perm[start : start + batch]
                xb, yb = x_train[idx], y_train[idx]
                optimizer.zero_grad(set_to_none=True)
                out = model(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach() * len(idx)
                correct += (out.detach().argmax(1) == yb).sum()
            train_loss = loss_sum.item() / n
            metrics["train_loss"].append(train_loss)
            metrics["train_accuracy"].append(correct.item() / n)
            val_loss, val_accuracy = score(torch, model, *data["val"])
            metrics["val_loss"].append(val_loss)
            metrics["val_accuracy"].append(val_accuracy)
            metrics["epoch_seconds"].append(time.perf_counter() - t0)
            if epoch + 1 > rep.start:  # an evaluation without its checkpoint trains again from 0
                rep.report(epoch + 1, val_loss if self.metric == "val_loss" else -val_accuracy, val_loss=val_loss)
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                metrics["diverged_epoch"] = epoch + 1
                if saved is not None:
                    checkpoint.discard(saved)
                return Evaluation(value=math.nan, metrics=metrics)
            if saved is not None:
                self._save(torch, saved, key, epoch + 1, training, metrics)
        if len(data["test"][0]):
            metrics["test_loss"], metrics["test_accuracy"] = score(torch, model, *data["test"])
            metrics["n_test"] = len(data["test"][0])
        value = metrics["val_loss"][-1] if self.metric == "val_loss" else -metrics["val_accuracy"][-1]
        if saved is not None and until >= hp["epochs"]:  # trained in full (a scheduler's segment keeps it)
            checkpoint.discard(saved)
        return Evaluation(value=value, metrics=metrics)

    def _fresh(self, torch: Any, hp: Mapping[str, Any], seed: int, device: torch.device) -> Training:
        """A new network, its optimiser and the generator of the epochs' orders, all from ``seed``."""
        data = self._data
        assert data is not None
        torch.manual_seed(seed)
        model = build_network(
            torch, data["image_shape"], data["n_classes"], self.channels, self.hidden, hp["dropout"]
        ).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
        return Training(model, optimizer, torch.Generator().manual_seed(seed))

    # -- checkpoints --------------------------------------------------------------------------

    def _checkpoint_file(self) -> Path | None:
        """This evaluation's checkpoint file, or None (checkpoints off, outside a run or an evaluation)."""
        task = current_task()
        if not self.checkpoint or self.run_dir is None or task is None:
            return None
        return checkpoint.checkpoint_path(self.run_dir, task.eval_id)

    def _checkpoint_key(self, hp: Mapping[str, Any], seed: int, n: int, device: torch.device) -> dict[str, Any]:
        """What a checkpoint belongs to: one of anything else is ignored."""
        return {
            "hyperparameters": {k: hp[k] for k in sorted(hp)},
            "seed": seed,
            "dataset": self.dataset,
            "n_train": n,
            "split_seed": self.split_seed,
            "val_images": self._n_val(self.shape.n_train) if self.shape is not None else None,
            "channels": list(self.channels),
            "hidden": self.hidden,
            "device": device.type,
        }

    def _restore(
        self,
        torch: Any,
        path: Path | None,
        key: dict[str, Any],
        until: int,
        training: Training,
        metrics: dict[str, Any],
    ) -> int:
        """Loads the checkpoint of this very evaluation into the training state and returns its epoch.

        Returns 0 where there is none to use (the state is untouched), -1 where one failed to load
        partway (the caller builds the state afresh).
        """
        state = checkpoint.load(torch, path) if path is not None else None
        if state is None:
            return 0
        epoch, saved = state.get("epoch"), state.get("metrics")
        if not (
            state.get("format") == CHECKPOINT_FORMAT
            and state.get("key") == key
            and isinstance(epoch, int)
            and 1 <= epoch <= until
            and isinstance(saved, dict)
            and all(isinstance(saved.get(m), list) and len(saved[m]) == epoch for m in EPOCH_METRICS)
        ):  # another evaluation's, an older bobench's, or further than asked: start over
            return 0
        model, optimizer, order_rng = training
        try:
            history = {m: [float(v) for v in saved[m]] for m in EPOCH_METRICS}
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            rng = state["rng"]
            torch.set_rng_state(rng["torch"])
            if rng.get("cuda") is not None and model_device(model).type == "cuda":
                torch.cuda.set_rng_state(rng["cuda"], model_device(model))
            order_rng.set_state(rng["order"])
        except Exception as exc:  # shapes or states that do not fit: never trusted, start over
            print(f"bobench: warning: ignoring checkpoint {path} ({type(exc).__name__}: {exc})", file=sys.stderr)
            return -1
        metrics.update(history)
        metrics["resumed_from_epoch"] = epoch
        return epoch

    def _save(
        self,
        torch: Any,
        path: Path,
        key: dict[str, Any],
        epoch: int,
        training: Training,
        metrics: dict[str, Any],
    ) -> None:
        model, optimizer, order_rng = training
        device = model_device(model)
        rng = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "order": order_rng.get_state(),
        }
        state = {
            "format": CHECKPOINT_FORMAT,
            "key": key,
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": rng,
            "metrics": {m: list(metrics[m]) for m in EPOCH_METRICS},
        }
        checkpoint.save(torch, path, state)


class Training(NamedTuple):
    """What an evaluation trains and what a checkpoint saves of it besides the metrics."""

    model: Any
    optimizer: Any
    order_rng: Any  # the generator of each epoch's batch order


def model_device(model: Any) -> torch.device:
    """The device a network's parameters are on."""
    return next(model.parameters()).device


def score(torch: Any, model: Any, x: Any, y: Any) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` (in eval mode) on ``(x, y)``."""
    model.eval()
    loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    with torch.inference_mode():
        for start in range(0, len(x), EVAL_CHUNK):
            out = model(x[start : start + EVAL_CHUNK])
            yb = y[start : start + EVAL_CHUNK]
            loss += torch.nn.functional.cross_entropy(out, yb, reduction="sum")
            correct += (out.argmax(1) == yb).sum()
    return loss.item() / len(x), correct.item() / len(x)
