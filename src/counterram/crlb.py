"""The Cramér-Rao lower bound (CRLB) of the impact-point error for a given geometry and radar noise.

The report states how close the tracker comes to the best possible: no unbiased estimator of
the impact point, given the same radar plots, can have an error covariance smaller than the
bound computed here. The model is the tracker's own (:mod:`counterram.physics.flight`):

    x = [e, n, u, ve, vn, vu, kappa]        site ENU, kappa = ln k, drag 1/2 rho k Cd_law(M) |v_r| v_r

with *deterministic* dynamics (no process noise: a ballistic round's path is fixed by its state
at any one time), so all plots inform the state x(t_ref) at one reference time.

Fisher information of x(t_ref) from plots k = 1..K at times t_k (Gaussian noise, R_k diagonal)::

    J = sum_k H_k^T R_k^-1 H_k  (+ P0^-1),      H_k = H(x(t_k)) Phi(t_k, t_ref)

where H is :func:`counterram.tracking.models.measure_jacobian` (range, azimuth, elevation,
range rate; the range-rate row dropped for a radar without one) and Phi(t_k, t_ref) =
d x(t_k) / d x(t_ref) is the state-transition matrix of the flight, propagated backward from
t_ref to every plot time in one batched call of :func:`propagate_ballistic`.

Impact point. The flight from x(t_ref) meets the ground (h(r) = h_g) at time T with position
r_I and velocity v_I; Phi_r (3 x 7) are the position rows of Phi(T, t_ref). A perturbation dx
moves the crossing point along the path until it is back on the ground (u the local up at r_I,
the gradient of height)::

    d r_I = Phi_r dx - v_I (u . Phi_r dx) / (u . v_I) = (I - v_I u^T / (u . v_I)) Phi_r dx
    G     = [I_2 0] (I - v_I u^T / (u . v_I)) Phi_r                    (2 x 7: east, north)

and the bound on the covariance of any unbiased impact-point estimate is::

    C = G J^-1 G^T  (2 x 2, m^2),      rms = sqrt(trace C)  (horizontal RMS error bound)

Nuisance directions: when a state component enters neither J nor G (kappa in a vacuum
flight) it is dropped before inverting. When a flight segment is too short to see the drag,
J is nearly singular in kappa and the bound is very large but finite; a weak prior
``prior_cov`` (e.g. sigma_kappa = 1 on kappa, a factor e on the drag) adds P0^-1 to J and
turns the bound into the Bayesian (posterior) information bound of that prior.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .physics.flight import FlightEnv, fly_ballistic_to_ground, propagate_ballistic
from .physics.munitions import TRACKER_LAW, Munition
from .sensing.radar import RadarGeometry
from .tracking.models import STATE_DIM, measure_jacobian


@dataclass(frozen=True)
class CrlbResult:
    """The bound for one reference state.

    ``cov_en_m2`` (2, 2): C = G J^-1 G^T of the impact point's east and north (m^2);
    ``rms_m``: sqrt(trace C), the bound on the horizontal RMS impact-point error (m);
    ``t_impact``: time of the ground crossing (same clock as ``t_ref`` and the plots);
    ``impact_enu_m`` (3,): the crossing point; ``fisher`` (7, 7): J (with the prior, if any);
    ``state_cov`` (7, 7): J^-1, the CRLB of x(t_ref) (NaN rows/columns for components that
    neither the plots nor the impact point depend on); ``sensitivity`` (2, 7): G;
    ``n_plots``: plots used.
    """

    cov_en_m2: np.ndarray
    rms_m: float
    t_impact: float
    impact_enu_m: np.ndarray
    fisher: np.ndarray
    state_cov: np.ndarray
    sensitivity: np.ndarray
    n_plots: int


def plot_information(
    env: FlightEnv,
    radars: Sequence[RadarGeometry],
    law_idx: int,
    x_ref,
    t_ref: float,
    plot_t,
    plot_sensor,
    *,
    use_rdot: bool = True,
    max_step_s: float = 0.25,
) -> np.ndarray:
    """Fisher information J (7, 7) of x(t_ref) from the plots: sum_k H_k^T R_k^-1 H_k.

    H_k = H(x(t_k)) Phi(t_k, t_ref); one batched propagation of K copies of ``x_ref`` by
    dt_k = t_k - t_ref (negative for past plots) gives every x(t_k) and Phi(t_k, t_ref).
    """
    x_ref = np.asarray(x_ref, float)
    plot_t = np.asarray(plot_t, float)
    sensor = np.asarray(plot_sensor, int)
    k = plot_t.size
    if k == 0:
        return np.zeros((STATE_DIM, STATE_DIM))
    dt = plot_t - t_ref
    substeps = int(np.ceil(np.max(np.abs(dt)) / max_step_s)) + 1
    xs, phi = propagate_ballistic(
        env,
        np.broadcast_to(x_ref, (k, STATE_DIM)),
        dt,
        law_idx,
        stm=True,
        max_step_s=max_step_s,
        max_substeps=max(64, substeps),
    )
    rot = np.stack([r.rot for r in radars])[sensor]
    offset = np.stack([r.offset for r in radars])[sensor]
    sigma = np.stack([r.sigma for r in radars])[sensor]
    h = measure_jacobian(xs, rot, offset) @ phi  # (K, 4, 7)
    w = 1.0 / sigma**2  # R_k^-1 (diagonal)
    w[:, 3] = np.where(np.isfinite(sigma[:, 3]) & use_rdot, w[:, 3], 0.0)
    return np.einsum("kmi,km,kmj->ij", h, w, h)


def impact_sensitivity(env: FlightEnv, law_idx: int, x_ref, *, max_step_s: float = 0.5):
    """Fly x_ref to the ground: (time of flight T, crossing state (6,), G (2, 7)).

    G = [I_2 0] (I - v_I u^T / (u . v_I)) Phi_r, Phi_r the position rows of Phi(T, t_ref) from
    the flight's own state-transition matrix (``max_step_s`` caps the adaptive steps, inside
    which the matrix is interpolated linearly to the crossing).
    """
    x_ref = np.asarray(x_ref, float)
    fl = fly_ballistic_to_ground(env, x_ref[None, :], law_idx, stm=True, max_step_s=max_step_s)
    if not fl.landed[0]:
        raise ValueError("the reference state does not reach the ground")
    y = fl.y_end[0]
    r_i, v_i = y[0:3], y[3:6]
    phi_r = y[7:].reshape(STATE_DIM, STATE_DIM)[0:3]
    u = env.up(r_i)
    slide = np.eye(3) - np.outer(v_i, u) / (u @ v_i)
    return float(fl.t_end_s[0]), y[0:6].copy(), (slide @ phi_r)[0:2]


def _bound(fisher: np.ndarray, g: np.ndarray):
    """(G J^-1 G^T, J^-1) with the components that enter neither J nor G left out.

    J is inverted after symmetric scaling by its diagonal (the state mixes metres and ln units).
    """
    used = (np.abs(fisher).sum(axis=0) > 0) | (np.abs(g).sum(axis=0) > 0)
    j = fisher[np.ix_(used, used)]
    d = np.sqrt(np.diag(j))
    if np.any(d == 0):
        raise np.linalg.LinAlgError("the plots carry no information on a state component the impact needs")
    inv = np.linalg.inv(j / np.outer(d, d)) / np.outer(d, d)
    inv = 0.5 * (inv + inv.T)
    state_cov = np.full(fisher.shape, np.nan)
    state_cov[np.ix_(used, used)] = inv
    gu = g[:, used]
    cov = gu @ inv @ gu.T
    return 0.5 * (cov + cov.T), state_cov


def impact_crlb(
    env: FlightEnv,
    radars: Sequence[RadarGeometry],
    law_idx: int,
    x_ref,
    t_ref: float,
    plot_t,
    plot_sensor,
    use_rdot: bool = True,
    prior_cov=None,
    *,
    max_step_s: float = 0.25,
) -> CrlbResult:
    """CRLB of the impact point of the flight through ``x_ref`` (7,) at ``t_ref``, given plots.

    ``plot_t`` (K,) and ``plot_sensor`` (K,) are the times and radar indices (into ``radars``)
    of the object's plots available up to ``t_ref``; each plot contributes
    H_k^T R_k^-1 H_k with R_k = diag(sigma^2) of its radar (range rate only where the radar
    measures it and ``use_rdot``). ``prior_cov`` (7, 7), optional, adds prior information
    P0^-1 (a weak prior on kappa keeps J invertible when the plots span too short a flight to
    see the drag; the result is then the bound given that prior). ``law_idx`` is the drag law
    the model assumes (the tracker's: ``env.laws.index(TRACKER_LAW)``).

    C = G J^-1 G^T (module docstring); ``max_step_s`` is the sub-step of the backward
    propagation to the plot times (RK4, transition matrix to third order per sub-step).
    Raises :class:`numpy.linalg.LinAlgError` when the plots (and prior) carry no information on
    a component the impact point depends on (no plots at all, say), ``ValueError`` when the
    flight does not reach the ground.
    """
    x_ref = np.asarray(x_ref, float)
    fisher = plot_information(
        env, radars, law_idx, x_ref, t_ref, plot_t, plot_sensor, use_rdot=use_rdot, max_step_s=max_step_s
    )
    if prior_cov is not None:
        fisher = fisher + np.linalg.inv(np.asarray(prior_cov, float))
    tof, y_imp, g = impact_sensitivity(env, law_idx, x_ref)
    cov, state_cov = _bound(fisher, g)
    return CrlbResult(
        cov_en_m2=cov,
        rms_m=float(np.sqrt(max(np.trace(cov), 0.0))),
        t_impact=float(t_ref + tof),
        impact_enu_m=y_imp[0:3],
        fisher=fisher,
        state_cov=state_cov,
        sensitivity=g,
        n_plots=int(np.size(plot_t)),
    )


def equivalent_kappa(munition: Munition, env: FlightEnv, speed_mps: float, height_m: float) -> float:
    """The tracker's kappa giving the same drag as ``munition`` at an airspeed and a height.

    The munition's drag factor on its own law, k = i A / m, is carried over to the tracker's
    law (G7) at the Mach number M = speed / a(h)::

        k_G7 = i A / m * Cd_law(M) / Cd_G7(M),        kappa = ln k_G7

    ``height_m`` is above the WGS-84 ellipsoid (as :meth:`FlightEnv.height_m` gives it); the
    mass is the coasting mass (a rocket after burn-out).
    """
    _, a_sound = env.atmosphere.rho_a(np.asarray([height_m], float))
    mach = speed_mps / a_sound
    cd_own, _ = env.laws.coefficient(env.laws.index(munition.drag_law), mach)
    cd_trk, _ = env.laws.coefficient(env.laws.index(TRACKER_LAW), mach)
    k = munition.form_factor * munition.area_m2 / munition.burnt_mass_kg * cd_own[0] / cd_trk[0]
    return float(np.log(k))
