"""Batched 3-DOF point-mass flight: gravity, drag with wind, rocket boost; flown to the ground.

One flight model, used three times: to fly the truth (:func:`fly_munitions`), inside the
tracker's prediction (:func:`propagate_ballistic`, with its state-transition Jacobian) and to
fly a track's state forward to impact and backward to its origin (:func:`fly_ballistic_to_ground`).

Equations of motion (site ENU frame, metres and seconds)::

    dr/dt = v
    dv/dt = g(r) + a_drag + a_thrust
    g(r)     = -g0 R^2 (r - c) / |r - c|^3           round Earth: toward the centre c of the
                                                        local osculating sphere (radius R)
    g        = (0, 0, -g0)                            flat-earth setting (closed-form tests)
    a_drag   = -1/2 rho(h) k Cd(M) |v_r| v_r,         v_r = v - w(h),  M = |v_r| / a(h)
    a_thrust = (T / m(t)) v_r / |v_r|                 rockets, while t < t_burn

``k = i A / m`` (m^2/kg) is the drag factor: form factor ``i`` times reference area over
mass; ``Cd(M)`` is a tabulated drag law. The ballistic (tracker) state carries
``kappa = ln k`` as its seventh component.

Integration is classical fourth-order Runge-Kutta on a time grid shared by all projectiles
(finer during boost, with steps ending exactly at each burn-out so the thrust cut-off does not
cost the method its order). The ground crossing is found inside the last step on the cubic
Hermite interpolant of position and velocity (fourth-order accurate, like the steps), and then
corrected to the exact WGS-84 height with :mod:`pymap3d`. Landed projectiles leave the
working arrays, so the cost follows the projectiles still in the air.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..geo import Site
from .atmosphere import ATMOSPHERE, AtmosphereTable

# --------------------------------------------------------------------------------------------
# Environment: Earth model, ground, atmosphere, wind, drag laws
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DragLaws:
    """Drag-coefficient laws Cd(M), resampled on one uniform Mach grid for fast gathers.

    ``names[i]`` is law ``i``; beyond the last tabulated Mach number Cd is held constant.
    Between grid points Cd is linear (with its slope dCd/dM for the Jacobian).
    """

    names: tuple[str, ...]
    mach: tuple[tuple[float, ...], ...]
    cd: tuple[tuple[float, ...], ...]
    mach_step: float = 0.005
    mach_max: float = 6.0

    def __post_init__(self) -> None:
        grid = np.arange(0.0, self.mach_max + self.mach_step / 2, self.mach_step)
        # shape-preserving cubic (PCHIP) through the tabulated points, held flat beyond them:
        # no overshoot, and no slope jumps at the table's nodes to cost RK4 its order
        table = np.stack(
            [
                PchipInterpolator(m, c, extrapolate=False)(np.clip(grid, m[0], m[-1]))
                for m, c in zip(self.mach, self.cd, strict=True)
            ]
        )
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_slope", np.diff(table, axis=1) / self.mach_step)
        object.__setattr__(self, "_n", len(grid))

    def index(self, name: str) -> int:
        return self.names.index(name)

    def coefficient(self, law_idx, mach):
        """(Cd, dCd/dM) for law indices ``law_idx`` (int or array) at Mach numbers ``mach``."""
        x = np.asarray(mach) / self.mach_step
        # NaN -> the table's first cell, +-inf -> its ends (np.nan_to_num does the same, slower)
        x = np.clip(np.where(np.isnan(x), 0.0, x), 0.0, self._n - 1.000001)
        j = x.astype(np.intp)
        slope = self._slope[law_idx, j]
        return self._table[law_idx, j] + (x - j) * self.mach_step * slope, slope


@dataclass(frozen=True)
class Wind:
    """Horizontal wind (m/s toward east and north) as a profile by height above ground.

    A single entry is a constant wind; between entries it is interpolated linearly and it is
    held constant beyond the ends. Default: calm.
    """

    height_m: tuple[float, ...] = (0.0,)
    east_mps: tuple[float, ...] = (0.0,)
    north_mps: tuple[float, ...] = (0.0,)

    @property
    def calm(self) -> bool:
        return not (any(self.east_mps) or any(self.north_mps))

    @property
    def constant(self) -> bool:
        return len(self.height_m) == 1

    def at(self, h_agl_m):
        """(east, north) wind components (m/s) and their height derivatives (1/s)."""
        h = np.asarray(h_agl_m)
        if self.constant:
            z = np.zeros_like(h)
            return z + self.east_mps[0], z + self.north_mps[0], z, z
        hp = np.asarray(self.height_m)
        we = np.interp(h, hp, self.east_mps)
        wn = np.interp(h, hp, self.north_mps)
        j = np.clip(np.searchsorted(hp, h) - 1, 0, len(hp) - 2)
        inside = (h > hp[0]) & (h < hp[-1])
        dh = hp[j + 1] - hp[j]
        de = np.where(inside, (np.asarray(self.east_mps)[j + 1] - np.asarray(self.east_mps)[j]) / dh, 0)
        dn = np.where(inside, (np.asarray(self.north_mps)[j + 1] - np.asarray(self.north_mps)[j]) / dh, 0)
        return we, wn, de, dn


@dataclass(frozen=True)
class FlightEnv:
    """Everything a flight needs besides the projectile: frame, Earth model, ground, air.

    ``earth="round"`` pulls toward the centre of the site's osculating sphere with
    g = g0 (R / (R + h))^2 and measures heights above it; ``"flat"`` is the textbook
    setting (uniform g0 straight down, height = ``site.alt_m`` + up) used to check
    against closed forms. ``drag=False`` flies in vacuum.
    """

    site: Site
    ground_alt_m: float
    laws: DragLaws
    wind: Wind = field(default_factory=Wind)
    earth: Literal["round", "flat"] = "round"
    drag: bool = True
    atmosphere: AtmosphereTable = ATMOSPHERE

    @property
    def g0_mps2(self) -> float:
        return self.site.g0_mps2

    def height_m(self, r):
        """Height above the ellipsoid (fast form) of ENU points r (..., 3), metres."""
        if self.earth == "flat":
            return self.site.alt_m + r[..., 2]
        return self.site.sphere_height_m(r)

    def up(self, r):
        """Unit local vertical (gradient of height) at ENU points r (..., 3)."""
        if self.earth == "flat":
            out = np.zeros_like(r)
            out[..., 2] = 1.0
            return out
        d = r - self.site.centre_enu_m
        return d / np.linalg.norm(d, axis=-1, keepdims=True)


# --------------------------------------------------------------------------------------------
# Pure acceleration models
# --------------------------------------------------------------------------------------------


def gravity(env: FlightEnv, r):
    """Gravitational acceleration (m/s^2) at ENU points r (N, 3).

    round: g(r) = -g0 R^2 (r - c) / |r - c|^3;   flat: g = (0, 0, -g0).
    """
    return gravity_and_height(env, r)[0]


def gravity_and_height(env: FlightEnv, r):
    """Gravity (N, 3) m/s^2 and the height above the ellipsoid (N,) m, sharing |r - c|."""
    if env.earth == "flat":
        g = np.zeros_like(r)
        g[:, 2] = -env.g0_mps2
        return g, env.site.alt_m + r[:, 2]
    d = r - env.site.centre_enu_m
    n2 = np.einsum("ij,ij->i", d, d)
    nd = np.sqrt(n2)
    d *= (-env.g0_mps2 * env.site.radius_m**2 / (n2 * nd))[:, None]
    return d, nd - env.site.radius_m


def air_relative_velocity(env: FlightEnv, v, h_m):
    """v_r = v - w(h): velocity relative to the air (m/s), wind by height above ground."""
    if env.wind.calm:
        return v
    we, wn, _, _ = env.wind.at(h_m - env.ground_alt_m)
    vr = v.copy()
    vr[:, 0] -= we
    vr[:, 1] -= wn
    return vr


def drag_acceleration(env: FlightEnv, h_m, vr, k_m2_per_kg, law_idx):
    """a_drag = -1/2 rho(h) k Cd(M) |v_r| v_r  (m/s^2), M = |v_r| / a(h).

    ``k_m2_per_kg`` = form factor x reference area / mass, one per row.
    Also returns |v_r| (m/s) for callers that need the direction.
    """
    speed = np.sqrt(np.einsum("ij,ij->i", vr, vr))
    rho, a_sound = env.atmosphere.rho_a(h_m)
    cd, _ = env.laws.coefficient(law_idx, speed / a_sound)
    coef = -0.5 * rho * k_m2_per_kg * cd * speed
    return vr * coef[:, None], speed


def ballistic_acceleration(env: FlightEnv, r, v, k_m2_per_kg, law_idx):
    """dv/dt = g(r) - 1/2 rho k Cd(M) |v_r| v_r for unpowered flight (m/s^2), rows of (N, 3)."""
    g, h = gravity_and_height(env, r)
    if not env.drag:
        return g
    vr = air_relative_velocity(env, v, h)
    ad, _ = drag_acceleration(env, h, vr, k_m2_per_kg, law_idx)
    return g + ad


def ballistic_jacobian(env: FlightEnv, r, v, kappa, law_idx):
    """Partial derivatives of the ballistic acceleration a(r, v, kappa), k = exp(kappa).

    Returns ``(da_dr (N,3,3), da_dv (N,3,3), da_dkappa (N,3))``::

        dg/dr       = -g0 R^2 / |d|^3 (I - 3 d d^T / |d|^2),   d = r - c   (0 when flat)
        da/dv       = -1/2 rho k [Cd s I + (Cd / s + Cd'(M) / a) v_r v_r^T]
        da/dkappa   = a_drag
        da_drag/dr  = (d a_drag / dh) u^T,  u = unit up, with
        d a_drag/dh = -1/2 k s v_r [rho' Cd - rho Cd'(M) s a' / a^2] - (da/dv) w'(h)
    """
    n = r.shape[0]
    eye = np.eye(3)
    if env.earth == "flat":
        da_dr = np.zeros((n, 3, 3))
    else:
        d = r - env.site.centre_enu_m
        n2 = np.einsum("ij,ij->i", d, d)
        nd = np.sqrt(n2)
        s = -env.g0_mps2 * env.site.radius_m**2 / (n2 * nd)
        da_dr = s[:, None, None] * (eye - 3.0 * np.einsum("ni,nj->nij", d, d) / n2[:, None, None])
    if not env.drag:
        return da_dr, np.zeros((n, 3, 3)), np.zeros((n, 3))
    k = np.exp(kappa)
    h = env.height_m(r)
    vr = air_relative_velocity(env, v, h)
    speed = np.sqrt(np.einsum("ij,ij->i", vr, vr))
    rho, a_s, drho, da_s = env.atmosphere.rho_a_derivs(h)
    mach = speed / a_s
    cd, dcd = env.laws.coefficient(law_idx, mach)
    half_rho_k = 0.5 * rho * k
    a_drag = -(half_rho_k * cd * speed)[:, None] * vr
    safe_s = np.maximum(speed, 1e-9)
    outer = np.einsum("ni,nj->nij", vr, vr)
    da_dv = -half_rho_k[:, None, None] * (
        (cd * speed)[:, None, None] * eye + (cd / safe_s + dcd / a_s)[:, None, None] * outer
    )
    dad_dh = -(0.5 * k * speed * (drho * cd - rho * dcd * speed * da_s / a_s**2))[:, None] * vr
    if not env.wind.calm:
        _, _, dwe, dwn = env.wind.at(h - env.ground_alt_m)
        dw = np.stack([dwe, dwn, np.zeros_like(dwe)], axis=1)
        dad_dh -= np.einsum("nij,nj->ni", da_dv, dw)
    up = env.up(r)
    da_dr = da_dr + np.einsum("ni,nj->nij", dad_dh, up)
    return da_dr, da_dv, a_drag


# --------------------------------------------------------------------------------------------
# Dynamics models (what the integrator calls)
# --------------------------------------------------------------------------------------------


class Dynamics(Protocol):
    """A batched right-hand side dy/dt = f(tau, y); y[:, 0:3] is position, y[:, 3:6] velocity.

    ``tau`` (N,) is each row's own time. ``next_break(tau)`` gives each row's next
    discontinuity (rocket burn-out; +/-inf when none): steps end there exactly.
    ``begin_step(tau)`` fixes piecewise-constant modes (thrust on or off) for the whole step
    and returns True when a mode changed.
    """

    def next_break(self, tau: np.ndarray, sign: float) -> np.ndarray: ...

    def begin_step(self, tau: np.ndarray) -> bool: ...

    def deriv(self, tau: np.ndarray, y: np.ndarray) -> np.ndarray: ...

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the parameter rows of projectiles still being integrated."""


class BallisticDynamics:
    """State x = [r (3), v (3), kappa]; dx/dt = [v, a(r, v, e^kappa), 0].

    With ``stm=True`` the 7x7 state-transition matrix Phi rides along as 49 more columns,
    dPhi/dt = A(x) Phi with A = d f / d x (see :func:`ballistic_jacobian`).
    """

    def __init__(self, env: FlightEnv, law_idx, stm: bool = False):
        self.env = env
        self.law_idx = np.asarray(law_idx)
        self.stm = stm

    def next_break(self, tau, sign):
        return np.full(tau.shape, sign * np.inf)

    def begin_step(self, tau):
        return False

    def keep(self, mask):
        if self.law_idx.ndim:
            self.law_idx = self.law_idx[mask]

    def deriv(self, tau, y):
        r, v, kappa = y[:, 0:3], y[:, 3:6], y[:, 6]
        out = np.zeros_like(y)
        out[:, 0:3] = v
        out[:, 3:6] = ballistic_acceleration(self.env, r, v, np.exp(kappa), self.law_idx)
        if self.stm:
            phi = y[:, 7:56].reshape(-1, 7, 7)
            da_dr, da_dv, da_dk = ballistic_jacobian(self.env, r, v, kappa, self.law_idx)
            dphi = np.zeros_like(phi)
            dphi[:, 0:3] = phi[:, 3:6]
            dphi[:, 3:6] = da_dr @ phi[:, 0:3] + da_dv @ phi[:, 3:6] + da_dk[:, :, None] * phi[:, 6:7]
            out[:, 7:56] = dphi.reshape(-1, 49)
        return out


class MunitionDynamics:
    """Truth flight of catalog munitions after launch: y = [r, v]; boost with mass burn-off.

    Per projectile: ``ia_m2`` form factor x reference area, ``mass0_kg`` launch mass,
    ``mdot_kgps`` propellant burn rate, ``thrust_n`` and ``burn_s``, ``law_idx``. Thrust acts
    along the air-relative velocity (a fin-stabilised rocket weathercocks into the wind) and is
    on for the whole of any step that starts before burn-out (steps end exactly at burn-out).
    """

    def __init__(self, env, law_idx, ia_m2, mass0_kg, mdot_kgps, thrust_n, burn_s):
        self.env = env
        self.p = {
            "law": np.asarray(law_idx),
            "ia": np.asarray(ia_m2, float),
            "m0": np.asarray(mass0_kg, float),
            "mdot": np.asarray(mdot_kgps, float),
            "thrust": np.asarray(thrust_n, float),
            "burn": np.asarray(burn_s, float),
        }
        self.on = np.zeros(len(self.p["m0"]), bool)

    def next_break(self, tau, sign):
        burn = self.p["burn"]
        return np.where(sign * (burn - tau) > 1e-9, burn, sign * np.inf)

    def begin_step(self, tau):
        on = tau < self.p["burn"] - 1e-9
        changed = bool(np.any(on != self.on))
        self.on = on
        return changed

    def keep(self, mask):
        self.p = {k: v[mask] for k, v in self.p.items()}
        self.on = self.on[mask]

    def mass_kg(self, tau):
        p = self.p
        return p["m0"] - p["mdot"] * np.minimum(tau, p["burn"])

    def deriv(self, tau, y):
        env, p = self.env, self.p
        r, v = y[:, 0:3], y[:, 3:6]
        out = np.empty_like(y)
        out[:, 0:3] = v
        acc, h = gravity_and_height(env, r)
        boosting = bool(self.on.any())
        if env.drag or boosting:
            vr = air_relative_velocity(env, v, h)
            mass = self.mass_kg(tau) if boosting else p["m0"] - p["mdot"] * p["burn"]
            if env.drag:
                ad, speed = drag_acceleration(env, h, vr, p["ia"] / mass, p["law"])
                acc += ad
            else:
                speed = np.sqrt(np.einsum("ij,ij->i", vr, vr))
            if boosting:
                push = np.where(self.on, p["thrust"] / (mass * np.maximum(speed, 1e-9)), 0.0)
                acc += vr * push[:, None]
        out[:, 3:6] = acc
        return out


# --------------------------------------------------------------------------------------------
# Integrators
# --------------------------------------------------------------------------------------------


def rk4_step(dyn: Dynamics, tau, y: np.ndarray, h):
    """One classical Runge-Kutta step; ``h`` is a scalar or one step length per row.

    y_{n+1} = y_n + h/6 (k1 + 2 k2 + 2 k3 + k4)
    """
    hh = h if np.isscalar(h) else np.asarray(h)[:, None]
    k1 = dyn.deriv(tau, y)
    k2 = dyn.deriv(tau + h / 2, y + hh / 2 * k1)
    k3 = dyn.deriv(tau + h / 2, y + hh / 2 * k2)
    k4 = dyn.deriv(tau + h, y + hh * k3)
    return y + hh / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def hermite(p0, v0, p1, v1, s, h):
    """Cubic Hermite position and velocity at fraction s (N,) of a step of length h.

    ``h`` is a scalar or an (N, 1) column.
    """
    s = s[:, None]
    s2, s3 = s * s, s * s * s
    h00, h10, h01, h11 = 2 * s3 - 3 * s2 + 1, s3 - 2 * s2 + s, -2 * s3 + 3 * s2, s3 - s2
    pos = h00 * p0 + h10 * h * v0 + h01 * p1 + h11 * h * v1
    d00, d10, d01, d11 = 6 * s2 - 6 * s, 3 * s2 - 4 * s + 1, -6 * s2 + 6 * s, 3 * s2 - 2 * s
    vel = (d00 * p0 + d10 * h * v0 + d01 * p1 + d11 * h * v1) / h
    return pos, vel


def quintic(p0, v0, a0, p1, v1, a1, s, h):
    """Quintic Hermite position and velocity from position, velocity and acceleration at both
    ends of a step of length h (scalar or (N, 1)), at fractions s (N,). Sixth-order accurate in
    position, so interpolating inside a fifth-order step costs no accuracy.

    p(s) = H0 p0 + H1 h v0 + H2 h^2 a0 + H3 h^2 a1 + H4 h v1 + H5 p1
    """
    s = s[:, None]
    s2 = s * s
    s3 = s2 * s
    s4 = s3 * s
    s5 = s4 * s
    hsq = h * h
    pos = (
        (1 - 10 * s3 + 15 * s4 - 6 * s5) * p0
        + (s - 6 * s3 + 8 * s4 - 3 * s5) * h * v0
        + (0.5 * s2 - 1.5 * s3 + 1.5 * s4 - 0.5 * s5) * hsq * a0
        + (0.5 * s3 - s4 + 0.5 * s5) * hsq * a1
        + (-4 * s3 + 7 * s4 - 3 * s5) * h * v1
        + (10 * s3 - 15 * s4 + 6 * s5) * p1
    )
    vel = (
        (-30 * s2 + 60 * s3 - 30 * s4) * (p0 - p1)
        + (1 - 18 * s2 + 32 * s3 - 15 * s4) * h * v0
        + (s - 4.5 * s2 + 6 * s3 - 2.5 * s4) * hsq * a0
        + (1.5 * s2 - 4 * s3 + 2.5 * s4) * hsq * a1
        + (-12 * s2 + 28 * s3 - 15 * s4) * h * v1
    ) / h
    return pos, vel


# Dormand-Prince 5(4) tableau (Dormand & Prince 1980), as in scipy's RK45 and MATLAB's ode45
_DP_C = np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0])
_DP_A = [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
]
_DP_E = np.array([71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])


@dataclass
class GroundFlight:
    """Result of flying N projectiles to the ground (rows in input order).

    ``t_end_s``: each row's own time at the ground crossing (negative when flown backward);
    ``y_end``: state there (position and velocity on the step's quintic interpolant; other
    columns interpolated linearly); ``landed``: False where the ground was not reached within
    ``t_max_s`` (then ``y_end`` is the state at ``t_max_s``); ``apex_height_m`` /
    ``apex_t_s``: the highest point (height above the ellipsoid) and when. ``sample_t_s`` (K,)
    and ``samples`` (N, K, d): the state at times k * sample_dt_s, NaN where not flown (only
    when asked for). ``steps``: accepted steps per row (a cost figure).
    """

    t_end_s: np.ndarray
    y_end: np.ndarray
    landed: np.ndarray
    apex_height_m: np.ndarray
    apex_t_s: np.ndarray
    steps: np.ndarray
    sample_t_s: np.ndarray | None = None
    samples: np.ndarray | None = None


#: default error tolerances of the adaptive flight integration: absolute per column (position m,
#: velocity m/s) and relative. Measured against rtol = 1e-12 over 500 random flights of every
#: catalog round: impact points within 0.3 m (99th percentile 0.19 m); see bench/flight.py.
ATOL = (1e-3, 1e-3, 1e-3, 1e-5, 1e-5, 1e-5)
RTOL = 1e-8


def integrate_to_ground(
    dyn: Dynamics,
    env: FlightEnv,
    y0: np.ndarray,
    *,
    tau0_s=0.0,
    t_max_s: float = 600.0,
    backward: bool = False,
    rtol: float = RTOL,
    atol: float = ATOL,
    first_step_s: float = 0.01,
    max_step_s: float = 2.0,
    fixed_step_s: float | None = None,
    sample_dt_s: float | None = None,
    err_cols: int = 6,
    max_speed_mps: float = 5000.0,
    min_step_s: float = 1e-7,
) -> GroundFlight:
    """Fly states ``y0`` (N, d) from their own times ``tau0_s`` until each meets the ground.

    Batched Dormand-Prince 5(4): every row keeps its own step length, adapted to an RMS
    error of ``atol + rtol |y|`` on position and velocity (the first ``err_cols`` columns), so
    smooth coasting takes long steps and boost or transonic flight short ones. With
    ``fixed_step_s`` every step has that length (to measure the order of the method). Steps
    end exactly at each row's next discontinuity (rocket burn-out).

    The ground is met where the height falls from above ``env.ground_alt_m`` to at or below
    it (so a round starting on the ground is not stopped); the crossing is solved on the
    step's quintic interpolant and corrected to the exact WGS-84 height. ``backward=True``
    flies back in time (to find where a flight came from). Landed rows leave the working
    arrays, so the cost follows the projectiles still in the air. A row whose step collapses
    below ``min_step_s`` or whose speed passes ``max_speed_mps`` is given up (not landed).
    """
    y = np.array(y0, dtype=float)
    n, d = y.shape
    sign = -1.0 if backward else 1.0
    tau = np.array(np.broadcast_to(np.asarray(tau0_s, float), (n,)))
    t_stop = tau + sign * abs(t_max_s)
    rows = np.arange(n)
    out_t = np.full(n, np.nan)
    out_y = np.full((n, d), np.nan)
    landed = np.zeros(n, bool)
    steps = np.zeros(n, int)
    apex_h = env.height_m(y[:, 0:3])
    apex_t = tau.copy()
    store = _Samples(n, d, sample_dt_s, sign, tau, y) if sample_dt_s else None
    h = np.full(n, sign * (fixed_step_s or first_step_s))
    atol_cols = np.broadcast_to(np.asarray(atol, float), (err_cols,))
    ground = env.ground_alt_m
    h_now = env.height_m(y[:, 0:3])
    dyn.begin_step(tau)
    k1 = dyn.deriv(tau, y)
    for _ in range(1_000_000):
        if rows.size == 0:
            break
        # step length: adapted, capped, and ending at the next break and at t_stop
        brk = dyn.next_break(tau, sign)
        limit = np.minimum(np.abs(brk - tau), np.abs(t_stop - tau))
        hs = sign * np.minimum(np.minimum(np.abs(h), max_step_s), limit)
        if dyn.begin_step(tau):
            k1 = dyn.deriv(tau, y)
        hc = hs[:, None]
        ks = [k1]
        for i in range(1, 7):
            incr = ks[0] * _DP_A[i][0]
            for j in range(1, i):
                if _DP_A[i][j]:
                    incr += ks[j] * _DP_A[i][j]
            incr *= hc
            incr += y
            ks.append(dyn.deriv(tau + _DP_C[i] * hs, incr))
        y5 = incr  # the 7th stage is evaluated at the 5th-order solution (FSAL)
        k7 = ks[6]
        if fixed_step_s:
            accept = np.ones(rows.size, bool)
            err = np.ones(rows.size)
        else:
            e = ks[0][:, :err_cols] * _DP_E[0]
            for i in range(2, 7):
                e += ks[i][:, :err_cols] * _DP_E[i]
            e *= hc
            scale = np.maximum(np.abs(y[:, :err_cols]), np.abs(y5[:, :err_cols]))
            scale *= rtol
            scale += atol_cols
            e /= scale
            err = np.sqrt(np.mean(e * e, axis=1))
            accept = err <= 1.0
        h_new = env.height_m(y5[:, 0:3])
        a0, a1 = k1[:, 3:6], k7[:, 3:6]
        # apex: the vertical speed changes sign inside an accepted step
        up0 = np.einsum("ij,ij->i", y[:, 3:6], env.up(y[:, 0:3]))
        up1 = np.einsum("ij,ij->i", y5[:, 3:6], env.up(y5[:, 0:3]))
        turn = accept & (up0 * sign > 0) & (up1 * sign <= 0)
        if turn.any():
            seg = (y[turn], y5[turn], a0[turn], a1[turn], hs[turn])
            s = _root(
                lambda s_, seg=seg: _vertical_speed(env, *seg, s_),
                up0[turn],
                up1[turn],
                iters=3,
            )
            pos, _ = quintic(
                y[turn, 0:3],
                y[turn, 3:6],
                a0[turn],
                y5[turn, 0:3],
                y5[turn, 3:6],
                a1[turn],
                s,
                hs[turn, None],
            )
            hp = env.height_m(pos)
            r = rows[turn]
            better = hp > apex_h[r]
            apex_h[r[better]] = hp[better]
            apex_t[r[better]] = tau[turn][better] + s[better] * hs[turn][better]
        higher = accept & (h_new > apex_h[rows])
        apex_h[rows[higher]] = h_new[higher]
        apex_t[rows[higher]] = tau[higher] + hs[higher]
        if store is not None and accept.any():
            store.step(rows, tau, hs, y, y5, a0, a1, accept)
        steps[rows[accept]] += 1
        cross = accept & (h_now > ground) & (h_new <= ground)
        if cross.any():
            te, ye = _land(
                env,
                y[cross],
                y5[cross],
                k1[cross],
                k7[cross],
                tau[cross],
                hs[cross],
                h_now[cross] - ground,
                h_new[cross] - ground,
            )
            r = rows[cross]
            out_t[r], out_y[r], landed[r] = te, ye, True
        # advance accepted rows; adapt every row's step
        acc_col = accept[:, None]
        y = np.where(acc_col, y5, y)
        k1 = np.where(acc_col, k7, k1)
        h_now = np.where(accept, h_new, h_now)
        tau = np.where(accept, tau + hs, tau)
        if not fixed_step_s:
            with np.errstate(divide="ignore"):
                factor = np.clip(0.9 * err**-0.2, 0.2, 5.0)
            factor = np.where(accept, factor, np.minimum(factor, 1.0))
            h = hs * factor
            h = np.where(np.abs(h) < 1e-12, sign * 1e-12, h)
        else:
            h = np.full(rows.size, sign * fixed_step_s)
        # give up on rows the physics cannot carry: a step collapsing to nothing, or a speed
        # beyond any projectile's (a fast state flown backward through drag runs away)
        hopeless = (np.abs(h) < min_step_s) | (np.einsum("ij,ij->i", y[:, 3:6], y[:, 3:6]) > max_speed_mps**2)
        done = cross | (accept & (np.abs(t_stop - tau) < 1e-12)) | hopeless
        if done.any():
            stopped = done & ~cross
            r = rows[stopped]
            out_t[r], out_y[r] = tau[stopped], y[stopped]
            keep = ~done
            y, k1, h_now, tau, h, rows = y[keep], k1[keep], h_now[keep], tau[keep], h[keep], rows[keep]
            t_stop = t_stop[keep]
            dyn.keep(keep)
    out = GroundFlight(out_t, out_y, landed, apex_h, apex_t, steps)
    if store is not None:
        out.sample_t_s, out.samples = store.result(out_t)
    return out


def _vertical_speed(env, ya, yb, a0, a1, hs, s):
    """Vertical speed on the quintic interpolant of steps (ya -> yb) at fractions s."""
    pos, vel = quintic(ya[:, 0:3], ya[:, 3:6], a0, yb[:, 0:3], yb[:, 3:6], a1, s, hs[:, None])
    return np.einsum("ij,ij->i", vel, env.up(pos))


def _root(f, f0, f1, iters=6):
    """Root in s of f on [0, 1] by the Illinois variant of regula falsi (f(0)=f0, f(1)=f1)."""
    lo, hi = np.zeros_like(f0), np.ones_like(f0)
    flo, fhi = f0.astype(float), f1.astype(float)
    s = lo
    for _ in range(iters):
        s = np.clip((lo * fhi - hi * flo) / np.where(fhi != flo, fhi - flo, 1.0), 0.0, 1.0)
        fs = f(s)
        left = np.sign(fs) == np.sign(flo)
        lo, flo, fhi = np.where(left, s, lo), np.where(left, fs, flo), np.where(left, fhi * 0.5, fhi)
        hi, fhi, flo = np.where(~left, s, hi), np.where(~left, fs, fhi), np.where(~left, flo * 0.5, flo)
    return s


def _land(env, ya, yb, fa, fb, tau, hs, f0, f1):
    """Time and state where each step's interpolant meets the ground: position and velocity
    on the quintic (accelerations from the derivatives ``fa``, ``fb`` at the step's ends),
    any further columns (a transition matrix) on the cubic Hermite of their own derivatives."""
    ground = env.ground_alt_m
    h = hs[:, None]
    a0, a1 = fa[:, 3:6], fb[:, 3:6]

    def height(s):
        pos, _ = quintic(ya[:, 0:3], ya[:, 3:6], a0, yb[:, 0:3], yb[:, 3:6], a1, s, h)
        return env.height_m(pos) - ground

    s = _root(height, f0, f1, iters=8)
    # polish with Newton steps on the interpolant
    for _ in range(2):
        pos, vel = quintic(ya[:, 0:3], ya[:, 3:6], a0, yb[:, 0:3], yb[:, 3:6], a1, s, h)
        f = env.height_m(pos) - ground
        dfds = np.einsum("ij,ij->i", vel, env.up(pos)) * hs
        s = np.clip(s - f / np.where(np.abs(dfds) > 1e-12, dfds, 1e-12), 0.0, 1.0)
    pos, vel = quintic(ya[:, 0:3], ya[:, 3:6], a0, yb[:, 0:3], yb[:, 3:6], a1, s, h)
    sc = s[:, None]
    s2, s3 = sc * sc, sc * sc * sc
    ye = (
        (2 * s3 - 3 * s2 + 1) * ya
        + (s3 - 2 * s2 + sc) * h * fa
        + (-2 * s3 + 3 * s2) * yb
        + (s3 - s2) * h * fb
    )
    ye[:, 0:3], ye[:, 3:6] = pos, vel
    te = tau + s * hs
    if env.earth == "round":
        # from the osculating sphere to the exact WGS-84 height: slide along the velocity
        err = env.site.height_m(pos) - ground
        rate = np.einsum("ij,ij->i", vel, env.up(pos))
        dt_corr = -err / np.where(np.abs(rate) > 1e-6, rate, 1e-6)
        ye[:, 0:3] = pos + vel * dt_corr[:, None]
        te = te + dt_corr
    return te, ye


class _Samples:
    """Collects states at times k * dt (each row on its own clock) from the step interpolants."""

    def __init__(self, n, d, dt, sign, tau0, y0):
        self.dt = sign * abs(dt)
        self.n, self.d = n, d
        self.chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        k = np.ceil(sign * tau0 / abs(dt) - 1e-9).astype(int)
        at = np.abs(k * self.dt - tau0) < 1e-9
        if at.any():
            self.chunks.append((np.flatnonzero(at), k[at], y0[at].copy()))
        self.next_k = k + at

    def step(self, rows, tau, h, y, y5, a0, a1, accept):
        """Store the samples that fall in (tau, tau + h] of accepted steps."""
        end = tau + h
        k = self.next_k[rows]
        while True:
            due = accept & (self.dt * (k * self.dt - end) <= 1e-9 * abs(self.dt))
            if not due.any():
                break
            hh = h[due]
            s = (k[due] * self.dt - tau[due]) / hh
            pos, vel = quintic(
                y[due, 0:3], y[due, 3:6], a0[due], y5[due, 0:3], y5[due, 3:6], a1[due], s, hh[:, None]
            )
            ys = y[due] + s[:, None] * (y5[due] - y[due])
            ys[:, 0:3], ys[:, 3:6] = pos, vel
            self.chunks.append((rows[due], k[due].copy(), ys))
            k = k + due
        self.next_k[rows] = k

    def result(self, t_end):
        kmax = max((int(c[1].max()) for c in self.chunks if c[1].size), default=0) + 1
        arr = np.full((self.n, kmax, self.d), np.nan)
        for rows, k, ys in self.chunks:
            arr[rows, k] = ys
        st = np.arange(kmax) * self.dt
        arr[self.dt * (st[None, :] - t_end[:, None]) > 1e-9 * abs(self.dt)] = np.nan
        return st, arr


# --------------------------------------------------------------------------------------------
# Convenience entry points
# --------------------------------------------------------------------------------------------


def launch_direction(az_rad, el_rad):
    """Unit ENU vector for azimuth (clockwise from north) and elevation (radians)."""
    az, el = np.asarray(az_rad, float), np.asarray(el_rad, float)
    ce = np.cos(el)
    return np.stack([ce * np.sin(az), ce * np.cos(az), np.sin(el)], axis=-1)


def ballistic_state_jacobian(env: FlightEnv, x, law_idx):
    """A = d f / d x (N, 7, 7) of the ballistic dynamics f(x) = [v, a(r, v, e^kappa), 0]."""
    da_dr, da_dv, da_dk = ballistic_jacobian(env, x[:, 0:3], x[:, 3:6], x[:, 6], law_idx)
    A = np.zeros((x.shape[0], 7, 7))
    A[:, 0:3, 3:6] = np.eye(3)
    A[:, 3:6, 0:3] = da_dr
    A[:, 3:6, 3:6] = da_dv
    A[:, 3:6, 6] = da_dk
    return A


def propagate_ballistic(env: FlightEnv, x, dt_s, law_idx, *, stm=False, max_step_s=0.5, max_substeps=64):
    """Propagate ballistic states x (N, 7) = [r, v, kappa] by dt_s (scalar or (N,)) seconds.

    The state takes fixed RK4 sub-steps, at most ``max_step_s`` long, with per-row step
    lengths, so each track is advanced from its own last-update time. A row takes the number
    of sub-steps it needs, rounded up to a power of two; sub-step j is one batch of every row
    that needs at least j, so one long-silent track does not cost every other track extra
    steps, and the common case (one sub-step) is a single batch; ``max_substeps``
    caps the work for a track silent for long (its steps then grow). With ``stm=True`` it
    also returns the state-transition matrices
    Phi (N, 7, 7) = d x(t + dt) / d x(t), built per sub-step from the Jacobian averaged over
    the sub-step's ends, A = (A(x_k) + A(x_k+1)) / 2:

        Phi_k = I + A h + A^2 h^2 / 2 + A^3 h^3 / 6,    Phi = Phi_K ... Phi_1

    (third order in h; the tests hold it to the finite-difference Jacobian of the flow).
    """
    x = np.asarray(x, float)
    n = x.shape[0]
    dt = np.broadcast_to(np.asarray(dt_s, float), (n,))
    law = np.broadcast_to(np.asarray(law_idx), (n,))
    need = np.clip(np.ceil(np.abs(dt) / max_step_s - 1e-12).astype(int), 1, max_substeps)
    nsub = 2 ** np.ceil(np.log2(need)).astype(int)  # few groups: 1, 2, 4, ... sub-steps
    out = x.copy()
    phi_out = np.broadcast_to(np.eye(7), (n, 7, 7)).copy() if stm else None
    eye = np.eye(7)
    h = dt / nsub
    # sub-step j advances every row that needs at least j sub-steps: one batch for all rows
    # first, then ever fewer (rows are independent, so the numbers are those of per-group loops)
    rows = np.arange(n)
    a0 = ballistic_state_jacobian(env, out, law) if stm else None
    for j in range(1, int(nsub.max()) + 1):
        if j > 1:
            keep = nsub[rows] >= j
            rows = rows[keep]
            if stm:
                a0 = a0[keep]
        hr = h[rows]
        y = rk4_step(BallisticDynamics(env, law[rows]), 0.0, out[rows], hr)
        out[rows] = y
        if stm:
            a1 = ballistic_state_jacobian(env, y, law[rows])
            ah = 0.5 * (a0 + a1) * hr[:, None, None]
            ah2 = ah @ ah
            step = eye + ah + ah2 / 2.0 + ah2 @ ah / 6.0
            phi_out[rows] = step if j == 1 else step @ phi_out[rows]
            a0 = a1
    if stm:
        return out, phi_out
    return out


def fly_ballistic_to_ground(
    env: FlightEnv,
    x,
    law_idx,
    *,
    backward=False,
    stm=False,
    t_max_s=300.0,
    sample_dt_s=None,
    **kw,
) -> GroundFlight:
    """Fly ballistic states x (N, 7) forward (or backward) in time until they meet the ground.

    With ``stm=True`` columns 7: of ``y_end`` hold the flattened 7x7 transition matrix from
    the start to the crossing.
    """
    x = np.asarray(x, float)
    n = x.shape[0]
    dyn = BallisticDynamics(env, np.broadcast_to(np.asarray(law_idx), (n,)).copy(), stm=stm)
    y0 = np.concatenate([x, np.broadcast_to(np.eye(7).reshape(1, 49), (n, 49))], axis=1) if stm else x
    return integrate_to_ground(
        dyn, env, y0, t_max_s=t_max_s, backward=backward, sample_dt_s=sample_dt_s, **kw
    )
