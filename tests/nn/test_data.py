"""microgrid.nn.data: the moons and blobs data sets."""

from __future__ import annotations

import math
import statistics

import pytest

from microgrid.nn.data import make_blobs, make_moons


def test_moons_deterministic_for_a_seed():
    assert make_moons(50, 0.2, seed=3) == make_moons(50, 0.2, seed=3)
    assert make_moons(50, 0.2, seed=3) != make_moons(50, 0.2, seed=4)


@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_moons_shapes_and_classes(n):
    X, y = make_moons(n, noise=0.1, seed=0)
    assert len(X) == len(y) == n
    assert all(len(p) == 2 and all(isinstance(c, float) for c in p) for p in X)
    assert y.count(0) == n // 2 and y.count(1) == n - n // 2


def test_noise_free_moons_lie_on_the_two_half_circles():
    X, y = make_moons(40, noise=0.0, seed=0)
    for (x0, x1), label in zip(X, y, strict=True):
        if label == 0:  # upper arc: unit circle around (0, 0), above the axis
            assert math.hypot(x0, x1) == pytest.approx(1.0) and x1 >= -1e-12
        else:  # lower arc: unit circle around (1, 0.5), below its centre
            assert math.hypot(x0 - 1.0, x1 - 0.5) == pytest.approx(1.0) and x1 <= 0.5 + 1e-12
    ends = sorted(p[0] for p, t in zip(X, y, strict=True) if t == 0)
    assert ends[0] == pytest.approx(-1.0) and ends[-1] == pytest.approx(1.0)


def test_moons_noise_has_the_requested_spread():
    clean, _ = make_moons(2000, noise=0.0, seed=1, shuffle=False)
    noisy, _ = make_moons(2000, noise=0.3, seed=1, shuffle=False)
    offsets = [n[i] - c[i] for n, c in zip(noisy, clean, strict=True) for i in range(2)]
    assert statistics.pstdev(offsets) == pytest.approx(0.3, rel=0.05)
    assert abs(statistics.fmean(offsets)) < 0.03


def test_blobs_centres_counts_and_spread():
    centres = [[0.0, 0.0], [10.0, -5.0], [-3.0, 4.0]]
    X, y = make_blobs(300, centers=centres, std=0.5, seed=2)
    assert len(X) == 300 and sorted(set(y)) == [0, 1, 2] and [y.count(k) for k in range(3)] == [100, 100, 100]
    for k, (c0, c1) in enumerate(centres):
        points = [p for p, t in zip(X, y, strict=True) if t == k]
        assert statistics.fmean(p[0] for p in points) == pytest.approx(c0, abs=0.2)
        assert statistics.fmean(p[1] for p in points) == pytest.approx(c1, abs=0.2)
        assert statistics.pstdev([p[0] - c0 for p in points]) == pytest.approx(0.5, rel=0.2)
    X, y = make_blobs(7, centers=3, seed=5)
    assert [y.count(k) for k in range(3)] == [3, 2, 2]
    assert make_blobs(30, centers=4, seed=9) == make_blobs(30, centers=4, seed=9)
    X, _ = make_blobs(50, centers=2, std=0.0, seed=1, box=(-1.0, 1.0))
    assert all(-1.0 <= c <= 1.0 for p in X for c in p)


def test_bad_arguments():
    for call in (
        lambda: make_moons(0),
        lambda: make_moons(10, noise=-0.1),
        lambda: make_moons(10, noise=float("nan")),
        lambda: make_blobs(10, centers=0),
        lambda: make_blobs(10, centers=[[1.0]]),
        lambda: make_blobs(10, centers=[]),
        lambda: make_blobs(10, centers=[[0, float("inf")]]),
        lambda: make_blobs(10, std=-1),
    ):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(TypeError, match="seed must be an int"):
        make_moons(10, seed="1")
    with pytest.raises(TypeError, match="n must be an int, got float"):
        make_moons(2.5)


def test_noise_free_moons_match_scikit_learns_formulas_in_numpy():
    """The reference: scikit-learn's make_moons body (noise-free, unshuffled), in NumPy."""
    np = pytest.importorskip("numpy")
    for n in (2, 7, 100):
        n_out, n_in = n // 2, n - n // 2
        outer_x, outer_y = np.cos(np.linspace(0, np.pi, n_out)), np.sin(np.linspace(0, np.pi, n_out))
        inner_x, inner_y = 1 - np.cos(np.linspace(0, np.pi, n_in)), 1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5
        expected = np.vstack([np.append(outer_x, inner_x), np.append(outer_y, inner_y)]).T
        X, y = make_moons(n, noise=0.0, seed=0, shuffle=False)
        assert np.allclose(np.array(X), expected, rtol=0, atol=1e-15)
        assert y == [0] * n_out + [1] * n_in


def test_shuffle_permutes_points_with_their_labels():
    plain = make_moons(30, noise=0.0, seed=2, shuffle=False)
    shuffled = make_moons(30, noise=0.0, seed=2)
    assert sorted(zip(map(tuple, shuffled[0]), shuffled[1], strict=True)) == sorted(
        zip(map(tuple, plain[0]), plain[1], strict=True)
    )
    assert shuffled != plain


def test_make_blobs_checks_its_box():
    with pytest.raises(ValueError, match="make_blobs: box must be finite"):
        make_blobs(4, centers=2, box=(0, float("nan")), seed=0)
    with pytest.raises(TypeError, match="make_blobs: box must be a pair"):
        make_blobs(4, centers=2, box=5, seed=0)


@pytest.mark.parametrize(
    "centers, error, message",
    [
        (["12", "34"], TypeError, r"centers\[0\] must be a sequence .* got str: '12'"),  # not [[1, 2], [3, 4]]
        ([[0, True], [1, 1]], TypeError, r"centers\[0\]\[1\] must be a real number, got bool: True"),
        ([[0, "1"], [1, 1]], TypeError, r"centers\[0\]\[1\] must be a real number, got str"),
        ([[0, 0], [1, 2, 3]], ValueError, r"centers\[1\] must be a point \[x0, x1\], got 3 coordinates"),
        ({(0, 0), (5, 5)}, TypeError, r"centers must be .* \(a set has no order\)"),
        ({0: (0, 0)}, TypeError, r"centers must be .* \(a dict would give its keys\)"),
        (True, TypeError, "centers must be .* got bool"),
        (2.0, TypeError, "centers must be .* got float"),
    ],
)
def test_make_blobs_takes_numbers_only_as_centres(centers, error, message):
    with pytest.raises(error, match=f"make_blobs: {message}"):
        make_blobs(4, centers=centers, seed=0)


def test_centres_may_be_tuples_and_ints():
    X, _y = make_blobs(2, centers=((1, 2), (3, 4)), std=0.0, seed=0, shuffle=False)
    assert X == [[1.0, 2.0], [3.0, 4.0]] and all(type(c) is float for p in X for c in p)


@pytest.mark.parametrize("seed", ["1", 1.5, True, b"1"])
@pytest.mark.parametrize("make", [make_moons, make_blobs])
def test_only_an_int_or_none_is_a_seed(make, seed):
    with pytest.raises(TypeError, match=f"{make.__name__}: seed must be an int, got {type(seed).__name__}"):
        make(10, seed=seed)


def test_seed_none_follows_the_global_random():
    """None: a new data set each call, the same again after the same random.seed."""
    import random

    random.seed(7)
    first, second = make_moons(20, seed=None), make_blobs(20, seed=None)
    assert make_moons(20, seed=None) != first
    random.seed(7)
    assert make_moons(20, seed=None) == first and make_blobs(20, seed=None) == second
