"""A slow, obviously correct, one-track-at-a-time EKF: the reference the batched filter must equal.

Everything here is written for a single track with explicit loops and textbook formulas, so
that the batched code in ``counterram.tracking`` can be checked against it number for number.
The physics (acceleration and its Jacobian at one point) is shared: it is the model, not the
estimator, that is under test elsewhere.
"""

from __future__ import annotations

import numpy as np

from counterram.physics.flight import ballistic_acceleration, ballistic_jacobian


def f(env, law, x):
    """dx/dt for one state x (7,)."""
    a = ballistic_acceleration(env, x[None, 0:3], x[None, 3:6], np.exp(x[6]), law)[0]
    return np.concatenate([x[3:6], a, [0.0]])


def jacobian(env, law, x):
    """A = df/dx (7, 7) for one state."""
    da_dr, da_dv, da_dk = ballistic_jacobian(env, x[None, 0:3], x[None, 3:6], x[None, 6], law)
    A = np.zeros((7, 7))
    for i in range(3):
        A[i, 3 + i] = 1.0
    A[3:6, 0:3] = da_dr[0]
    A[3:6, 3:6] = da_dv[0]
    A[3:6, 6] = da_dk[0]
    return A


def predict(env, law, x, P, dt, q_accel, q_kappa, max_step, max_substeps):
    """RK4 sub-steps for the state; per sub-step Phi_k = I + M + M^2/2 + M^3/6 with
    M = h (A(x_k) + A(x_k+1)) / 2; P' = Phi P Phi^T + Q(dt)."""
    need = min(max(1, int(np.ceil(abs(dt) / max_step - 1e-12))), max_substeps)
    k = 1
    while k < need:
        k *= 2
    h = dt / k
    phi = np.eye(7)
    a0 = jacobian(env, law, x)
    for _ in range(k):
        k1 = f(env, law, x)
        k2 = f(env, law, x + h / 2 * k1)
        k3 = f(env, law, x + h / 2 * k2)
        k4 = f(env, law, x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        a1 = jacobian(env, law, x)
        m = h * (a0 + a1) / 2
        phi = (np.eye(7) + m + m @ m / 2 + m @ m @ m / 6) @ phi
        a0 = a1
    q = np.zeros((7, 7))
    t = abs(dt)
    for i in range(3):
        q[i, i] = q_accel * t**3 / 3
        q[i, i + 3] = q[i + 3, i] = q_accel * t**2 / 2
        q[i + 3, i + 3] = q_accel * t
    q[6, 6] = q_kappa * t
    return x, phi @ P @ phi.T + q


def update(x, P, nu, H, R):
    """Textbook Kalman update, Joseph form, with an explicit inverse."""
    S = H @ P @ H.T + R
    K = P @ H.T @ np.linalg.inv(S)
    I_KH = np.eye(len(x)) - K @ H
    return x + K @ nu, I_KH @ P @ I_KH.T + K @ R @ K.T, float(nu @ np.linalg.inv(S) @ nu)
