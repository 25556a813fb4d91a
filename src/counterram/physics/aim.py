"""Flying catalog munitions: batched launch to impact, maximum range and the aim solver.

``fly_munitions`` turns launch points, azimuths and elevations into truth flights for any
mix of catalog munitions in one batch. ``max_range`` searches elevation for the longest
range (vectorised over a grid of elevations, then refined). ``solve_aim`` finds the
azimuth and the low (or high) elevation that land a round on an aim point, by a batched
secant/bisection iteration on elevation and a fixed-point correction on azimuth (drift from
wind and Earth curvature).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..geo import azimuth_deg
from .flight import FlightEnv, GroundFlight, MunitionDynamics, integrate_to_ground, launch_direction
from .munitions import Munition

#: truth flights are sampled this often (s); between samples they are interpolated
SAMPLE_DT_S = 0.1


def fly_munitions(
    env: FlightEnv,
    munitions: Sequence[Munition],
    launch_enu_m,
    az_rad,
    el_rad,
    *,
    sample_dt_s: float | None = None,
    t_max_s: float = 300.0,
    **integrator,
) -> GroundFlight:
    """Fly N catalog rounds from ``launch_enu_m`` (N, 3) at azimuth/elevation (radians).

    Guns and mortars leave the muzzle at ``muzzle_speed_mps`` along the bore. Rockets start
    at rest on a launch rail of ``rail_m``: on the rail the acceleration is constant along it,
    a = T / m0 - g0 sin(el) (drag and mass loss over the first metres neglected), so the rail
    is left at t = sqrt(2 L / a) with speed a t; from there the flight is integrated (steps end
    exactly at burn-out). Times in the result are flight times from launch. ``integrator``
    passes tolerances or a fixed step to :func:`integrate_to_ground`.
    """
    n = len(munitions)
    r0 = np.broadcast_to(np.asarray(launch_enu_m, float), (n, 3))
    u0 = launch_direction(np.broadcast_to(az_rad, (n,)), np.broadcast_to(el_rad, (n,)))
    attr = lambda name: np.array([getattr(m, name) for m in munitions], float)  # noqa: E731
    burn, rail, thrust, mass0 = attr("burn_s"), attr("rail_m"), attr("thrust_n"), attr("mass_kg")
    dyn = MunitionDynamics(
        env,
        law_idx=np.array([m.law_idx for m in munitions]),
        ia_m2=attr("form_factor") * attr("area_m2"),
        mass0_kg=mass0,
        mdot_kgps=attr("mdot_kgps"),
        thrust_n=thrust,
        burn_s=burn,
    )
    # launch rail (rockets): constant acceleration along the rail
    a_rail = np.where(rail > 0, thrust / mass0 - env.g0_mps2 * u0[:, 2], 1.0)
    if np.any((rail > 0) & (a_rail <= 0)):
        raise ValueError("a rocket's thrust cannot lift it along its launch rail")
    t_rail = np.where(rail > 0, np.sqrt(2.0 * rail / a_rail), 0.0)
    speed0 = np.where(rail > 0, a_rail * t_rail, attr("muzzle_speed_mps"))
    y0 = np.concatenate([r0 + u0 * rail[:, None], u0 * speed0[:, None]], axis=1)
    res = integrate_to_ground(
        dyn,
        env,
        y0,
        tau0_s=t_rail,
        t_max_s=t_max_s,
        sample_dt_s=sample_dt_s,
        **integrator,
    )
    if sample_dt_s and np.any(rail > 0):
        # samples on the rail, from the same constant-acceleration motion
        t = res.sample_t_s[None, :]
        on = (t < t_rail[:, None]) & (rail[:, None] > 0)
        i, k = np.nonzero(on)
        dist = 0.5 * a_rail[i] * t[0, k] ** 2
        res.samples[i, k, 0:3] = r0[i] + u0[i] * dist[:, None]
        res.samples[i, k, 3:6] = u0[i] * (a_rail[i] * t[0, k])[:, None]
    return res


def ground_range_m(env: FlightEnv, start_enu_m, end_enu_m):
    """Horizontal distance (m) between ENU points along the local level (flat: plane)."""
    start = np.asarray(start_enu_m, float)
    end = np.asarray(end_enu_m, float)
    if env.earth == "flat":
        return np.hypot(*(end[..., :2] - start[..., :2]).T)
    # great-circle distance on the osculating sphere
    c = env.site.centre_enu_m
    a = start - c
    b = end - c
    cosang = np.einsum("...i,...i->...", a, b) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return env.site.radius_m * np.arccos(np.clip(cosang, -1.0, 1.0))


@dataclass(frozen=True)
class RangeResult:
    max_range_m: float
    best_elevation_deg: float
    time_of_flight_s: float
    apex_height_m: float


def max_range(env: FlightEnv, mun: Munition, *, launch_enu_m=None, az_rad: float = 0.0) -> RangeResult:
    """Longest range over elevation for ``mun`` (default: from the origin, on the ground, north).

    A grid of elevations 15..80 degrees is flown as one batch, then refined twice on a finer
    grid around the best.
    """
    start = (
        np.array([0.0, 0.0, env.ground_alt_m - env.site.alt_m])
        if launch_enu_m is None
        else np.asarray(launch_enu_m, float)
    )
    lo, hi, n = 15.0, 80.0, 27
    for _ in range(3):
        el = np.linspace(lo, hi, n)
        res = fly_munitions(env, [mun] * n, start, az_rad, np.radians(el))
        rng = ground_range_m(env, start, res.y_end[:, 0:3])
        rng[~res.landed] = -np.inf
        j = int(np.argmax(rng))
        width = (hi - lo) / (n - 1)
        lo, hi = el[j] - width, el[j] + width
    return RangeResult(
        float(rng[j]), float(el[j]), float(res.t_end_s[j]), float(res.apex_height_m[j] - env.ground_alt_m)
    )


class AimError(ValueError):
    """An aim point the round cannot reach."""


@dataclass(frozen=True)
class AimSolution:
    az_rad: np.ndarray
    el_rad: np.ndarray
    miss_m: np.ndarray


def solve_aim(
    env: FlightEnv,
    munitions: Sequence[Munition],
    launch_enu_m,
    aim_enu_m,
    *,
    high: Sequence[bool] | bool = False,
    tol_m: float = 0.2,
    max_iter: int = 12,
) -> AimSolution:
    """Azimuth and elevation that land each round within ``tol_m`` of its aim point.

    1. Scan elevation 1..89 deg along the bearing to the aim point (one batch for all
       rounds): range rises to the best elevation and falls after it, so the low solution
       lies below the best elevation and the high one above it. Bracket the aim range on the
       chosen branch and interpolate a first elevation.
    2. Newton's method on (azimuth, elevation) -> impact (east, north), with the 2x2
       Jacobian from finite differences flown in the same batch, steps limited to 3 deg and
       elevation kept on its branch. Wind drift, weathercocking rockets and Earth curvature
       are all taken care of by flying the real model.

    Raises :class:`AimError` naming the round when its aim point is beyond maximum range.
    """
    n = len(munitions)
    launch = np.broadcast_to(np.asarray(launch_enu_m, float), (n, 3)).copy()
    aim = np.broadcast_to(np.asarray(aim_enu_m, float), (n, 3)).copy()
    high = np.broadcast_to(np.asarray(high, bool), (n,))
    want = ground_range_m(env, launch, aim)
    d = aim[:, :2] - launch[:, :2]
    az = np.radians(azimuth_deg(d[:, 0], d[:, 1]))

    # 1. elevation scan on the bearing
    grid = np.radians(np.linspace(1.0, 89.0, 45))
    m = grid.size
    res = fly_munitions(
        env,
        [mu for mu in munitions for _ in range(m)],
        np.repeat(launch, m, axis=0),
        np.repeat(az, m),
        np.tile(grid, n),
    )
    rng = ground_range_m(env, np.repeat(launch, m, axis=0), res.y_end[:, 0:3]).reshape(n, m)
    rng[~res.landed.reshape(n, m)] = -np.inf
    best = np.argmax(rng, axis=1)
    el = np.empty(n)
    lo_el = np.empty(n)
    hi_el = np.empty(n)
    for i in range(n):  # per round, over 45 grid values: bracketing is set-up, not a hot loop
        b = best[i]
        if want[i] > rng[i, b]:
            top = max_range(env, munitions[i], launch_enu_m=launch[i], az_rad=az[i])
            if want[i] > top.max_range_m:
                raise AimError(
                    f"aim point is {want[i]:.0f} m away, beyond the {munitions[i].name} maximum "
                    f"range of {top.max_range_m:.0f} m"
                )
            el[i] = np.radians(top.best_elevation_deg)
            lo_el[i] = hi_el[i] = el[i]
            continue
        idx = np.arange(b, m) if high[i] else np.arange(b, -1, -1)  # from the top down the branch
        r = rng[i, idx]
        j = int(np.argmax(r < want[i])) if np.any(r < want[i]) else len(idx) - 1
        j = max(j, 1)
        r0, r1 = r[j - 1], r[j]
        w = (want[i] - r0) / (r1 - r0) if r1 != r0 else 0.0
        el[i] = grid[idx[j - 1]] + w * (grid[idx[j]] - grid[idx[j - 1]])
        lo_el[i], hi_el[i] = (grid[b], np.radians(89.5)) if high[i] else (np.radians(0.5), grid[b])

    # 2. Newton on (az, el)
    step = np.radians(0.01)
    miss = np.full(n, np.inf)
    for _ in range(max_iter):
        azs = np.concatenate([az, az + step, az])
        els = np.concatenate([el, el, el + np.where(high, -step, step)])
        out = fly_munitions(env, list(munitions) * 3, np.tile(launch, (3, 1)), azs, els)
        end = out.y_end[:, 0:2].reshape(3, n, 2)
        resid = end[0] - aim[:, :2]
        miss = np.hypot(resid[:, 0], resid[:, 1])
        if np.all(miss < tol_m):
            break
        jac = np.stack(
            [(end[1] - end[0]) / step, (end[2] - end[0]) / np.where(high, -step, step)[:, None]], axis=2
        )
        delta = -np.linalg.solve(jac, resid[:, :, None])[:, :, 0]
        delta = np.clip(delta, -np.radians(3.0), np.radians(3.0))
        todo = miss >= tol_m
        az = np.where(todo, az + delta[:, 0], az)
        el = np.where(todo, np.clip(el + delta[:, 1], lo_el, hi_el), el)
    return AimSolution(np.mod(az, 2 * np.pi), el, miss)
