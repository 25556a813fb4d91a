"""Tracking models as pure, batched functions: measurement, process noise, the CV alternative.

State of a ballistic track (site ENU frame)::

    x = [e, n, u, ve, vn, vu, kappa]      metres, m/s, kappa = ln(i A / m) in ln(m^2/kg)

Its dynamics are the flight model's (:func:`counterram.physics.flight.propagate_ballistic`):
gravity toward the Earth's centre plus drag 1/2 rho k Cd_G7(M) |v_r| v_r with k = exp(kappa).

Measurement of a radar with site->radar transform ``p = rot @ r + offset``::

    range = |p|,  az = atan2(p_e, p_n),  el = asin(p_u / |p|),  rdot = p . (rot v) / |p|

Every measurement vector has four slots; a radar without range rate gets a zero row in H,
a zero innovation and unit variance there, which leaves the update and the likelihood of the
other three untouched (the chi-square gate then uses 3 degrees of freedom).
"""

from __future__ import annotations

import numpy as np

STATE_DIM = 7
MEAS_DIM = 4
#: the kinematic part of the state: position and velocity
KIN = slice(0, 6)


def wrap_angle(a):
    """Wrap angles (rad) to (-pi, pi]."""
    return np.pi - np.mod(np.pi - np.asarray(a), 2.0 * np.pi)


def measure(x, rot, offset):
    """h(x): (K, 4) range (m), azimuth (rad, [0, 2pi)), elevation (rad), range rate (m/s).

    ``x`` (K, >=6) site-ENU states; ``rot`` (K, 3, 3) and ``offset`` (K, 3) each row's radar.
    """
    p = np.einsum("kij,kj->ki", rot, x[:, 0:3]) + offset
    v = np.einsum("kij,kj->ki", rot, x[:, 3:6])
    rng = np.sqrt(np.einsum("ki,ki->k", p, p))
    az = np.mod(np.arctan2(p[:, 0], p[:, 1]), 2.0 * np.pi)
    el = np.arcsin(np.clip(p[:, 2] / rng, -1.0, 1.0))
    rdot = np.einsum("ki,ki->k", p, v) / rng
    return np.stack([rng, az, el, rdot], axis=1)


def measure_jacobian(x, rot, offset, n_state: int = STATE_DIM):
    """H = dh/dx (K, 4, n_state) for :func:`measure` (kappa column zero).

    With p in the radar frame, rho = |p|, rho_h = |p_en|::

        d range / dp = p^T / rho
        d az / dp    = [p_n, -p_e, 0] / rho_h^2
        d el / dp    = [-p_e p_u, -p_n p_u, rho_h^2] / (rho^2 rho_h)
        d rdot / dp  = (v - rdot p / rho)^T / rho,     d rdot / dv = p^T / rho
    and d/dr = (d/dp) rot, d/dv = (d/dv_local) rot.
    """
    p = np.einsum("kij,kj->ki", rot, x[:, 0:3]) + offset
    v = np.einsum("kij,kj->ki", rot, x[:, 3:6])
    rng2 = np.einsum("ki,ki->k", p, p)
    rng = np.sqrt(rng2)
    h2 = p[:, 0] ** 2 + p[:, 1] ** 2
    hor = np.sqrt(h2)
    k = p.shape[0]
    dp = np.zeros((k, 4, 3))
    dp[:, 0] = p / rng[:, None]
    dp[:, 1, 0] = p[:, 1] / h2
    dp[:, 1, 1] = -p[:, 0] / h2
    dp[:, 2, 0] = -p[:, 0] * p[:, 2] / (rng2 * hor)
    dp[:, 2, 1] = -p[:, 1] * p[:, 2] / (rng2 * hor)
    dp[:, 2, 2] = hor / rng2
    rdot = np.einsum("ki,ki->k", p, v) / rng
    dp[:, 3] = (v - (rdot / rng)[:, None] * p) / rng[:, None]
    H = np.zeros((k, 4, n_state))
    H[:, :, 0:3] = dp @ rot
    H[:, 3, 3:6] = np.einsum("ki,kij->kj", p / rng[:, None], rot)
    return H


def innovation(z, z_hat):
    """nu = z - h(x) with the azimuth difference wrapped to (-pi, pi]; NaN range rate -> 0."""
    nu = z - z_hat
    nu[:, 1] = wrap_angle(nu[:, 1])
    nu[:, 3] = np.where(np.isnan(z[:, 3]), 0.0, nu[:, 3])
    return nu


def measurement_noise(sigma, has_rdot):
    """R (K, 4, 4) from per-row sigmas (range m, az rad, el rad, rdot m/s); unit variance in an
    unused range-rate slot (its H row is zeroed by :func:`mask_rdot`)."""
    s = np.array(sigma, float, copy=True)
    s[:, 3] = np.where(has_rdot, s[:, 3], 1.0)
    R = np.zeros((s.shape[0], 4, 4))
    idx = np.arange(4)
    R[:, idx, idx] = s**2
    return R


def mask_rdot(H, has_rdot):
    """Zero the range-rate row of H where a plot has no range rate."""
    H[~has_rdot, 3, :] = 0.0
    return H


def drop_components(nu, S, used):
    """Innovations and innovation covariances restricted to the components in ``used`` (K, 4).

    A dropped component gets zero innovation, no correlation and unit variance, so that
    d^2 = nu^T S^-1 nu and ln det S only count the kept ones.
    """
    nu = np.where(used, nu, 0.0)
    keep2 = used[:, :, None] & used[:, None, :]
    eye = np.broadcast_to(np.eye(4, dtype=bool), S.shape)
    S = np.where(keep2, S, np.where(eye, 1.0, 0.0))
    return nu, S


def mahalanobis2(nu, S):
    """d^2 = nu^T S^-1 nu for rows of nu (K, m) and S (K, m, m)."""
    return np.einsum("ni,ni->n", nu, np.linalg.solve(S, nu[:, :, None])[:, :, 0])


def process_noise(dt_s, q_accel_m2ps3: float, q_kappa_per_s: float):
    """Q (N, 7, 7): continuous white-noise acceleration on each axis plus a random walk on kappa.

    Per axis, for position and velocity:  q [[dt^3/3, dt^2/2], [dt^2/2, dt]];  kappa: q_k dt.
    ``dt_s`` may be negative (a plot older than the state); |dt| is used.
    """
    dt = np.abs(np.asarray(dt_s, float))
    n = dt.size
    Q = np.zeros((n, 7, 7))
    a = q_accel_m2ps3
    for i in range(3):
        Q[:, i, i] = a * dt**3 / 3.0
        Q[:, i, i + 3] = Q[:, i + 3, i] = a * dt**2 / 2.0
        Q[:, i + 3, i + 3] = a * dt
    Q[:, 6, 6] = q_kappa_per_s * dt
    return Q


def cv_transition(dt_s):
    """F (N, 6, 6) of the constant-velocity model: r += v dt."""
    dt = np.asarray(dt_s, float)
    F = np.broadcast_to(np.eye(6), (dt.size, 6, 6)).copy()
    idx = np.arange(3)
    F[:, idx, idx + 3] = dt[:, None]
    return F


def converted_position(range_m, az_rad, el_rad, sigma, rot, offset):
    """Plots -> site-ENU positions (M, 3) and their covariances (M, 3, 3) (first-order).

    p_local = rho [cos el sin az, cos el cos az, sin el],  r_site = rot^T (p_local - offset),
    Cov = rot^T J diag(sigma_r^2, sigma_az^2, sigma_el^2) J^T rot.
    """
    ce, se = np.cos(el_rad), np.sin(el_rad)
    ca, sa = np.cos(az_rad), np.sin(az_rad)
    p = np.stack([range_m * ce * sa, range_m * ce * ca, range_m * se], axis=1)
    r = np.einsum("kji,kj->ki", rot, p - offset)
    J = np.zeros((len(range_m), 3, 3))
    J[:, :, 0] = np.stack([ce * sa, ce * ca, se], axis=1)
    J[:, :, 1] = np.stack([range_m * ce * ca, -range_m * ce * sa, np.zeros_like(se)], axis=1)
    J[:, :, 2] = np.stack([-range_m * se * sa, -range_m * se * ca, range_m * ce], axis=1)
    D = np.zeros((len(range_m), 3, 3))
    idx = np.arange(3)
    D[:, idx, idx] = np.asarray(sigma)[:, 0:3] ** 2
    C = J @ D @ np.swapaxes(J, 1, 2)
    rt = np.swapaxes(rot, 1, 2)
    return r, rt @ C @ rot
