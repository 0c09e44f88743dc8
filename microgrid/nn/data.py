"""Toy data sets in plain Python, ``(X, y)`` shaped as scikit-learn's functions of the same names give them."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from .._arguments import integer, ordered, random_source, real

__all__ = ["make_blobs", "make_moons"]

Points = tuple[list[list[float]], list[int]]


def _shuffled(X: list[list[float]], y: list[int], rng: random.Random) -> Points:
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


def make_moons(n: int = 100, noise: float = 0.1, seed: int | None = None, shuffle: bool = True) -> Points:
    """Two interleaving half circles, class 0 outside, class 1 inside, with Gaussian `noise` (scikit-learn's steps).

    >>> X, y = make_moons(4, noise=0.0, seed=0, shuffle=False)
    >>> X[0], y
    ([1.0, 0.0], [0, 0, 1, 1])
    """
    n = integer(n, "n", "make_moons", minimum=1)
    noise = real(noise, "noise", "make_moons", minimum=0.0)
    rng = random_source(seed, "make_moons")
    n_out, n_in = n // 2, n - n // 2

    def angles(count: int) -> list[float]:
        return [math.pi * i / (count - 1) if count > 1 else 0.0 for i in range(count)]

    X = [[math.cos(t), math.sin(t)] for t in angles(n_out)]
    X += [[1.0 - math.cos(t), 0.5 - math.sin(t)] for t in angles(n_in)]
    y = [0] * n_out + [1] * n_in
    if shuffle:
        X, y = _shuffled(X, y, rng)
    if noise > 0.0:
        X = [[x0 + rng.gauss(0.0, noise), x1 + rng.gauss(0.0, noise)] for x0, x1 in X]
    return X, y


def make_blobs(
    n: int = 100,
    centers: int | Sequence[Sequence[float]] = 3,
    std: float = 1.0,
    seed: int | None = None,
    box: tuple[float, float] = (-10.0, 10.0),
    shuffle: bool = True,
) -> Points:
    """Gaussian clusters of deviation `std`, class i around ``centers[i]`` (or `centers` drawn in the square `box`).

    >>> X, y = make_blobs(6, centers=[[0, 0], [5, 5]], std=0.0, seed=0, shuffle=False)
    >>> X[0], X[-1], y
    ([0.0, 0.0], [5.0, 5.0], [0, 0, 0, 1, 1, 1])
    """
    where = "make_blobs"
    n = integer(n, "n", where, minimum=1)
    std = real(std, "std", where, minimum=0.0)
    rng = random_source(seed, where)
    if isinstance(centers, int) and not isinstance(centers, bool):
        centers = integer(centers, "centers", where, minimum=1)
        if not isinstance(box, (tuple, list)) or len(box) != 2:
            raise TypeError(f"{where}: box must be a pair (low, high), got {box!r}")
        low, high = (real(edge, "box", where) for edge in box)
        points = [[rng.uniform(low, high), rng.uniform(low, high)] for _ in range(centers)]
    else:
        points = []
        for i, c in enumerate(ordered(centers, "centers", where, of=" of [x0, x1] points, or a count")):
            xs = ordered(c, f"centers[{i}]", where, of=" of two numbers, [x0, x1]")
            if len(xs) != 2:
                raise ValueError(f"{where}: centers[{i}] must be a point [x0, x1], got {len(xs)} coordinates: {c!r}")
            points.append([real(x, f"centers[{i}][{k}]", where) for k, x in enumerate(xs)])
        if not points:
            raise ValueError(f"{where}: centers must be a count or a list of [x0, x1] points, got []")
    k = len(points)
    X: list[list[float]] = []
    y: list[int] = []
    for label, (c0, c1) in enumerate(points):
        count = n // k + (1 if label < n % k else 0)
        X += [[c0 + rng.gauss(0.0, std), c1 + rng.gauss(0.0, std)] if std else [c0, c1] for _ in range(count)]
        y += [label] * count
    return _shuffled(X, y, rng) if shuffle else (X, y)
