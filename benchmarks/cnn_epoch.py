"""Seconds per training epoch of the CNN objective at 1,000, 2,000 and 10,000 images.

The 2,000 real images of ``../shared/data/mnist-tiny`` are repeated to 10,500 training
images (plus 500 for validation) and written as IDX files to a temporary folder, so the
timing goes through the objective's own loader; without that folder, random 28×28 images
are used (the speed of a CNN does not depend on what the pixels show).

Usage (from the project root)::

    PYTHONPATH=. python benchmarks/cnn_epoch.py [--threads 2] [--epochs 3] [--batch-size 64]

An epoch's time is its training pass plus the validation pass (500 images); the minimum and
the median over the epochs are printed, with the first evaluation discarded as warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from objectives.cnn import CNNObjective
from objectives.idx import IMAGES, LABELS, find_idx_files, read_idx, write_idx

TINY = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist-tiny"
SIZES = (1000, 2000, 10000)
N_VAL = 500


def make_data(folder: Path) -> str:
    """Writes 11,000 training and 1,000 test images as flat, uncompressed IDX files."""
    n_train = max(SIZES) + N_VAL + 500
    rng = np.random.default_rng(0)
    if (TINY / "train-images-idx3-ubyte.gz").is_file():
        files = find_idx_files(TINY, "mnist")
        x, y = read_idx(files["train"][0], IMAGES), read_idx(files["train"][1], LABELS)
        x_test, y_test = read_idx(files["test"][0], IMAGES), read_idx(files["test"][1], LABELS)
        reps = -(-n_train // len(x))
        x, y = np.tile(x, (reps, 1, 1))[:n_train], np.tile(y, reps)[:n_train]
        source = f"real MNIST images from {TINY} repeated to {n_train}"
    else:
        x = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n_train).astype(np.uint8)
        x_test, y_test = x[:1000], y[:1000]
        source = f"{n_train} random 28×28 images ({TINY} not found)"
    write_idx(folder / "train-images-idx3-ubyte", x)
    write_idx(folder / "train-labels-idx1-ubyte", y)
    write_idx(folder / "t10k-images-idx3-ubyte", x_test)
    write_idx(folder / "t10k-labels-idx1-ubyte", y_test)
    return source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    space = {"lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True}}
    with tempfile.TemporaryDirectory() as tmp:
        source = make_data(Path(tmp))
        objective = CNNObjective(
            space,
            root=tmp,
            val_images=N_VAL,
            max_test_images=0,
            batch_size=args.batch_size,
            device="cpu",
            threads=args.threads,
        )
        t0 = time.perf_counter()
        objective.validate()
        objective.setup()
        print(f"data: {source}; loaded in {time.perf_counter() - t0:.2f} s")
        print(
            f"network: channels {list(objective.channels)}, hidden {objective.hidden};"
            f" batch {args.batch_size}; threads {args.threads}; device cpu"
        )
        objective({"lr": 5e-4, "epochs": 1, "max_train_images": 500}, seed=0)  # warm-up
        print(f"{'images':>8} {'min s/epoch':>12} {'median s/epoch':>15} {'ms/image':>9}")
        for n in SIZES:
            result = objective({"lr": 5e-4, "epochs": args.epochs, "max_train_images": n}, seed=0)
            seconds = result.metrics["epoch_seconds"]
            best = min(seconds)
            print(f"{n:>8} {best:>12.3f} {statistics.median(seconds):>15.3f} {1000 * best / n:>9.3f}")


if __name__ == "__main__":
    main()
