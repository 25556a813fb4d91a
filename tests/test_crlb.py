"""Cramér-Rao bound of the impact point: against a closed form, a Monte Carlo fit and its own laws."""

import dataclasses

import numpy as np
import pytest

from counterram.crlb import equivalent_kappa, impact_crlb, impact_sensitivity
from counterram.geo import Site
from counterram.physics.aim import fly_munitions
from counterram.physics.flight import (
    FlightEnv,
    drag_acceleration,
    fly_ballistic_to_ground,
    propagate_ballistic,
)
from counterram.physics.munitions import CATALOG, DRAG_LAWS, TRACKER_LAW
from counterram.sensing.radar import RadarGeometry, RadarSpec
from counterram.tracking.models import innovation, measure, measure_jacobian

SITE = Site(33.2985, 44.3958, 31.8)
G7 = DRAG_LAWS.index(TRACKER_LAW)


def env(**kw):
    return FlightEnv(SITE, SITE.alt_m, DRAG_LAWS, **kw)


def radar_at(enu_m, sigma=(10.0, 0.3, 0.3, 1.0)):
    """A radar at site-ENU point ``enu_m``; sigma = (range m, az deg, el deg, rdot m/s or None)."""
    lat, lon, alt = SITE.to_geodetic(np.asarray(enu_m, float))
    spec = RadarSpec(
        id="r",
        lat=float(lat),
        lon=float(lon),
        alt_m=float(alt),
        sigma_range_m=sigma[0],
        sigma_az_deg=sigma[1],
        sigma_el_deg=sigma[2],
        sigma_rdot_mps=sigma[3],
    )
    return RadarGeometry.build(spec, SITE)


# a 120 mm mortar-like round in the tracker's model, 15 s of 1 Hz plots before t_ref = 0
X_TRUE = np.array([-300.0, -1500.0, 1400.0, 15.0, 140.0, -110.0, np.log(7.0e-4)])
PLOT_T = np.arange(-14.0, 0.5, 1.0)


# --------------------------------------------------------------------------------------------
# Closed form: vacuum over a flat earth, an independent linear least-squares covariance
# --------------------------------------------------------------------------------------------


def _local_measure(p_site, v_site, rot, offset):
    """Range, azimuth (unwrapped), elevation, range rate: written again, not imported."""
    p = rot @ p_site + offset
    v = rot @ v_site
    rng = np.linalg.norm(p)
    return np.array([rng, np.arctan2(p[0], p[1]), np.arcsin(p[2] / rng), p @ v / rng])


def test_vacuum_flat_earth_matches_direct_least_squares_covariance():
    """C = G (A^T W A)^-1 G^T with A the finite-difference Jacobian of the measurements of the
    parabola p(t) = p0 + v0 t + g t^2 / 2 with respect to (p0, v0), G that of the closed-form
    ground crossing t_I = (v_u + sqrt(v_u^2 + 2 g u0)) / g, r_I = p0 + v0 t_I. Two radars, one
    without range rate; kappa enters neither and must drop out of the bound."""
    e = env(earth="flat", drag=False)
    g = e.g0_mps2
    r1 = radar_at([0.0, 0.0, 0.0])
    r1 = dataclasses.replace(r1, rot=np.eye(3), offset=np.zeros(3))  # flat earth: one vertical
    r2 = dataclasses.replace(
        r1, offset=-np.array([3000.0, 1000.0, 5.0]), sigma=r1.sigma * [2, 1, 1.5, np.nan]
    )
    radars = [r1, r2]
    t_ref = 3.0
    plot_t = np.concatenate([np.arange(-14.0, 3.01, 1.0), np.arange(-13.5, 3.0, 1.0)])
    sensor = np.concatenate([np.zeros(18, int), np.ones(17, int)])
    x_ref = X_TRUE.copy()

    def meas(theta):
        p0, v0 = theta[0:3], theta[3:6]
        out = []
        for t, s in zip(plot_t, sensor, strict=True):
            dt = t - t_ref
            p = p0 + v0 * dt + np.array([0.0, 0.0, -g]) * dt**2 / 2
            v = v0 + np.array([0.0, 0.0, -g]) * dt
            out.append(_local_measure(p, v, radars[s].rot, radars[s].offset)[: 4 if s == 0 else 3])
        return np.concatenate(out)

    def impact(theta):
        p0, v0 = theta[0:3], theta[3:6]
        t_i = (v0[2] + np.sqrt(v0[2] ** 2 + 2 * g * p0[2])) / g
        return (p0 + v0 * t_i)[0:2], t_i

    theta = x_ref[0:6]
    steps = np.array([1e-3] * 3 + [1e-4] * 3)
    A = np.zeros((meas(theta).size, 6))
    G = np.zeros((2, 6))
    for j in range(6):
        d = np.zeros(6)
        d[j] = steps[j]
        A[:, j] = (meas(theta + d) - meas(theta - d)) / (2 * steps[j])
        G[:, j] = (impact(theta + d)[0] - impact(theta - d)[0]) / (2 * steps[j])
    sig = np.concatenate([radars[s].sigma[: 4 if s == 0 else 3] for s in sensor])
    cov = G @ np.linalg.inv(A.T @ (A / sig[:, None] ** 2)) @ G.T

    res = impact_crlb(e, radars, G7, x_ref, t_ref, plot_t, sensor)
    np.testing.assert_allclose(res.cov_en_m2, cov, rtol=1e-6, atol=1e-9 * np.abs(cov).max())
    assert res.rms_m == pytest.approx(np.sqrt(np.trace(cov)), rel=1e-7)
    ipp, t_i = impact(theta)
    np.testing.assert_allclose(res.impact_enu_m[0:2], ipp, atol=1e-6)
    assert res.t_impact == pytest.approx(t_ref + t_i, abs=1e-8)
    assert np.isnan(res.state_cov[6, 6]) and res.fisher[6, 6] == 0.0
    np.testing.assert_allclose(res.sensitivity[:, 0:6], G, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------------------------
# Drag and a round earth: the impact sensitivity and the efficiency of a maximum-likelihood fit
# --------------------------------------------------------------------------------------------


def test_impact_sensitivity_matches_finite_differences_with_drag_on_round_earth():
    e = env()
    _, _, G = impact_sensitivity(e, G7, X_TRUE)
    steps = np.array([0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 1e-3])
    xs = np.repeat(X_TRUE[None, :], 14, axis=0)
    xs[np.arange(7), np.arange(7)] += steps
    xs[7 + np.arange(7), np.arange(7)] -= steps
    fl = fly_ballistic_to_ground(e, xs, G7, rtol=1e-12, atol=1e-9)
    gfd = (fl.y_end[0:7, 0:2] - fl.y_end[7:14, 0:2]).T / (2 * steps)
    assert np.all(np.abs(G - gfd) < 2e-4 * np.abs(gfd).max(axis=0))


def test_gauss_newton_fit_is_efficient_against_the_bound():
    """Monte Carlo: 500 seeded noise draws on 15 plots, a batched Gauss-Newton fit of x(t_ref)
    per draw, each fit flown to the ground. In the high-SNR limit the maximum-likelihood fit is
    unbiased and efficient, so its impact points scatter with the CRLB's covariance C.

    Tolerances: for N draws with C's eigenvalues l1, l2 the trace of the sample covariance has
    relative standard deviation s = sqrt(2 (l1^2 + l2^2) / (N - 1)) / (l1 + l2) (4.5-6.3 % at
    N = 500); we allow 3.5 s (a 1-in-2000 miss for a correct bound), about 16-22 %. The mean
    normalised error e^T C^-1 e is chi^2(2N) / N: its 0.1 % and 99.9 % points bound it. (The
    same draws scaled down 100-fold give the same ratios to 1 %: this is the high-SNR limit.)
    """
    from scipy.stats import chi2

    e = env()
    radar = radar_at([4000.0, 0.0, 0.0])
    sig = radar.sigma
    n_draws, k = 500, PLOT_T.size
    res = impact_crlb(e, [radar], G7, X_TRUE, 0.0, PLOT_T, np.zeros(k, int))
    assert np.isfinite(res.state_cov).all()

    rot = np.broadcast_to(radar.rot, (n_draws * k, 3, 3))
    off = np.broadcast_to(radar.offset, (n_draws * k, 3))
    dt = np.tile(PLOT_T, n_draws)
    z_true = measure(propagate_ballistic(e, np.repeat(X_TRUE[None], n_draws * k, 0), dt, G7), rot, off)
    rng = np.random.default_rng(20240611)
    z = z_true + rng.standard_normal(z_true.shape) * sig
    w = 1.0 / sig**2
    x = np.repeat(X_TRUE[None], n_draws, 0)
    for _ in range(4):
        xs, phi = propagate_ballistic(e, np.repeat(x, k, 0), dt, G7, stm=True, max_step_s=0.25)
        h = (measure_jacobian(xs, rot, off) @ phi).reshape(n_draws, k, 4, 7)
        nu = innovation(z, measure(xs, rot, off)).reshape(n_draws, k, 4)
        info = np.einsum("nkmi,m,nkmj->nij", h, w, h)
        grad = np.einsum("nkmi,m,nkm->ni", h, w, nu)
        x = x + np.linalg.solve(info, grad[:, :, None])[:, :, 0]
    ipp = fly_ballistic_to_ground(e, x, G7).y_end[:, 0:2]
    ipp_true = fly_ballistic_to_ground(e, X_TRUE[None], G7).y_end[0, 0:2]
    err = ipp - ipp_true
    C = res.cov_en_m2

    lam = np.linalg.eigvalsh(C)
    rel_sd = np.sqrt(2 * np.sum(lam**2) / (n_draws - 1)) / lam.sum()
    sample = np.cov(err.T)
    assert abs(np.trace(sample) / np.trace(C) - 1) < 3.5 * rel_sd
    nees = np.einsum("ni,ij,nj->n", err, np.linalg.inv(C), err).mean()
    assert chi2.ppf(0.001, 2 * n_draws) / n_draws < nees < chi2.ppf(0.999, 2 * n_draws) / n_draws
    # unbiased: the mean error within 4 standard errors on each axis
    assert np.all(np.abs(err.mean(axis=0)) < 4 * np.sqrt(np.diag(C) / n_draws))


# --------------------------------------------------------------------------------------------
# Laws of the bound: more plots never hurt, noise scales it as sigma^2, a prior only helps
# --------------------------------------------------------------------------------------------


def test_more_plots_never_increase_the_bound():
    e = env()
    radar = radar_at([4000.0, 0.0, 0.0])
    covs = []
    for first in range(-4, -15, -1):  # ever longer observation, same reference state
        t = PLOT_T[PLOT_T >= first]
        covs.append(impact_crlb(e, [radar], G7, X_TRUE, 0.0, t, np.zeros(t.size, int)).cov_en_m2)
    for shorter, longer in zip(covs[:-1], covs[1:], strict=True):
        # C_longer <= C_shorter in the positive semi-definite order (and so does the trace)
        assert np.linalg.eigvalsh(shorter - longer).min() > -1e-9 * np.trace(shorter)
    assert np.trace(covs[-1]) < 0.5 * np.trace(covs[0])


def test_bound_scales_as_noise_squared_and_range_rate_helps():
    e = env()
    sensor = np.zeros(PLOT_T.size, int)
    base = impact_crlb(e, [radar_at([4000.0, 0.0, 0.0])], G7, X_TRUE, 0.0, PLOT_T, sensor)
    noisy = impact_crlb(
        e, [radar_at([4000.0, 0.0, 0.0], (30.0, 0.9, 0.9, 3.0))], G7, X_TRUE, 0.0, PLOT_T, sensor
    )
    np.testing.assert_allclose(noisy.cov_en_m2, 9.0 * base.cov_en_m2, rtol=1e-9)
    assert noisy.rms_m == pytest.approx(3.0 * base.rms_m, rel=1e-9)
    no_rdot = impact_crlb(e, [radar_at([4000.0, 0.0, 0.0])], G7, X_TRUE, 0.0, PLOT_T, sensor, use_rdot=False)
    assert np.linalg.eigvalsh(no_rdot.cov_en_m2 - base.cov_en_m2).min() > -1e-9 * base.rms_m**2
    no_rdot_radar = impact_crlb(
        e, [radar_at([4000.0, 0.0, 0.0], (10.0, 0.3, 0.3, None))], G7, X_TRUE, 0.0, PLOT_T, sensor
    )
    np.testing.assert_allclose(no_rdot_radar.cov_en_m2, no_rdot.cov_en_m2, rtol=1e-12)


def test_prior_on_kappa_bounds_a_short_arc():
    """Three plots in 1 s hardly see the drag: a weak prior on kappa (sigma 1) gives a bound
    below the prior-free one and near the one with kappa known."""
    e = env()
    radar = radar_at([4000.0, 0.0, 0.0])
    t = np.array([-1.0, -0.5, 0.0])
    free = impact_crlb(e, [radar], G7, X_TRUE, 0.0, t, np.zeros(3, int))
    prior = np.diag([1e8] * 6 + [1.0])
    weak = impact_crlb(e, [radar], G7, X_TRUE, 0.0, t, np.zeros(3, int), prior_cov=prior)
    known = impact_crlb(
        e, [radar], G7, X_TRUE, 0.0, t, np.zeros(3, int), prior_cov=np.diag([1e8] * 6 + [1e-12])
    )
    assert known.rms_m < weak.rms_m < free.rms_m
    assert np.sqrt(weak.state_cov[6, 6]) < 1.0


# --------------------------------------------------------------------------------------------
# Equivalent kappa: the tracker's G7 drag factor of a catalog round
# --------------------------------------------------------------------------------------------


def test_equivalent_kappa_gives_the_same_drag_and_the_same_impact():
    e = env()
    m = CATALOG["mortar-120mm"]
    kap = equivalent_kappa(m, e, 280.0, 1500.0)
    v = np.array([[0.0, 200.0, -193.9]]) * 280.0 / np.hypot(200.0, 193.9)
    h = np.array([1500.0])
    own, _ = drag_acceleration(e, h, v, np.array([m.form_factor * m.area_m2 / m.mass_kg]), m.law_idx)
    trk, _ = drag_acceleration(e, h, v, np.exp([kap]), G7)
    np.testing.assert_allclose(trk, own, rtol=1e-12)
    # the truth flight 10 s before impact, continued in the tracker's model, lands where it did
    fl = fly_munitions(e, [m], [[0.0, -7000.0, 0.0]], 0.0, np.radians(50.0), sample_dt_s=0.5)
    i = int(round((fl.t_end_s[0] - 10.0) / 0.5))
    y = fl.samples[0, i]
    x = np.concatenate([y[0:6], [equivalent_kappa(m, e, np.linalg.norm(y[3:6]), e.height_m(y[:3]))]])
    _, y_imp, _ = impact_sensitivity(e, G7, x)
    assert np.linalg.norm(y_imp[0:2] - fl.y_end[0, 0:2]) < 2.0
