"""GOSPA (alpha = 2): hand-worked values, metric properties, and a brute-force cross-check."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from counterram.metrics import GospaResult, gospa, gospa_mean, gospa_over_time

C = 100.0
P = 2.0


def _brute(x: np.ndarray, y: np.ndarray, c: float, p: float) -> tuple[float, int, int]:
    """GOSPA by its defining form (Rahmathullah et al. 2017, Definition 1, alpha = 2).

    For |X| <= |Y|: min over injections pi of sum_i min(d(x_i, y_pi(i)), c)^p, plus
    c^p / 2 * (|Y| - |X|); symmetric otherwise.  Returns (distance, missed, false), where an
    optimal injection's pairs at d < c count as assigned.
    """
    swapped = len(x) > len(y)
    if swapped:
        x, y = y, x
    m, n = len(x), len(y)
    best, best_assigned = math.inf, 0
    for perm in itertools.permutations(range(n), m):
        d = [float(np.linalg.norm(x[i] - y[j])) for i, j in enumerate(perm)]
        cost = sum(min(di, c) ** p for di in d)
        if cost < best:
            best, best_assigned = cost, sum(di < c for di in d)
    total = best + c**p / 2.0 * (n - m)
    missed, false = m - best_assigned, n - best_assigned
    if swapped:
        missed, false = false, missed
    return total ** (1.0 / p), missed, false


def test_identical_sets_zero():
    x = np.array([[0.0, 0.0, 0.0], [10.0, 20.0, 30.0], [-5.0, 7.0, 1000.0]])
    r = gospa(x, x.copy(), c=C, p=P)
    assert isinstance(r, GospaResult)
    assert r.distance_m == 0.0
    assert r.localisation_m == 0.0
    assert (r.missed, r.false) == (0, 0)
    assert r.assignment == ((0, 0), (1, 1), (2, 2))


def test_both_empty_zero():
    r = gospa(np.empty((0, 3)), np.empty((0, 3)), c=C, p=P)
    assert r == GospaResult(0.0, 0.0, 0, 0, ())


def test_one_truth_no_estimate():
    # d^2 = c^2 / 2 * 1 = 5000 -> d = 100 / sqrt(2) = 70.7107 m
    r = gospa(np.array([[1.0, 2.0, 3.0]]), np.empty((0, 3)), c=C, p=P)
    assert r.distance_m == pytest.approx(70.71067811865476)
    assert (r.missed, r.false, r.assignment) == (1, 0, ())
    # p = 1: d = c / 2 = 50 m
    assert gospa(np.array([[1.0, 2.0, 3.0]]), [], c=C, p=1.0).distance_m == pytest.approx(50.0)


def test_only_estimates_k_over_two():
    # three false tracks: d^2 = c^2 / 2 * 3 -> d = 100 * sqrt(1.5) = 122.4745 m
    y = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    r = gospa([], y, c=C, p=P)
    assert r.distance_m == pytest.approx(100.0 * math.sqrt(1.5))
    assert (r.missed, r.false) == (0, 3)


def test_one_pair_30m():
    # 18-24-0 right triangle: |(18, 24, 0)| = 30 < c -> assigned, d = 30 m
    r = gospa(np.array([[100.0, 200.0, 300.0]]), np.array([[118.0, 224.0, 300.0]]), c=C, p=P)
    assert r.distance_m == pytest.approx(30.0)
    assert r.localisation_m == pytest.approx(30.0)
    assert (r.missed, r.false, r.assignment) == (0, 0, ((0, 0),))


def test_one_pair_beyond_cutoff():
    # 150 m >= c: one missed + one false, d^2 = c^2 / 2 * 2 = c^2 -> d = 100 m
    r = gospa(np.array([[0.0, 0.0, 0.0]]), np.array([[0.0, 150.0, 0.0]]), c=C, p=P)
    assert r.distance_m == pytest.approx(100.0)
    assert r.localisation_m == 0.0
    assert (r.missed, r.false, r.assignment) == (1, 1, ())


def test_pair_exactly_at_cutoff_is_unassigned():
    # d = c: assigning costs c^2, same as missed + false; reported as unassigned, d = 100 m
    r = gospa(np.array([[0.0, 0.0, 0.0]]), np.array([[60.0, 80.0, 0.0]]), c=C, p=P)
    assert r.distance_m == pytest.approx(100.0)
    assert (r.missed, r.false, r.assignment) == (1, 1, ())


def test_crossing_assignment():
    # truths A = (0,0,0), B = (60,0,0); estimates e0 = B + (0,3,4), e1 = A + (0,6,8).
    # best: A-e1 at 10 m, B-e0 at 5 m -> d = sqrt(100 + 25) = sqrt(125) = 11.1803 m.
    # index order A-e0 = sqrt(60^2 + 25) = 60.21, B-e1 = sqrt(60^2 + 100) = 60.83 would give 85.6 m.
    x = np.array([[0.0, 0.0, 0.0], [60.0, 0.0, 0.0]])
    y = np.array([[60.0, 3.0, 4.0], [0.0, 6.0, 8.0]])
    r = gospa(x, y, c=C, p=P)
    assert r.distance_m == pytest.approx(math.sqrt(125.0))
    assert r.localisation_m == pytest.approx(math.sqrt(125.0))
    assert (r.missed, r.false) == (0, 0)
    assert r.assignment == ((0, 1), (1, 0))


def test_three_truths_one_estimate():
    # estimate 5 m (3-4-5) from truth 0; truths 1 and 2 are 500 m away and missed.
    # d^2 = 5^2 + c^2 / 2 * 2 = 25 + 10000 -> d = sqrt(10025) = 100.1249 m
    x = np.array([[0.0, 0.0, 0.0], [500.0, 0.0, 0.0], [0.0, 500.0, 0.0]])
    y = np.array([[3.0, 4.0, 0.0]])
    r = gospa(x, y, c=C, p=P)
    assert r.distance_m == pytest.approx(math.sqrt(10025.0))
    assert r.localisation_m == pytest.approx(5.0)
    assert (r.missed, r.false, r.assignment) == (2, 0, ((0, 0),))
    # p = 1, c = 100: d = 5 + 100 / 2 * 2 = 105 m
    assert gospa(x, y, c=C, p=1.0).distance_m == pytest.approx(105.0)


def test_cutoff_prefers_miss_plus_false_over_long_pair():
    # truths at x = 0 and x = 90; one estimate at x = 80.  c = 100, p = 2.
    # options: pair (truth 1, est) at 10 m + truth 0 missed: 100 + 5000 = 5100  <- best
    #          pair (truth 0, est) at 80 m + truth 1 missed: 6400 + 5000 = 11400
    # d = sqrt(5100) = 71.4143 m
    x = np.array([[0.0, 0.0, 0.0], [90.0, 0.0, 0.0]])
    y = np.array([[80.0, 0.0, 0.0]])
    r = gospa(x, y, c=C, p=P)
    assert r.distance_m == pytest.approx(math.sqrt(5100.0))
    assert r.assignment == ((1, 0),)
    # c = 10: the 10 m pair is at the cut-off -> all unassigned, d^2 = 50 * 3 = 150
    r10 = gospa(x, y, c=10.0, p=P)
    assert r10.distance_m == pytest.approx(math.sqrt(150.0))
    assert (r10.missed, r10.false, r10.assignment) == (2, 1, ())


def test_decomposition_holds():
    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 200.0, size=(6, 3))
    y = rng.uniform(0.0, 200.0, size=(4, 3))
    for p in (1.0, 2.0, 3.0):
        r = gospa(x, y, c=C, p=p)
        assert r.distance_m**p == pytest.approx(r.localisation_m**p + C**p / 2.0 * (r.missed + r.false))
        assert r.missed == 6 - len(r.assignment)
        assert r.false == 4 - len(r.assignment)
        for i, j in r.assignment:
            assert np.linalg.norm(x[i] - y[j]) < C


def _random_set(rng: np.random.Generator, k: int, box: float) -> np.ndarray:
    return rng.uniform(-box, box, size=(k, 3))


@pytest.mark.parametrize("seed", range(20))
def test_symmetry(seed):
    rng = np.random.default_rng(seed)
    x = _random_set(rng, int(rng.integers(0, 6)), 80.0)
    y = _random_set(rng, int(rng.integers(0, 6)), 80.0)
    a = gospa(x, y, c=C, p=P)
    b = gospa(y, x, c=C, p=P)
    assert a.distance_m == pytest.approx(b.distance_m)
    assert (a.missed, a.false) == (b.false, b.missed)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_triangle_inequality(p):
    rng = np.random.default_rng(1234)
    for _ in range(200):
        sets = [_random_set(rng, int(rng.integers(0, 6)), 60.0) for _ in range(3)]
        c = float(rng.choice([10.0, 50.0, 100.0]))
        dxy = gospa(sets[0], sets[1], c=c, p=p).distance_m
        dyz = gospa(sets[1], sets[2], c=c, p=p).distance_m
        dxz = gospa(sets[0], sets[2], c=c, p=p).distance_m
        assert dxz <= dxy + dyz + 1e-9
        assert gospa(sets[0], sets[0], c=c, p=p).distance_m == 0.0


@pytest.mark.parametrize("c", [5.0, 20.0, 100.0])
@pytest.mark.parametrize("p", [1.0, 2.0, 3.5])
def test_agrees_with_brute_force(c, p):
    # box of +-15 m: c = 5 m cuts most pairs off, c = 100 m none, c = 20 m some
    rng = np.random.default_rng(int(c * 10 + p * 100))
    for m in range(6):
        for n in range(6):
            x = _random_set(rng, m, 15.0)
            y = _random_set(rng, n, 15.0)
            r = gospa(x, y, c=c, p=p)
            d, missed, false = _brute(x, y, c, p)
            assert r.distance_m == pytest.approx(d, rel=1e-12, abs=1e-12)
            assert (r.missed, r.false) == (missed, false)


def test_over_time_and_mean():
    times = [0.0, 0.5, 1.0]
    truth = [np.array([[0.0, 0.0, 0.0]]), np.array([[0.0, 0.0, 0.0]]), np.empty((0, 3))]
    est = [np.array([[18.0, 24.0, 0.0]]), np.empty((0, 3)), np.empty((0, 3))]
    # step 0: 30 m pair -> 30; step 1: one missed -> 70.7107; step 2: both empty -> 0
    d = gospa_over_time(times, truth, est, c=C, p=P)
    assert d.shape == (3,)
    np.testing.assert_allclose(d, [30.0, 100.0 / math.sqrt(2.0), 0.0])
    assert gospa_mean(times, truth, est, c=C, p=P) == pytest.approx((30.0 + 100.0 / math.sqrt(2.0)) / 3.0)


def test_over_time_length_mismatch():
    with pytest.raises(ValueError, match="differ in length"):
        gospa_over_time([0.0, 1.0], [np.empty((0, 3))], [np.empty((0, 3))])
    with pytest.raises(ValueError, match="at least one time step"):
        gospa_mean([], [], [])


def test_bad_inputs():
    x = np.zeros((1, 3))
    with pytest.raises(ValueError, match="alpha = 2"):
        gospa(x, x, alpha=1.0)
    with pytest.raises(ValueError, match="order p"):
        gospa(x, x, p=0.5)
    with pytest.raises(ValueError, match="cut-off c"):
        gospa(x, x, c=0.0)
    with pytest.raises(ValueError, match="non-finite"):
        gospa(np.array([[np.nan, 0.0, 0.0]]), x)
    with pytest.raises(ValueError, match="differ in dimension"):
        gospa(x, np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"\(k, 3\)"):
        gospa(np.zeros(3), x)
