"""Batched extended Kalman filter for ballistic tracks (and the constant-velocity alternative).

Every function takes all tracks (or all track-plot pairs) at once: states ``x`` (N, d),
covariances ``P`` (N, d, d), and returns new arrays. Notation as in Bar-Shalom, Li &
Kirubarajan, *Estimation with Applications to Tracking and Navigation* (2001), ch. 5 and 10.

Why an EKF and not a UKF: the ballistic dynamics are mildly nonlinear over one revisit and
the flight model gives its exact Jacobian (the variational equations ride along the same
RK4 steps), so the EKF is as accurate here as sigma points at a fraction of the cost: one
propagation of N states with their 7x7 transition matrices instead of 15 N sigma-point
flights. The measurement nonlinearity (range, azimuth, elevation) is small once the track
is initiated: cross-range uncertainty stays far below range. The NEES test checks that the
linearisation keeps the filter consistent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..physics.flight import FlightEnv, ballistic_acceleration, ballistic_jacobian, propagate_ballistic
from .models import cv_transition, process_noise


@dataclass(frozen=True)
class FilterParams:
    """Process noise and integration step of the ballistic filter.

    ``q_accel_m2ps3``: spectral density of the white acceleration noise per axis (m^2/s^3),
    standing for what the model leaves out (the round's own drag curve against the
    standard law, wind, thrust tails); ``q_kappa_per_s``: random walk of kappa = ln(i A/m);
    ``max_step_s``: longest RK4 sub-step of a prediction, ``max_substeps`` the most sub-steps
    one prediction takes (a track silent for seconds is carried in longer steps; it is
    tentative or about to be dropped); ``law_idx``: index of the drag law
    the tracker assumes; ``q_cv_m2ps3``: the constant-velocity alternative's noise.
    """

    law_idx: int
    q_accel_m2ps3: float = 0.05
    q_kappa_per_s: float = 1e-3
    max_step_s: float = 1.0
    max_substeps: int = 4
    q_cv_m2ps3: float = 0.3


def ekf_predict(env: FlightEnv, x, P, dt_s, fp: FilterParams):
    """Predict states and covariances by dt_s (N,) through the flight model.

    x' = f(x, dt)   (RK4 of the ballistic dynamics);   P' = Phi P Phi^T + Q(dt)
    """
    x_new, phi = propagate_ballistic(
        env, x, dt_s, fp.law_idx, stm=True, max_step_s=fp.max_step_s, max_substeps=fp.max_substeps
    )
    P_new = phi @ P @ np.swapaxes(phi, 1, 2) + process_noise(dt_s, fp.q_accel_m2ps3, fp.q_kappa_per_s)
    return x_new, P_new


def continuous_jacobian(env: FlightEnv, x, fp: FilterParams):
    """f(x) (N, 7) and A = df/dx (N, 7, 7) of the ballistic dynamics at x."""
    n = x.shape[0]
    r, v, kappa = x[:, 0:3], x[:, 3:6], x[:, 6]
    f = np.zeros((n, 7))
    f[:, 0:3] = v
    f[:, 3:6] = ballistic_acceleration(env, r, v, np.exp(kappa), fp.law_idx)
    da_dr, da_dv, da_dk = ballistic_jacobian(env, r, v, kappa, fp.law_idx)
    A = np.zeros((n, 7, 7))
    A[:, 0:3, 3:6] = np.eye(3)
    A[:, 3:6, 0:3] = da_dr
    A[:, 3:6, 3:6] = da_dv
    A[:, 3:6, 6] = da_dk
    return f, A


def taylor_predict(f, A, x, P, dt_s, fp: FilterParams):
    """Short predictions (|dt| well under a second) by a second-order Taylor expansion.

    x' = x + f dt + 1/2 A f dt^2;   F = I + A dt + 1/2 A^2 dt^2;   P' = F P F^T + Q(dt).
    Used to carry a track predicted to a batch's reference time to each plot's own time;
    the neglected third-order terms (jerk dt^3 / 6) are millimetres for dt <= 0.5 s.
    """
    dt = np.asarray(dt_s, float)
    d1 = dt[:, None]
    Af = np.einsum("nij,nj->ni", A, f)
    x_new = x + f * d1 + 0.5 * Af * d1**2
    d2 = dt[:, None, None]
    F = np.eye(7) + A * d2 + 0.5 * (A @ A) * d2**2
    P_new = F @ P @ np.swapaxes(F, 1, 2) + process_noise(dt, fp.q_accel_m2ps3, fp.q_kappa_per_s)
    return x_new, P_new


def kalman_update(x, P, nu, H, R):
    """Batched Kalman update in Joseph form.

    S = H P H^T + R,  K = P H^T S^-1,  x+ = x + K nu,
    P+ = (I - K H) P (I - K H)^T + K R K^T,  d^2 = nu^T S^-1 nu (the NIS).
    Returns (x+, P+, S, d^2, K nu).
    """
    Ht = np.swapaxes(H, 1, 2)
    PHt = P @ Ht
    S = H @ PHt + R
    S = 0.5 * (S + np.swapaxes(S, 1, 2))
    # K = P H^T S^-1  <=>  S K^T = H P  (S symmetric)
    Kt = np.linalg.solve(S, np.swapaxes(PHt, 1, 2))
    K = np.swapaxes(Kt, 1, 2)
    dx = np.einsum("nij,nj->ni", K, nu)
    d2 = np.einsum("ni,ni->n", nu, np.linalg.solve(S, nu[:, :, None])[:, :, 0])
    IKH = np.eye(P.shape[1]) - K @ H
    P_new = IKH @ P @ np.swapaxes(IKH, 1, 2) + K @ R @ Kt
    P_new = 0.5 * (P_new + np.swapaxes(P_new, 1, 2))
    return x + dx, P_new, S, d2, dx


def gaussian_loglik(d2, S, dof):
    """ln N(nu; 0, S) = -1/2 (d^2 + ln det(2 pi S)) over ``dof`` effective dimensions.

    Unused range-rate slots carry unit variance, no correlation and zero innovation, so they
    add nothing to d^2 or to ln det S; only the 2 pi factor counts the used dimensions.
    """
    _, logdet = np.linalg.slogdet(S)
    return -0.5 * (d2 + logdet + dof * np.log(2.0 * np.pi))


def cv_predict(x, P, dt_s, q_m2ps3: float):
    """Constant-velocity model (the non-ballistic hypothesis): x' = F x, P' = F P F^T + Q."""
    F = cv_transition(dt_s)
    Q = process_noise(dt_s, q_m2ps3, 0.0)[:, 0:6, 0:6]
    return np.einsum("nij,nj->ni", F, x), F @ P @ np.swapaxes(F, 1, 2) + Q
