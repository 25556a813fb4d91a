"""Impact point and point of origin of ballistic tracks, with covariance, vectorised over tracks.

The flight model flies each track's state forward to the ground (impact) and backward to it
(origin). Two ways carry the state covariance P to the ground point:

* linearisation (``method="linear"``): the transition matrix Phi from the state to the
  crossing rides along the flight; moving the state by dx moves the crossing by
      dr = (I - v u^T / (u . v)) Phi_r dx           (u: local up, v: velocity at the crossing)
  so the east/north covariance is G P G^T with G the east/north rows of that map;
* sigma points (``method="sigma"``): the 2n points x +- sqrt(n P)_i (n = 7, equal weights)
  are flown to the ground and their impact points' mean and covariance taken.

``docs/prediction.md`` reports which matches the spread of Monte Carlo impacts better; the
default is the better one.

A rocket's boost is invisible to a ballistic back-flight: back-flown from burn-out at full
speed, the round reaches its launcher too soon. The back-flight still lands near the
launcher (the powered path is short and nearly straight); the launch time is moved earlier by
half the catalog burn time (:func:`boost_time_correction_s`), and the tests measure the bias
left in place and time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .physics.flight import (
    FlightEnv,
    ballistic_jacobian,
    fly_ballistic_to_ground,
    gravity_and_height,
    integrate_to_ground,
)
from .physics.munitions import CATALOG

#: integration tolerances and longest step of predictions: impact and origin points within ~1 m
#: (99th percentile; 6 m at worst) and covariances within ~2 % of a tight integration, far below
#: their spread (docs/prediction.md). The step cap matters: the error estimate misses the drag
#: law's transonic kinks, so 20 s steps put fast rounds (155 mm, 122 mm) 40 m off (99th pct.)
PRED_RTOL = 1e-5
PRED_ATOL = (1.0, 1.0, 1.0, 0.01, 0.01, 0.01)
PRED_MAX_STEP_S = 2.0
#: a prediction whose flight passes this speed is abandoned (a fast state flown back through drag)
PRED_MAX_SPEED_MPS = 2500.0


@dataclass(frozen=True)
class GroundPoints:
    """Where N states meet the ground (forward: impact; backward: origin).

    ``enu_m`` (N, 3), ``dt_s`` (N,) time from the state to the ground (negative backward),
    ``cov_en_m2`` (N, 2, 2) east/north covariance, ``speed_mps`` at the ground,
    ``ok`` (N,) False where the ground was not reached within the time limit.
    """

    enu_m: np.ndarray
    dt_s: np.ndarray
    cov_en_m2: np.ndarray
    speed_mps: np.ndarray
    ok: np.ndarray

    def take(self, idx) -> GroundPoints:
        """The rows ``idx`` (an index or mask array)."""
        return GroundPoints(*(getattr(self, f.name)[idx] for f in fields(self)))

    @staticmethod
    def concat(parts) -> GroundPoints:
        return GroundPoints(
            *(np.concatenate([getattr(g, f.name) for g in parts]) for f in fields(GroundPoints))
        )


def _crossing_map(env: FlightEnv, pos, vel):
    """M = I - v u^T / (u . v) (N, 3, 3): how a displaced trajectory's ground crossing moves."""
    up = env.up(pos)
    uv = np.einsum("ni,ni->n", up, vel)
    uv = np.where(np.abs(uv) > 1e-6, uv, -1e-6)
    return np.eye(3) - np.einsum("ni,nj->nij", vel, up) / uv[:, None, None]


#: signs that turn a backward flight into a forward one: the state x' = D x (velocity reversed)
#: and rows 0-5 of its transition matrix, Phi' = D Phi D, D = diag(1, 1, 1, -1, -1, -1, 1)
_D = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0])
_FLIP = np.concatenate([_D, np.outer(_D[0:6], _D).ravel()])


class _TwoWayBallistic:
    """Ballistic flight and its transition matrix for :func:`integrate_to_ground`, each row
    forward or backward in time, so that impacts and origins are flown in one integration.

    A backward row is flown forward in reversed time s = -t with the velocity reversed,
    y' = D y, Phi' = D Phi D (D = diag(1, 1, 1, -1, -1, -1, 1)); with A = [[0, I, 0],
    [A_r, A_v, A_k], [0, 0, 0]] the Jacobian of the ballistic dynamics (A_k = da/dkappa):

        dr/ds = -v,   d(-v)/ds = a(r, v, e^kappa),   dPhi'/ds = -D A D Phi'
        i.e.  dPhi'_r/ds = Phi'_v,   dPhi'_v/ds = A_r Phi'_r - A_v Phi'_v + A_k e_7^T

    the forward equations with A_v negated. Only sign flips, which are exact, separate this
    from flying the row with ``backward=True``: every step, error estimate and ground
    crossing is the same, bit for bit. Rows are independent in the integrator, so mixing
    directions changes no row's result, and its per-step cost is paid once for both.

    Of Phi only rows 0-5 are carried (42 columns instead of 49): row 6 stays e_7 (kappa is
    constant). The acceleration is g + a_drag with a_drag = A_k from the Jacobian - the
    numbers ``ballistic_acceleration`` gives - so air and drag are looked up once.
    """

    def __init__(self, env: FlightEnv, law_idx, backward):
        self.env = env
        self.law_idx = np.asarray(law_idx)
        self.sign = np.where(backward, -1.0, 1.0)[:, None]  # +1 forward, -1 backward

    def next_break(self, tau, sign):
        return np.full(tau.shape, sign * np.inf)

    def begin_step(self, tau):
        return False

    def keep(self, mask):
        self.law_idx, self.sign = self.law_idx[mask], self.sign[mask]

    def deriv(self, tau, y):
        r, kappa = y[:, 0:3], y[:, 6]
        g, _ = gravity_and_height(self.env, r)
        da_dr, da_dv, a_drag = ballistic_jacobian(self.env, r, y[:, 3:6] * self.sign, kappa, self.law_idx)
        phi = y[:, 7:49].reshape(-1, 6, 7)
        dphi_v = da_dr @ phi[:, 0:3] + (da_dv * self.sign[:, :, None]) @ phi[:, 3:6]
        dphi_v[:, :, 6] += a_drag
        out = np.empty_like(y)
        out[:, 0:3] = y[:, 3:6]
        out[:, 3:6] = g + a_drag
        out[:, 6] = 0.0
        out[:, 7:28] = y[:, 28:49]
        out[:, 28:49] = dphi_v.reshape(-1, 21)
        return out


def _fly_linear(env: FlightEnv, x, law_idx, backward, t_max_s):
    """Fly states x (N, 7) to the ground, rows ``backward`` (N,) back in time, with the
    transition matrix: (dt_s, position, velocity, Phi rows 0-2 (N, 3, 7), landed)."""
    n = x.shape[0]
    back = np.broadcast_to(np.asarray(backward, bool), (n,))
    flip = np.where(back[:, None], _FLIP, 1.0)
    y0 = np.concatenate([x, np.broadcast_to(np.eye(7)[0:6].reshape(1, 42), (n, 42))], axis=1) * flip
    res = integrate_to_ground(
        _TwoWayBallistic(env, np.broadcast_to(np.asarray(law_idx), (n,)).copy(), back),
        env,
        y0,
        t_max_s=t_max_s,
        rtol=PRED_RTOL,
        atol=PRED_ATOL,
        max_step_s=PRED_MAX_STEP_S,
        max_speed_mps=PRED_MAX_SPEED_MPS,
    )
    y = res.y_end * flip
    t = np.where(back, -res.t_end_s, res.t_end_s)
    return t, y[:, 0:3], y[:, 3:6], y[:, 7:28].reshape(-1, 3, 7), res.landed


def _linear_points(env: FlightEnv, P, dt, pos, vel, phi_r, ok) -> GroundPoints:
    G = (_crossing_map(env, pos, vel) @ phi_r)[:, 0:2, :]
    cov = G @ P @ np.swapaxes(G, 1, 2)
    return GroundPoints(pos, dt, cov, np.linalg.norm(vel, axis=1), ok)


def ground_linear(env: FlightEnv, x, P, law_idx, *, backward=False, t_max_s=150.0) -> GroundPoints:
    """Ground points of states x (N, 7) and their covariance by linearisation (the transition
    matrix rides along the flight; at the crossing it is interpolated on the cubic Hermite of
    its own derivative)."""
    x = np.asarray(x, float)
    return _linear_points(env, P, *_fly_linear(env, x, law_idx, np.full(x.shape[0], bool(backward)), t_max_s))


def ground_sigma(env: FlightEnv, x, P, law_idx, *, backward=False, t_max_s=150.0) -> GroundPoints:
    """Ground points of states x (N, 7) and their covariance from 2n flown sigma points."""
    n, d = x.shape
    # sqrt(d P) by Cholesky (a tiny jitter keeps near-singular covariances factorisable)
    L = np.linalg.cholesky(d * (P + 1e-9 * np.eye(d)))
    offsets = np.concatenate([np.swapaxes(L, 1, 2), -np.swapaxes(L, 1, 2)], axis=1)  # (n, 2d, d)
    pts = (x[:, None, :] + offsets).reshape(-1, d)
    res = fly_ballistic_to_ground(
        env,
        pts,
        np.repeat(np.broadcast_to(law_idx, (n,)), 2 * d),
        backward=backward,
        t_max_s=t_max_s,
        rtol=PRED_RTOL,
        atol=PRED_ATOL,
        max_step_s=PRED_MAX_STEP_S,
        max_speed_mps=PRED_MAX_SPEED_MPS,
    )
    end = res.y_end[:, 0:3].reshape(n, 2 * d, 3)
    ok = res.landed.reshape(n, 2 * d).all(axis=1)
    mean = end.mean(axis=1)
    dev = end[:, :, 0:2] - mean[:, None, 0:2]
    cov = np.einsum("nki,nkj->nij", dev, dev) / (2 * d)
    speed = np.linalg.norm(res.y_end[:, 3:6].reshape(n, 2 * d, 3), axis=2).mean(axis=1)
    return GroundPoints(mean, res.t_end_s.reshape(n, 2 * d).mean(axis=1), cov, speed, ok)


def ground_points(env, x, P, law_idx, *, method="linear", backward=False) -> GroundPoints:
    fn = ground_linear if method == "linear" else ground_sigma
    return fn(env, np.asarray(x, float), np.asarray(P, float), law_idx, backward=backward)


def impact_and_origin(env, x, P, law_idx, *, method="linear") -> tuple[GroundPoints, GroundPoints]:
    """Impact (``ground_points(method=method)``) and origin (``ground_points(method="linear",
    backward=True)``) of states x (N, 7), the same numbers; with the linear method both are
    flown in one integration (one batch of 2N rows: the integrator's per-step cost is paid
    once, not twice)."""
    x, P = np.asarray(x, float), np.asarray(P, float)
    if method != "linear":
        return ground_points(env, x, P, law_idx, method=method), ground_linear(
            env, x, P, law_idx, backward=True
        )
    n = x.shape[0]
    law = np.broadcast_to(np.asarray(law_idx), (n,))
    dt, pos, vel, phi_r, ok = _fly_linear(
        env, np.concatenate([x, x]), np.concatenate([law, law]), np.arange(2 * n) >= n, 150.0
    )
    both = _linear_points(env, np.concatenate([P, P]), dt, pos, vel, phi_r, ok)
    return both.take(slice(0, n)), both.take(slice(n, 2 * n))


# --------------------------------------------------------------------------------------------
# Classes from the back-flight, and the rocket boost
# --------------------------------------------------------------------------------------------

#: launch speed (m/s) of the ballistic back-flight below which a round is a mortar bomb (the
#: catalog's fastest bomb leaves at 352 m/s and back-flies to about 373 m/s) and above which it
#: is an artillery shell or a large rocket. The 107 mm rocket back-flies to 405-408 m/s from clean
#: states (docs/prediction.md), so the line sits half-way between 373 and 405: 390 m/s (at 400 the
#: rocket's label flipped with the noise of its estimate, docs/tracking.md)
MORTAR_MAX_LAUNCH_MPS = 390.0
SHELL_MIN_LAUNCH_MPS = 560.0


def ballistic_class(launch_speed_mps) -> np.ndarray:
    """mortar / rocket / artillery from the speed the ballistic back-flight arrives with at
    the ground (the launch speed a gun would need). A rocket's burn makes its back-flown
    launch speed a little above its burn-out speed (107 mm: ~400 m/s); a 122 mm rocket (~750)
    cannot be told from a shell by this alone and is labelled artillery (the larger lethal
    radius, the safe side); docs/tracking.md gives the measured confusion."""
    v = np.asarray(launch_speed_mps, float)
    fast = np.where(v < SHELL_MIN_LAUNCH_MPS, "rocket", "artillery")
    return np.where(v < MORTAR_MAX_LAUNCH_MPS, "mortar", fast)


def boost_time_correction_s(cls) -> np.ndarray:
    """Seconds to move a ballistic back-flight's launch time earlier for a rocket.

    From rest to burn-out speed v_b in t_b the motor covers about v_b t_b / 2 (constant
    acceleration), which the back-flight covers at about v_b in t_b / 2: the launch happened
    t_b / 2 earlier than the back-flight says. The launch *point* hardly moves (the powered
    path is nearly straight along the back-flown line); the tests measure what bias is left.
    Uses the 107 mm motor (the only rocket class the kinematics single out)."""
    burn = CATALOG["rocket-107mm"].burn_s
    return np.where(np.asarray(cls) == "rocket", burn / 2.0, 0.0)


# --------------------------------------------------------------------------------------------
# Batch least-squares refinement (tracking-radar tracks)
# --------------------------------------------------------------------------------------------


ANGLE_FLOOR_RAD = float(np.radians(0.15))


def refine_least_squares(
    env: FlightEnv,
    radars,
    law_idx,
    x0,
    t_ref,
    plot_t,
    plot_z,
    plot_sensor,
    *,
    max_plots=150,
    iters=6,
    warm=False,
    spans_s=(5.0, 10.0, 20.0, np.inf),
    angle_sigma_floor_rad=None,
    range_sigma_floor_m=15.0,
):
    """Fit the deterministic ballistic model to a track's plots: the state at ``t_ref`` that
    best explains all of them (robust Gauss-Newton, soft-L1 loss), starting from ``x0``.

    A tracking radar's angle errors are not white (its servo wobbles for tenths of a second),
    so a recursive filter at 20 Hz follows them; a fit over the whole arc averages them out,
    as weapon-locating radars do. Plots are weighted with the radar's sigmas but no finer than
    ``range_sigma_floor_m`` and ``angle_sigma_floor_rad`` (the correlated part), at most
    ``max_plots`` evenly spread plots are used, and a plot's residual r (in sigmas) gets the
    soft-L1 weight 1 / sqrt(1 + r^2), so a range-gate jump cannot drag the fit. The arc is
    fitted twice - at once from ``x0``, and in growing spans back from ``t_ref`` (``spans_s``)
    each starting from the last (flying a state with a wrong drag far back in time runs away,
    drag reversed, so the drag is settled on a short arc first) - and the fit with the lower
    robust cost over the whole arc is kept (with ``warm``, a start from the last fit, only the
    first). The angle floor defaults to 0.15 deg.

    Returns (x (7,), P (7, 7)): the fitted state and (J^T W J)^-1 scaled by the residual
    variance; P is None when no fit could be made (x is then ``x0``).
    """
    plot_t = np.asarray(plot_t, float)
    args = (
        max_plots,
        iters,
        ANGLE_FLOOR_RAD if angle_sigma_floor_rad is None else angle_sigma_floor_rad,
        range_sigma_floor_m,
    )
    # (a) the whole arc at once from the filter's state
    best = _gauss_newton(
        env, radars, law_idx, np.asarray(x0, float), t_ref, plot_t, plot_z, plot_sensor, *args
    )
    if warm and best is not None:
        return best[0], best[1]  # a warm start (the last fit carried forward) needs no more
    # (b) growing spans, settling the drag on a short arc first
    x, out, m = np.asarray(x0, float).copy(), None, np.zeros(plot_t.size, bool)
    for span in spans_s:
        m = plot_t >= t_ref - span
        if m.sum() < 8:
            continue
        step = _gauss_newton(env, radars, law_idx, x, t_ref, plot_t[m], plot_z[m], plot_sensor[m], *args)
        if step is None:
            out = None
            break
        x, out = step[0], step
        if m.all():
            break
    # keep the fit that explains the whole arc better (robust cost over the same plots)
    if out is not None and m.all() and (best is None or out[2] < best[2]):
        best = out
    if best is None:
        return np.asarray(x0, float), None
    return best[0], best[1]


def _gauss_newton(
    env, radars, law_idx, x, t_ref, plot_t, plot_z, plot_sensor, max_plots, iters, ang_floor, rng_floor
):
    """Robust Gauss-Newton on one set of plots: (x, P, soft-L1 cost of x), or None when the
    flight cannot be carried back."""
    from .physics.flight import propagate_ballistic
    from .tracking.models import innovation, measure, measure_jacobian

    k = plot_t.size
    if k > max_plots:
        sel = np.unique(np.linspace(0, k - 1, max_plots).round().astype(int))
        plot_t, plot_z, plot_sensor = plot_t[sel], plot_z[sel], plot_sensor[sel]
        k = sel.size
    rot = np.stack([radars[s].rot for s in plot_sensor])
    off = np.stack([radars[s].offset for s in plot_sensor])
    sig = np.stack([radars[s].sigma for s in plot_sensor]).copy()
    sig[:, 0] = np.maximum(sig[:, 0], rng_floor)
    sig[:, 1:3] = np.maximum(sig[:, 1:3], ang_floor)
    has_rdot = ~np.isnan(plot_z[:, 3]) & ~np.isnan(sig[:, 3])
    sig[:, 3] = np.where(has_rdot, sig[:, 3], 1.0)
    dt = plot_t - t_ref
    good = None
    for _ in range(iters):
        with np.errstate(all="ignore"):
            xs, phi = propagate_ballistic(
                env, np.broadcast_to(x, (k, 7)), dt, law_idx, stm=True, max_step_s=0.5, max_substeps=128
            )
        if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(phi))):
            if good is None:
                return None
            x = good[0]
            break  # the step went where the physics cannot follow: keep the last good fit
        nu = innovation(plot_z, measure(xs, rot, off))
        nu[:, 3] = np.where(has_rdot, nu[:, 3], 0.0)
        H = measure_jacobian(xs, rot, off) @ phi
        H[~has_rdot, 3, :] = 0.0
        r = nu / sig
        w = 1.0 / np.sqrt(1.0 + r**2)  # soft-L1 (IRLS)
        A = ((H / sig[:, :, None]) * np.sqrt(w)[:, :, None]).reshape(-1, 7)
        b = (r * np.sqrt(w)).reshape(-1)
        JtJ = A.T @ A + np.diag([0, 0, 0, 0, 0, 0, 1.0])  # a unit prior keeps kappa defined on short arcs
        good = (x.copy(), JtJ, float(b @ b), b.size)
        dx = np.linalg.solve(JtJ, A.T @ b)
        x = x + dx
        x[6] = np.clip(x[6], np.log(5e-5), np.log(1e-2))
        if np.max(np.abs(dx[:6])) < 1e-3:
            break
    if good is None:
        return None
    # the robust cost of the final state over these plots (for choosing between fits)
    with np.errstate(all="ignore"):
        xs = propagate_ballistic(
            env, np.broadcast_to(x, (k, 7)), dt, law_idx, max_step_s=0.5, max_substeps=128
        )
    if not np.all(np.isfinite(xs)):
        x = good[0]
        with np.errstate(all="ignore"):
            xs = propagate_ballistic(
                env, np.broadcast_to(x, (k, 7)), dt, law_idx, max_step_s=0.5, max_substeps=128
            )
    nu = innovation(plot_z, measure(xs, rot, off))
    nu[:, 3] = np.where(has_rdot, nu[:, 3], 0.0)
    final_cost = float(np.sum(2.0 * (np.sqrt(1.0 + (nu / sig) ** 2) - 1.0)))
    _, JtJ, cost, m = good
    return x, np.linalg.inv(JtJ) * max(1.0, cost / max(1, m - 7)), final_cost
