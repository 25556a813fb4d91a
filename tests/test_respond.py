"""Counter-battery cues: CEP against closed forms and Monte Carlo, grouping, fusion, stable ids."""

import numpy as np
import pytest
from scipy.special import erf

from counterram.events import CounterBatteryCue
from counterram.geo import Site
from counterram.respond import (
    CounterBattery,
    cep_approx_m,
    cep_m,
    circle_probability,
    fuse_groups,
    fuse_positions,
    group_launches,
    principal_sigmas_m,
)
from counterram.scenario import RespondSpec

SITE = Site(33.3, 44.4, 40.0)


def rot(deg):
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def test_cep_closed_forms():
    # circle: CEP = sqrt(2 ln 2) sigma
    assert cep_m(np.diag([50.0**2, 50.0**2])) == pytest.approx(np.sqrt(2 * np.log(2)) * 50.0, rel=1e-10)
    # line: CEP = 0.67449 sigma (the median of |N(0, sigma)|)
    assert cep_m(np.diag([80.0**2, 0.0])) == pytest.approx(0.6744897501960817 * 80.0, rel=1e-9)
    # on a line the probability inside r is erf(r / (sigma sqrt 2))
    r = np.array([10.0, 50.0, 150.0])
    assert np.allclose(
        circle_probability(r, np.diag([80.0**2, 0.0])), erf(r / (80.0 * np.sqrt(2))), atol=1e-12
    )
    # rotation does not change it; the approximation holds for modest ellipticity only
    c = np.diag([100.0**2, 40.0**2])
    cr = rot(30) @ c @ rot(30).T
    assert cep_m(cr) == pytest.approx(cep_m(c), rel=1e-10)
    assert np.allclose(principal_sigmas_m(cr), (100.0, 40.0))
    assert cep_approx_m(c) == pytest.approx(cep_m(c), rel=0.03)
    assert cep_approx_m(np.diag([100.0**2, 0.0])) < 0.9 * cep_m(np.diag([100.0**2, 0.0]))
    # zero covariance: a point
    assert cep_m(np.zeros((2, 2))) == 0.0


@pytest.mark.parametrize("sig", [(30.0, 10.0, 25.0), (120.0, 115.0, 0.0), (200.0, 20.0, 70.0)])
def test_cep_matches_monte_carlo(sig):
    s1, s2, ang = sig
    c = rot(ang) @ np.diag([s1**2, s2**2]) @ rot(ang).T
    n = 400_000
    x = np.random.default_rng(11).multivariate_normal([0.0, 0.0], c, n)
    inside = np.mean(np.hypot(x[:, 0], x[:, 1]) <= cep_m(c))
    assert abs(inside - 0.5) < 4.0 * np.sqrt(0.25 / n)  # 4 standard errors of a proportion
    assert np.median(np.hypot(x[:, 0], x[:, 1])) == pytest.approx(cep_m(c), rel=0.01)


def test_cep_is_vectorised():
    covs = np.stack([np.diag([10.0**2, 10.0**2]), np.diag([30.0**2, 5.0**2]), np.diag([1.0, 1.0])])
    out = cep_m(covs)
    assert out.shape == (3,)
    assert np.allclose(out, [cep_m(c) for c in covs])


def test_group_launches_single_linkage_in_space_and_time():
    # site A: a chain of launches 300 m apart (linked pairwise, first and last 600 m apart);
    # site B: 3 km away; C: at A's place but 10 minutes later
    en = np.array([[0, 0], [300, 0], [600, 0], [3000, 3000], [3100, 3000], [300, 50], [3000, 2900]], float)
    t = np.array([0.0, 1.5, 3.0, 10.0, 11.0, 600.0, 12.0])
    lab = group_launches(en, t, distance_m=400.0, time_s=120.0)
    assert lab.tolist() == [0, 0, 0, 1, 1, 2, 1]
    # a tighter distance breaks the chain
    assert group_launches(en, t, 250.0, 120.0).tolist() == [0, 1, 2, 3, 3, 4, 3]
    assert group_launches(np.zeros((0, 2)), np.zeros(0), 100.0, 10.0).size == 0


def _linkage_by_hand(en, t, d, tau):
    """Single-linkage labels by repeated flooding over all pairs (slow, obviously right)."""
    n = len(en)
    lab = -np.ones(n, int)
    g = 0
    for i in range(n):
        if lab[i] >= 0:
            continue
        lab[i], stack = g, [i]
        while stack:
            a = stack.pop()
            for b in range(n):
                if lab[b] < 0 and np.hypot(*(en[a] - en[b])) <= d and abs(t[a] - t[b]) <= tau:
                    lab[b] = g
                    stack.append(b)
        g += 1
    return lab


def test_grouping_and_fusion_in_batch_match_one_by_one():
    rng = np.random.default_rng(7)
    en = rng.uniform(0.0, 4000.0, (150, 2))
    t = rng.uniform(0.0, 600.0, 150)
    lab = group_launches(en, t, 400.0, 120.0)
    assert lab.tolist() == _linkage_by_hand(en, t, 400.0, 120.0).tolist()
    assert 10 < lab.max() + 1 < 150  # some groups join several launches
    a = rng.normal(size=(150, 2, 2)) * 30.0
    cov = a @ a.transpose(0, 2, 1) + 25.0 * np.eye(2)
    mean, p = fuse_groups(lab, en, cov)
    for g in range(lab.max() + 1):
        info = [np.linalg.inv(c + 1e-6 * np.eye(2)) for c in cov[lab == g]]
        p1 = np.linalg.inv(sum(info))
        m1 = p1 @ sum(i @ x for i, x in zip(info, en[lab == g], strict=True))
        assert np.allclose(mean[g], m1, rtol=1e-9, atol=1e-6) and np.allclose(p[g], p1, rtol=1e-9)


def test_fusion_is_the_information_weighted_mean():
    x = np.array([[0.0, 0.0], [100.0, 0.0]])
    c = np.stack([np.diag([10.0**2, 10.0**2]), np.diag([30.0**2, 30.0**2])])
    mean, p = fuse_positions(x, c)
    w = np.array([1 / 100.0, 1 / 900.0])
    assert mean[0] == pytest.approx(100.0 * w[1] / w.sum(), rel=1e-6)
    assert p[0, 0] == pytest.approx(1 / w.sum(), rel=1e-6)
    # n equal looks: the CEP shrinks as 1 / sqrt(n)
    _, p4 = fuse_positions(np.zeros((4, 2)), np.repeat(c[:1], 4, axis=0))
    assert cep_m(p4) == pytest.approx(cep_m(c[0]) / 2.0, rel=1e-6)


def test_cues_group_tracks_keep_their_ids_and_are_issued_when_they_change():
    cb = CounterBattery(SITE, RespondSpec(group_distance_m=500.0, group_time_s=120.0, move_m=25.0))
    cov = np.diag([80.0**2, 40.0**2])
    a = np.array([5000.0, -3000.0, -5.0])
    b = np.array([-2000.0, 6000.0, -5.0])
    ev = cb.update(10.0, [1, 2], [a, a + [60, 20, 0]], [cov, cov], [0.0, 1.5])
    assert len(ev) == 1 and isinstance(ev[0], CounterBatteryCue)
    cue = ev[0]
    assert cue.cue == "cb-1" and cue.tracks == [1, 2] and cue.n_launches == 2
    back = SITE.to_enu(cue.lat, cue.lon, cue.alt_m)
    assert np.allclose(back[:2], a[:2] + [30, 10], atol=0.01)
    assert cue.cep_m == pytest.approx(cep_m(cov / 2.0), abs=0.05)
    assert cue.t_launch == 0.0 and cue.t_last_launch == 1.5
    # the same estimates again: nothing new
    assert cb.update(11.0, [1, 2], [a, a + [60, 20, 0]], [cov, cov], [0.0, 1.5]) == []
    # a second site and a third launch at the first: cb-1 keeps its id (re-issued), cb-2 is new
    ev = cb.update(40.0, [3, 4], [b, a + [-40, 0, 0]], [cov, cov], [35.0, 36.0])
    by_id = {e.cue: e for e in ev}
    assert set(by_id) == {"cb-1", "cb-2"}
    assert by_id["cb-1"].tracks == [1, 2, 4] and by_id["cb-2"].tracks == [3]
    # an estimate that moves a site by more than move_m re-issues it under the same id
    ev = cb.update(41.0, [3], [b + [100, 0, 0]], [cov], [35.0])
    assert [(e.cue, e.tracks) for e in ev] == [("cb-2", [3])]
    # a small refinement does not
    assert cb.update(42.0, [3], [b + [105, 0, 0]], [cov], [35.0]) == []
    assert set(cb.cues) == {"cb-1", "cb-2"}


def test_cues_ignore_missing_origin_estimates():
    cb = CounterBattery(SITE)
    cov = np.diag([50.0**2, 50.0**2])
    ev = cb.update(5.0, [1, 2], [[np.nan, 0, 0], [100.0, 100.0, 0.0]], [cov, cov], [0.0, 0.0])
    assert [e.tracks for e in ev] == [[2]]
