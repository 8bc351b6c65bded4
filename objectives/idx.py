"""IDX files (the MNIST format): reading, checking, writing, and finding them under a root.

An IDX file is a 4-byte magic number (two zero bytes, a data-type byte, the number of
dimensions), one big-endian uint32 per dimension, then the data in C order. MNIST and
Fashion-MNIST ship images as ``0x00000803`` (uint8, 3 dimensions: count, rows, columns) and
labels as ``0x00000801`` (uint8, 1 dimension), gzipped or not.

Every problem with a file is a :class:`~bench.errors.UserError` whose one-line message starts
with the file's path and says what is wrong. :func:`read_header` and :func:`check_size` are
cheap (a few bytes read; a gzip file's size comes from its trailer); :func:`read_idx` reads all.
"""

from __future__ import annotations

import gzip
import io
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import UserError

# IDX data-type byte -> (numpy dtype, item size, description).
IDX_TYPES: dict[int, tuple[str, int, str]] = {
    0x08: ("u1", 1, "unsigned bytes"),
    0x09: ("i1", 1, "signed bytes"),
    0x0B: (">i2", 2, "int16"),
    0x0C: (">i4", 4, "int32"),
    0x0D: (">f4", 4, "float32"),
    0x0E: (">f8", 8, "float64"),
}
IMAGES = (0x08, 3)  # (type byte, dimensions) of an image file
LABELS = (0x08, 1)  # ... and of a label file

# Split -> (images, labels) file stems, as MNIST and Fashion-MNIST name them.
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Data set -> torchvision's folder name (ROOT/<folder>/raw/<files>).
TORCHVISION_FOLDERS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}

_CHUNK = 1 << 20


@dataclass(frozen=True)
class IdxHeader:
    """The header of one IDX file.

    Attributes:
        path: the file.
        type_code: the data-type byte (0x08 for unsigned bytes).
        shape: the dimensions, first the number of items.
    """

    path: Path
    type_code: int
    shape: tuple[int, ...]

    @property
    def magic(self) -> int:
        return (self.type_code << 8) | len(self.shape)

    @property
    def header_bytes(self) -> int:
        return 4 + 4 * len(self.shape)

    @property
    def nbytes(self) -> int:
        """The whole file's size (uncompressed) that the header announces."""
        return self.header_bytes + math.prod(self.shape) * IDX_TYPES[self.type_code][1]

    @property
    def count(self) -> int:
        return self.shape[0]


def _describe(expect: tuple[int, int]) -> str:
    code, ndim = expect
    return f"0x{(code << 8) | ndim:08X} ({IDX_TYPES[code][2]}, {ndim} dimension{'s' * (ndim != 1)})"


def _open(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_exact(stream: io.BufferedIOBase, n: int, path: Path, what: str) -> bytes:
    try:
        data = stream.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{path}: cannot read the {what}: {_gzip_problem(exc, at_start=True)}") from exc
    if len(data) < n:
        raise UserError(f"{path}: truncated: the file ends inside the {what} ({len(data)} of {n} bytes)")
    return data


def _gzip_problem(exc: BaseException, at_start: bool = False) -> str:
    if isinstance(exc, gzip.BadGzipFile) and at_start:
        return f"not a gzip file ({exc})"
    if isinstance(exc, gzip.BadGzipFile | zlib.error):
        return f"damaged gzip data ({exc})"
    if isinstance(exc, EOFError):
        return "truncated gzip data (the compressed stream ends early)"
    return f"{type(exc).__name__}: {exc}"


def read_header(path: str | Path, expect: tuple[int, int] | None = None) -> IdxHeader:
    """Reads and checks the header of an IDX file (gzipped when its name ends in ``.gz``).

    Args:
        path: the file.
        expect: ``(type byte, dimensions)`` the file must have, e.g. :data:`IMAGES`.

    Raises:
        UserError: the file is missing, not gzip, too short, or its magic number is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    with _open(path) as stream:
        raw = _read_exact(stream, 4, path, "IDX magic number")
        (magic,) = struct.unpack(">I", raw)
        code, ndim = raw[2], raw[3]
        wanted = f", expected {_describe(expect)}" if expect else ""
        if raw[0] != 0 or raw[1] != 0 or code not in IDX_TYPES or ndim == 0:
            raise UserError(f"{path}: bad IDX magic number 0x{magic:08X}{wanted}; not an IDX file")
        if expect is not None and (code, ndim) != expect:
            raise UserError(f"{path}: wrong IDX magic number 0x{magic:08X}{wanted}")
        dims = struct.unpack(f">{ndim}I", _read_exact(stream, 4 * ndim, path, "IDX header"))
    if any(d == 0 for d in dims[1:]):
        raise UserError(f"{path}: IDX header has an empty dimension {list(dims)}")
    return IdxHeader(path=path, type_code=code, shape=tuple(int(d) for d in dims))


def _size_problem(header: IdxHeader, actual: int) -> str:
    shape = "×".join(map(str, header.shape))
    if actual < header.nbytes:
        return (
            f"{header.path}: truncated: the header announces {shape} items ({header.nbytes} bytes)"
            f" but the {'uncompressed ' * (header.path.suffix == '.gz')}file holds {actual} bytes"
        )
    return f"{header.path}: {actual - header.nbytes} bytes after the {shape} items the header announces"


def _gzip_size(path: Path) -> int:
    """Decompresses a gzip file to count its bytes (for precise errors)."""
    total = 0
    with gzip.open(path, "rb") as stream:
        try:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            raise UserError(f"{path}: {_gzip_problem(exc)}") from exc
    return total


def check_size(header: IdxHeader) -> None:
    """Checks cheaply that the file holds exactly the data its header announces.

    An uncompressed file is checked by its size on disk. A gzip file is checked by its trailer
    (the uncompressed size modulo 2**32); only when that disagrees is the file decompressed, to
    tell a truncated stream from a wrong size. A gzip file damaged in the middle is only caught
    by :func:`read_idx`.
    """
    path = header.path
    if path.suffix != ".gz":
        actual = path.stat().st_size
        if actual != header.nbytes:
            raise UserError(_size_problem(header, actual))
        return
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() >= 18 + 8:  # smallest gzip member: 10-byte header, 8-byte trailer
            f.seek(-4, 2)
            (isize,) = struct.unpack("<I", f.read(4))
            if isize == header.nbytes % (1 << 32):
                return
    actual = _gzip_size(path)
    if actual != header.nbytes:
        raise UserError(_size_problem(header, actual))


def read_idx(path: str | Path, expect: tuple[int, int] | None = None) -> np.ndarray:
    """Reads a whole IDX file into a numpy array of the header's shape (native byte order).

    Raises:
        UserError: anything :func:`read_header` rejects, a damaged gzip stream, or a file whose
            size disagrees with its header.
    """
    header = read_header(path, expect)
    path = header.path
    try:
        with _open(path) as stream:
            data = stream.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{path}: {_gzip_problem(exc)}") from exc
    if len(data) != header.nbytes:
        raise UserError(_size_problem(header, len(data)))
    dtype = np.dtype(IDX_TYPES[header.type_code][0])
    array = np.frombuffer(data, dtype=dtype, offset=header.header_bytes).reshape(header.shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Writes an array as an IDX file (gzipped when the name ends in ``.gz``)."""
    path = Path(path)
    array = np.asarray(array)
    codes = {np.dtype(v[0]).newbyteorder("="): k for k, v in IDX_TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"write_idx: no IDX type for dtype {array.dtype}")
    code = codes[native]
    big = array.astype(np.dtype(IDX_TYPES[code][0]), copy=False)
    data = struct.pack(">BBBB", 0, 0, code, array.ndim)
    data += struct.pack(f">{array.ndim}I", *array.shape) + big.tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=6) as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def _pick(folder: Path, stem: str) -> Path | None:
    """The uncompressed file if present (faster to read), else the gzipped one."""
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def find_idx_files(root: str | Path, dataset: str) -> dict[str, tuple[Path, Path]]:
    """Finds the four IDX files of MNIST or Fashion-MNIST under ``root``.

    Looks in torchvision's layout (``ROOT/MNIST/raw/``, ``ROOT/FashionMNIST/raw/``) first, then
    in ``ROOT`` itself (a flat folder). In a folder with both, the uncompressed file wins.

    Returns:
        ``{"train": (images, labels), "test": (images, labels)}``.

    Raises:
        UserError: the root is missing, no folder holds the training images, or a file is missing.
    """
    root = Path(root)
    if dataset not in TORCHVISION_FOLDERS:
        raise ValueError(f"find_idx_files: no IDX files for data set {dataset!r}")
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise UserError(
            f"objective.root: {root} {what}; point it at the {dataset} IDX files or set objective.download=true"
        )
    candidates = [root / TORCHVISION_FOLDERS[dataset] / "raw", root]
    train_images = SPLIT_FILES["train"][0]
    folder = next((c for c in candidates if _pick(c, train_images)), None)
    if folder is None:
        looked = " or ".join(str(c) for c in candidates)
        raise UserError(
            f"objective.root: no {train_images}[.gz] in {looked}; point objective.root at the"
            f" {dataset} IDX files or set objective.download=true"
        )
    files: dict[str, tuple[Path, Path]] = {}
    for split, stems in SPLIT_FILES.items():
        pair = []
        for stem in stems:
            found = _pick(folder, stem)
            if found is None:
                raise UserError(f"{folder / stem}[.gz]: file not found (needed for the {split} split)")
            pair.append(found)
        files[split] = (pair[0], pair[1])
    return files


def check_pair(images: IdxHeader, labels: IdxHeader) -> None:
    """Checks that an image file and its label file agree on the number of items."""
    if images.count != labels.count:
        raise UserError(f"{labels.path}: {labels.count} labels but {images.path.name} holds {images.count} images")
