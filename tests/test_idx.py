"""IDX reading and MNIST discovery: happy paths and every bad-data case with its message."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from bench.errors import UserError
from objectives.datasets import check_files, load_arrays
from objectives.idx import (
    IMAGES,
    LABELS,
    check_size,
    find_idx_files,
    read_header,
    read_idx,
    write_idx,
)

TRAIN_X, TRAIN_Y = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_X, TEST_Y = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file written by hand, independently of objectives.idx.write_idx."""
    array = np.asarray(array, dtype=np.uint8)
    head = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return head + array.tobytes()


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def make_set(folder: Path, gz: bool, n_train: int = 6, n_test: int = 4, side: int = 5) -> dict:
    """Writes a tiny, valid MNIST-style set; returns the arrays by file stem."""
    rng = np.random.default_rng(1)
    arrays = {
        TRAIN_X: rng.integers(0, 256, (n_train, side, side)),
        TRAIN_Y: rng.integers(0, 10, n_train),
        TEST_X: rng.integers(0, 256, (n_test, side, side)),
        TEST_Y: rng.integers(0, 10, n_test),
    }
    for stem, array in arrays.items():
        put(folder / (stem + ".gz" * gz), idx_bytes(array))
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_returns_the_array(tmp_path: Path, gz: bool) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = put(tmp_path / ("x.idx" + ".gz" * gz), idx_bytes(array))
    header = read_header(path, IMAGES)
    assert header.shape == (2, 3, 4) and header.magic == 0x00000803
    check_size(header)
    got = read_idx(path, IMAGES)
    assert got.dtype == np.uint8 and np.array_equal(got, array)


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_write_idx_matches_the_format(tmp_path: Path, name: str) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = write_idx(tmp_path / name, array)
    raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    assert raw == idx_bytes(array)
    assert np.array_equal(read_idx(path), array)


def test_read_idx_big_endian_types(tmp_path: Path) -> None:
    values = np.array([1, -2, 70000], dtype=">i4")
    path = put(tmp_path / "i.idx", bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + values.tobytes())
    assert read_idx(path).tolist() == [1, -2, 70000]


@pytest.mark.parametrize("gz", [False, True])
def test_flat_folder(tmp_path: Path, gz: bool) -> None:
    arrays = make_set(tmp_path, gz)
    files = find_idx_files(tmp_path, "mnist")
    assert files["train"] == (tmp_path / (TRAIN_X + ".gz" * gz), tmp_path / (TRAIN_Y + ".gz" * gz))
    data = load_arrays("mnist", tmp_path)
    assert np.array_equal(data.x_train, arrays[TRAIN_X]) and np.array_equal(data.y_test, arrays[TEST_Y])
    assert data.scale == 255.0


@pytest.mark.parametrize(("dataset", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_torchvision_layout(tmp_path: Path, dataset: str, folder: str) -> None:
    arrays = make_set(tmp_path / folder / "raw", gz=True)
    shape = check_files(dataset, tmp_path)
    assert (shape.n_train, shape.n_test, shape.image_shape) == (6, 4, (5, 5))
    assert np.array_equal(load_arrays(dataset, tmp_path).x_test, arrays[TEST_X])


def test_uncompressed_file_wins_over_gz(tmp_path: Path) -> None:
    make_set(tmp_path, gz=True)
    make_set(tmp_path, gz=False)
    assert all(p.suffix != ".gz" for pair in find_idx_files(tmp_path, "mnist").values() for p in pair)


def test_mnist_layout_does_not_serve_fashion(tmp_path: Path) -> None:
    make_set(tmp_path / "MNIST" / "raw", gz=True)
    with pytest.raises(UserError, match=r"no train-images-idx3-ubyte\[\.gz\] in .*FashionMNIST"):
        find_idx_files(tmp_path, "fashion_mnist")


def one_line(exc: pytest.ExceptionInfo[UserError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(UserError) as exc:
        check_files("mnist", tmp_path / "nowhere")
    assert one_line(exc) == (
        f"objective.root: {tmp_path / 'nowhere'} does not exist; point it at the mnist IDX files"
        " or set objective.download=true"
    )


def test_root_without_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"objective\.root: no train-images-idx3-ubyte\[\.gz\] in"):
        check_files("mnist", tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    make_set(tmp_path, gz=True)
    (tmp_path / (TEST_Y + ".gz")).unlink()
    with pytest.raises(UserError) as exc:
        check_files("mnist", tmp_path)
    assert one_line(exc) == f"{tmp_path / TEST_Y}[.gz]: file not found (needed for the test split)"


@pytest.mark.parametrize("gz", [False, True])
def test_labels_where_images_belong(tmp_path: Path, gz: bool) -> None:
    make_set(tmp_path, gz)
    name = TRAIN_X + ".gz" * gz
    put(tmp_path / name, idx_bytes(np.zeros(6)))
    with pytest.raises(UserError) as exc:
        check_files("mnist", tmp_path)
    assert one_line(exc) == (
        f"{tmp_path / name}: wrong IDX magic number 0x00000801, expected 0x00000803 (unsigned bytes, 3 dimensions)"
    )


def test_not_an_idx_file(tmp_path: Path) -> None:
    make_set(tmp_path, gz=False)
    put(tmp_path / TRAIN_Y, b"PK\x03\x04 not idx at all")
    with pytest.raises(UserError, match=r"train-labels-idx1-ubyte: bad IDX magic number 0x504B0304"):
        check_files("mnist", tmp_path)


def test_gz_name_but_not_gzip(tmp_path: Path) -> None:
    make_set(tmp_path, gz=True)
    (tmp_path / (TRAIN_X + ".gz")).write_bytes(idx_bytes(np.zeros((6, 5, 5))))
    with pytest.raises(
        UserError, match=r"train-images-idx3-ubyte\.gz: cannot read the IDX magic number: not a gzip file"
    ):
        check_files("mnist", tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    make_set(tmp_path, gz=False)
    (tmp_path / TEST_X).write_bytes(b"")
    with pytest.raises(UserError) as exc:
        check_files("mnist", tmp_path)
    assert one_line(exc) == f"{tmp_path / TEST_X}: truncated: the file ends inside the IDX magic number (0 of 4 bytes)"


def test_file_ends_in_header(tmp_path: Path) -> None:
    make_set(tmp_path, gz=False)
    put(tmp_path / TEST_X, idx_bytes(np.zeros((4, 5, 5)))[:9])
    with pytest.raises(UserError, match=r"truncated: the file ends inside the IDX header \(5 of 12 bytes\)"):
        check_files("mnist", tmp_path)


def test_truncated_raw_file(tmp_path: Path) -> None:
    make_set(tmp_path, gz=False)
    data = idx_bytes(np.zeros((6, 5, 5)))
    put(tmp_path / TRAIN_X, data[:-7])
    with pytest.raises(UserError) as exc:
        check_files("mnist", tmp_path)
    assert one_line(exc) == (
        f"{tmp_path / TRAIN_X}: truncated: the header announces 6×5×5 items (166 bytes) but the file holds 159 bytes"
    )


def test_truncated_gzip_file(tmp_path: Path) -> None:
    make_set(tmp_path, gz=True)
    path = tmp_path / (TRAIN_X + ".gz")
    compressed = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (6, 5, 5))))
    path.write_bytes(compressed[: len(compressed) // 2 + 10])
    with pytest.raises(UserError) as exc:
        check_files("mnist", tmp_path)
    assert one_line(exc) == f"{path}: truncated gzip data (the compressed stream ends early)"


def test_gzip_with_too_few_items(tmp_path: Path) -> None:
    make_set(tmp_path, gz=True)
    path = tmp_path / (TRAIN_X + ".gz")
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((6, 5, 5)))[:-25]))  # a whole image short
    with pytest.raises(UserError, match=r"truncated: .* but the uncompressed file holds 141 bytes"):
        check_files("mnist", tmp_path)


def test_damaged_gzip_found_by_full_read(tmp_path: Path) -> None:
    make_set(tmp_path, gz=True)
    path = tmp_path / (TRAIN_X + ".gz")
    raw = bytearray(gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (6, 5, 5)))))
    raw[40] ^= 0xFF  # inside the deflate stream; the trailer is intact
    path.write_bytes(bytes(raw))
    check_files("mnist", tmp_path)  # headers and trailer look fine
    with pytest.raises(UserError) as exc:
        load_arrays("mnist", tmp_path)
    assert one_line(exc).startswith(f"{path}: ")
    assert "gzip" in str(exc.value)


def test_bytes_after_the_data(tmp_path: Path) -> None:
    make_set(tmp_path, gz=False)
    put(tmp_path / TEST_Y, idx_bytes(np.zeros(4)) + b"xyz")
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte: 3 bytes after the 4 items"):
        check_files("mnist", tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_image_and_label_counts_differ(tmp_path: Path, gz: bool) -> None:
    make_set(tmp_path, gz)
    name = TRAIN_Y + ".gz" * gz
    put(tmp_path / name, idx_bytes(np.zeros(5)))
    with pytest.raises(UserError) as exc:
        check_files("mnist", tmp_path)
    assert one_line(exc) == f"{tmp_path / name}: 5 labels but {TRAIN_X + '.gz' * gz} holds 6 images"


def test_label_out_of_range(tmp_path: Path) -> None:
    make_set(tmp_path, gz=False)
    put(tmp_path / TEST_Y, idx_bytes(np.array([1, 2, 3, 12])))
    check_files("mnist", tmp_path)
    with pytest.raises(UserError, match=r"t10k-labels-idx1-ubyte: label 12 at item 3 is not a class 0\.\.9"):
        load_arrays("mnist", tmp_path)


def test_train_and_test_sizes_differ(tmp_path: Path) -> None:
    make_set(tmp_path, gz=False)
    put(tmp_path / TEST_X, idx_bytes(np.zeros((4, 6, 5))))
    with pytest.raises(UserError, match=r"t10k-images-idx3-ubyte: images are 6×5 but the training images"):
        check_files("mnist", tmp_path)


def test_empty_dimension(tmp_path: Path) -> None:
    path = put(tmp_path / "x.idx", bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 0, 5))
    with pytest.raises(UserError, match=r"empty dimension \[2, 0, 5\]"):
        read_header(path, IMAGES)


def test_labels_file_reads(tmp_path: Path) -> None:
    path = put(tmp_path / "y.gz", idx_bytes(np.array([3, 1, 4])))
    assert read_idx(path, LABELS).tolist() == [3, 1, 4]
