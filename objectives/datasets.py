"""Image data sets for the CNN objective: MNIST and Fashion-MNIST from IDX files, and digits.

The functions here return numpy arrays only (no torch): :func:`check_files` reads headers
(cheap, for an objective's constructor), :func:`load_arrays` reads everything and checks it,
:func:`download` fetches MNIST-style files with torchvision, the only place that imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import UserError
from objectives.idx import (
    IMAGES,
    LABELS,
    TORCHVISION_FOLDERS,
    IdxHeader,
    check_pair,
    check_size,
    find_idx_files,
    read_header,
    read_idx,
)

DATASETS = ("mnist", "fashion_mnist", "digits")
N_CLASSES = 10
DIGITS_TEST = 300  # the last 300 of scikit-learn's 1,797 digits are the held-back test set


@dataclass(frozen=True)
class ImageArrays:
    """A data set in memory.

    Attributes:
        x_train, x_test: images, ``(n, rows, columns)``, integers from 0 to ``scale``.
        y_train, y_test: labels, ``(n,)``, 0 to ``n_classes - 1``.
        scale: the brightest pixel value (255 for IDX, 16 for digits).
        n_classes: the number of classes.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    scale: float
    n_classes: int = N_CLASSES


@dataclass(frozen=True)
class DataShape:
    """What the headers say: training and test image counts and the image size."""

    n_train: int
    n_test: int
    image_shape: tuple[int, int]


def check_files(dataset: str, root: Path) -> DataShape:
    """Checks that the data set's files exist and their headers agree, reading a few bytes each.

    Raises:
        UserError: a missing folder or file, a wrong magic number, a file shorter or longer than
            its header says, image and label counts that differ, train and test image sizes that
            differ.
    """
    if dataset == "digits":
        return DataShape(n_train=1797 - DIGITS_TEST, n_test=DIGITS_TEST, image_shape=(8, 8))
    files = find_idx_files(root, dataset)
    headers: dict[str, tuple[IdxHeader, IdxHeader]] = {}
    for split, (images_path, labels_path) in files.items():
        images, labels = read_header(images_path, IMAGES), read_header(labels_path, LABELS)
        check_size(images)
        check_size(labels)
        check_pair(images, labels)
        headers[split] = (images, labels)
    train, test = headers["train"][0], headers["test"][0]
    if train.shape[1:] != test.shape[1:]:
        raise UserError(
            f"{test.path}: images are {'×'.join(map(str, test.shape[1:]))} but the training images"
            f" in {train.path.name} are {'×'.join(map(str, train.shape[1:]))}"
        )
    rows, cols = train.shape[1:]
    return DataShape(n_train=train.count, n_test=test.count, image_shape=(rows, cols))


def files_present(dataset: str, root: Path) -> bool:
    """Whether :func:`find_idx_files` finds all four files (no checks of their contents)."""
    try:
        find_idx_files(root, dataset)
    except UserError:
        return False
    return True


def _load_idx(dataset: str, root: Path) -> ImageArrays:
    check_files(dataset, root)
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, (images_path, labels_path) in find_idx_files(root, dataset).items():
        x, y = read_idx(images_path, IMAGES), read_idx(labels_path, LABELS)
        if len(x) != len(y):  # the headers agreed; the data cannot disagree, but be safe
            raise UserError(f"{labels_path}: {len(y)} labels but {images_path.name} holds {len(x)} images")
        if y.size and int(y.max()) >= N_CLASSES:
            bad = int(np.argmax(y >= N_CLASSES))
            raise UserError(f"{labels_path}: label {int(y[bad])} at item {bad} is not a class 0..{N_CLASSES - 1}")
        arrays[split] = (x, y.astype(np.int64))
    return ImageArrays(*arrays["train"], *arrays["test"], scale=255.0)


def _load_digits() -> ImageArrays:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.images.astype(np.uint8)  # integers 0..16
    y = digits.target.astype(np.int64)
    cut = len(x) - DIGITS_TEST
    return ImageArrays(x[:cut], y[:cut], x[cut:], y[cut:], scale=16.0)


def load_arrays(dataset: str, root: Path) -> ImageArrays:
    """Reads a whole data set and checks every file (a damaged gzip stream, labels out of range)."""
    if dataset == "digits":
        return _load_digits()
    return _load_idx(dataset, root)


def download(dataset: str, root: Path) -> None:
    """Downloads MNIST or Fashion-MNIST into ``root`` in torchvision's layout.

    Raises:
        UserError: torchvision cannot be imported, or the download fails (no network...).
    """
    if dataset not in TORCHVISION_FOLDERS:
        return
    try:
        import torchvision.datasets as tv_datasets  # optional extra: bobench[vision]
    except Exception as exc:  # ImportError or a broken install: both unusable
        raise UserError(torchvision_unusable(exc, f"put the {dataset} IDX files under {root} yourself")) from exc
    cls = {"mnist": tv_datasets.MNIST, "fashion_mnist": tv_datasets.FashionMNIST}[dataset]
    root.mkdir(parents=True, exist_ok=True)
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as exc:  # network and disk errors alike end the run here
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"objective.download: could not download {dataset} into {root}: {reason}") from exc


#: pytorch.org's index of CPU builds (torch and torchvision built for each other).
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def torchvision_unusable(exc: BaseException, otherwise: str) -> str:
    """One line on why ``import torchvision`` failed and what to install instead.

    torchvision's compiled operators are built for one torch build: PyPI's wheel, beside a CPU
    build of torch (``torch==2.13.0+cpu``), fails with "operator torchvision::nms does not exist".

    Args:
        exc: what the import raised.
        otherwise: the alternative to installing, e.g. "put the mnist IDX files under data/ yourself".
    """
    from importlib.metadata import PackageNotFoundError, version

    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    try:
        tv_version = version("torchvision")
    except PackageNotFoundError:
        tv_version = None
    if isinstance(exc, ImportError) or tv_version is None:
        return (
            f"objective.download: torchvision is not usable here ({reason}); install the extra"
            f" (pip install 'bobench[vision]') or {otherwise}"
        )
    try:
        torch_version = version("torch")
        import torch

        cpu_build = torch.version.cuda is None and not getattr(torch.version, "hip", None)
    except Exception:  # a torch that cannot load: nothing more to say than the reason
        torch_version, cpu_build = "?", False
    if cpu_build:
        base = tv_version.split("+")[0]
        return (
            f"objective.download: torchvision {tv_version} cannot load beside the CPU build of torch {torch_version}"
            f" ({reason}); install torchvision's CPU build: pip install torchvision=={base}+cpu --index-url"
            f" {CPU_INDEX} (docs/install.md), or {otherwise}"
        )
    return (
        f"objective.download: torchvision {tv_version} cannot load beside torch {torch_version} ({reason});"
        f" install the torchvision built for that torch (docs/install.md), or {otherwise}"
    )
