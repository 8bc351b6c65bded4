"""Every seed and reproducible random number bobench derives, from one hashed key.

A key is the printable parts joined by ``:`` (``derive_seed(7, "fit", 12)`` hashes
``b"7:fit:12"``), hashed with a cryptographic hash so that the result is the same in every
process, on every machine and in every Python (unlike ``hash()``), and independent of the order
in which a run asks for them. That is what lets a run be resumed by replaying its journal, and a
simulated run be repeated exactly:

- :func:`derive_seed`: an integer seed, 31 bits by default (valid for numpy, torch and any
  ``int32``), 32 bits with ``bits=32``;
- :func:`derive_uniform`: a float uniform in ``(0, 1)``;
- :func:`eval_seed`: the seed an objective gets for one evaluation.

Recorded runs depend on these exact values: changing a hash, a key or a bit count changes every
result of every seeded run.
"""

from __future__ import annotations

import hashlib

#: Bits of a seed when not told otherwise: the largest a signed 32-bit integer always holds.
SEED_BITS = 31


def seed_key(*parts: object) -> bytes:
    """The bytes hashed for ``parts``: their ``str`` joined by ``:``."""
    return ":".join(map(str, parts)).encode()


def derive_seed(*parts: object, bits: int = SEED_BITS) -> int:
    """A seed in ``[0, 2**bits)`` from the SHA-256 of :func:`seed_key` ``(*parts)``.

    Args:
        parts: what the seed depends on, e.g. the run's seed and an evaluation id.
        bits: 31 (the default) or 32; the seed is the digest's first 4 bytes, little-endian,
            with the top bit cleared when ``bits`` is 31.
    """
    if bits not in (31, 32):
        raise ValueError(f"bits: 31 or 32, got {bits!r}")
    value = int.from_bytes(hashlib.sha256(seed_key(*parts)).digest()[:4], "little")
    return value & ((1 << bits) - 1)


def derive_uniform(*parts: object) -> float:
    """A float in ``(0, 1)``, uniform on a 2**-53 grid, from the BLAKE2b of :func:`seed_key` ``(*parts)``.

    The digest's first 8 bytes (little-endian) keep their top 53 bits ``k``; the number is
    ``(k + 1/2) / 2**53``, never 0 or 1, so any inverse CDF may be applied to it.
    """
    bits = int.from_bytes(hashlib.blake2b(seed_key(*parts), digest_size=8).digest(), "little") >> 11
    return (bits + 0.5) / 2.0**53


def eval_seed(seed: int, eval_id: int) -> int:
    """The seed handed to the objective for evaluation ``eval_id`` of a run (the same for every attempt)."""
    return derive_seed(int(seed), int(eval_id))
