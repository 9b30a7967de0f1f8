"""Seeded, vectorised random helpers shared by the demo generator's modules.

Every function takes the generator's ``numpy.random.Generator`` and draws a fixed number of values
for a given input size, so the same seed always gives the same data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.demo.rates import DemoError


def choose(
    rng: np.random.Generator, options: Sequence, size: int, p: Sequence[float] | None = None
) -> np.ndarray:
    """`size` values drawn from `options` (with replacement), as an object array."""
    opts = np.empty(len(options), dtype=object)
    opts[:] = list(options)
    weights = None
    if p is not None:
        weights = np.asarray(p, dtype=float)
        weights = weights / weights.sum()
    return opts[rng.choice(len(opts), size=size, p=weights)] if size else opts[:0]


def pick(
    rng: np.random.Generator, eligible: np.ndarray, rate: float, *, at_least_one: bool = True
) -> np.ndarray:
    """Mark each eligible row with probability `rate`.

    With ``at_least_one`` (the default) and a positive rate, at least one eligible row is marked, so
    every defect the caller asks for is planted even on a tiny demo.
    """
    eligible = np.asarray(eligible, dtype=bool)
    draw = rng.random(eligible.size)
    mask = eligible & (draw < rate)
    if at_least_one and rate > 0 and eligible.any() and not mask.any():
        idx = np.flatnonzero(eligible)
        mask[idx[int(rng.integers(idx.size))]] = True
    return mask


def pick_n(rng: np.random.Generator, eligible: np.ndarray, n: int) -> np.ndarray:
    """Mark exactly `n` of the eligible rows (fewer if there are not enough)."""
    idx = np.flatnonzero(np.asarray(eligible, dtype=bool))
    mask = np.zeros(np.asarray(eligible).size, dtype=bool)
    if idx.size:
        mask[rng.choice(idx, size=min(n, idx.size), replace=False)] = True
    return mask


def unique_ints(
    rng: np.random.Generator, low: int, high: int, size: int, exclude: Sequence[int] = ()
) -> np.ndarray:
    """`size` distinct integers in ``[low, high)`` in random order, none of them in `exclude`."""
    if high - low < size + len(exclude):
        raise DemoError(f"cannot draw {size} distinct values from [{low}, {high}); lower `customers`")
    out = np.empty(0, dtype=np.int64)
    banned = np.asarray(sorted(set(exclude)), dtype=np.int64)
    while out.size < size:
        draw = rng.integers(low, high, size=int((size - out.size) * 1.1) + 16, dtype=np.int64)
        out = np.concatenate([out, draw])
        _, first = np.unique(out, return_index=True)
        keep = np.zeros(out.size, dtype=bool)
        keep[first] = True
        keep &= ~np.isin(out, banned)
        out = out[keep]  # keeps the original order of the first occurrences
    return out[:size]


def digits(rng: np.random.Generator, size: int, n: int, *, first_min: int = 0) -> np.ndarray:
    """`size` random digit strings of length `n` (the first digit at least `first_min`)."""
    if size == 0:
        return np.empty(0, dtype=object)
    first = rng.integers(first_min, 10, size=size)
    rest = (
        rng.integers(0, 10 ** max(n - 1, 0), size=size, dtype=np.int64) if n > 1 else np.zeros(size, np.int64)
    )
    vals = first * 10 ** (n - 1) + rest
    return np.char.zfill(vals.astype(str), n).astype(object)


def fill_pattern(rng: np.random.Generator, pattern: str, size: int) -> np.ndarray:
    """Fill a pattern such as ``###-####`` with random digits; the first ``#`` is never 0 or 1."""
    n = pattern.count("#")
    ds = digits(rng, size, n, first_min=2)
    out = np.empty(size, dtype=object)
    parts = pattern.split("#")
    for i in range(size):  # patterns are for the few foreign rows only
        s = ds[i]
        out[i] = parts[0] + "".join(s[k] + parts[k + 1] for k in range(n))
    return out


def join(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise string concatenation of object arrays and constants."""
    out: np.ndarray | str = ""
    for p in parts:
        out = out + p  # object arrays concatenate element-wise
    return np.asarray(out, dtype=object)


def where(mask: np.ndarray, a: np.ndarray | str, b: np.ndarray | str) -> np.ndarray:
    """`np.where` that keeps Python strings (object dtype)."""
    return np.where(mask, np.asarray(a, dtype=object), np.asarray(b, dtype=object)).astype(object)
