"""Flight benchmark: fly 10,000 mixed catalog rounds to impact, batched and one at a time.

What it measures
    Trajectories per second of the batched truth flight (:func:`counterram.physics.aim.fly_munitions`,
    a Dormand-Prince 5(4) integrator advancing every projectile at once with its own step
    length), and the ratio against flying the same projectiles one at a time with
    ``scipy.integrate.solve_ivp``. Targets (from the issue): at least 10,000 trajectories/s on
    one core and at least 50 times the one-at-a-time baseline.

How
    * Seeded draw of N projectiles (``--n``, default 10,000): a random catalog munition each,
      a launch point uniform in a +-5 km square about the default scenario origin (33.2985 N,
      44.3958 E, 31.8 m ellipsoid height) placed on the ground (31.8 m), a uniform random
      azimuth and an elevation uniform in 20..70 degrees; calm ISA air, round Earth.
    * Batched: ``fly_munitions`` on all N, ``--repeat`` times (default 5); the median, min and
      max wall times are reported, and the mean accepted steps per trajectory.
    * Baseline: the same physics - the same :class:`MunitionDynamics` right-hand side, built
      with a single row - flown by ``solve_ivp`` (method ``RK45``, which is the same
      Dormand-Prince 5(4) pair) for a random subset of the SAME projectiles (``--baseline-n``,
      default 300; all 10,000 would take minutes). Tolerances are the batched integrator's own,
      ``rtol = RTOL = 1e-8`` and ``atol = ATOL`` = 1 mm on position, 0.01 mm/s on velocity
      (measured to give impact points within 0.3 m of an rtol = 1e-12 flight), with the same
      first step (0.01 s) and step cap (2 s), so the ratio measures the batching, not a looser
      or tighter accuracy. Rockets start at rail exit from the same analytic launch-rail
      formulas as ``fly_munitions`` (a = T / m0 - g0 sin(el), t = sqrt(2 L / a), speed a t) and
      are integrated in two segments, thrust on up to burn-out and off after it (the batched
      integrator also ends a step exactly at burn-out). The ground is a terminal event on the
      height above the osculating sphere falling through the ground height, followed by the
      same exact-WGS-84 correction the batched integrator applies (slide along the velocity).
    * Check: the subset's impact points from both must agree within 1 m (max and 99th
      percentile printed); the script exits with status 1 when any does not.

The thread pools of the BLAS libraries numpy may call into are pinned to one thread before
numpy is imported (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` = 1): the
target is per core, the solve_ivp baseline is single-threaded, and a figure that borrowed other
cores would flatter the batched side and vary with the machine's load.

Run (``make bench`` runs the first)::

    .venv/bin/python bench/flight.py                        # 10,000 rounds, 5 repeats, 300 baseline
    .venv/bin/python bench/flight.py --n 2000 --baseline-n 50   # smoke run
    .venv/bin/python bench/flight.py --json                 # only the one-line JSON summary
"""

from __future__ import annotations

import one_thread  # noqa: F401  (first: one BLAS thread, set before NumPy loads)

# isort: split

import argparse
import json
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

from counterram.geo import Site
from counterram.physics.aim import fly_munitions
from counterram.physics.flight import (
    ATOL,
    RTOL,
    FlightEnv,
    MunitionDynamics,
    launch_direction,
)
from counterram.physics.munitions import CATALOG, DRAG_LAWS

ORIGIN = (33.2985, 44.3958, 31.8)  # default scenario origin: lat, lon (deg), ellipsoid height (m)
GROUND_ALT_M = 31.8
HALF_SIDE_M = 5000.0
ELEVATION_DEG = (20.0, 70.0)
T_MAX_S = 300.0  # as fly_munitions
FIRST_STEP_S = 0.01  # as integrate_to_ground
MAX_STEP_S = 2.0  # as integrate_to_ground
TOLERANCE_M = 1.0


def draw(env: FlightEnv, n: int, seed: int):
    """N random rounds: munitions, launch points on the ground (ENU), azimuths, elevations."""
    rng = np.random.default_rng(seed)
    catalog = list(CATALOG.values())
    munitions = [catalog[i] for i in rng.integers(0, len(catalog), n)]
    en = rng.uniform(-HALF_SIDE_M, HALF_SIDE_M, (n, 2))
    # up coordinate that puts the point at the ground height above the osculating sphere
    site = env.site
    rg = site.radius_m + GROUND_ALT_M
    up = np.sqrt(rg**2 - np.einsum("ij,ij->i", en, en)) - (site.radius_m + site.alt_m)
    launch = np.column_stack([en, up])
    az = rng.uniform(0.0, 2.0 * np.pi, n)
    el = np.radians(rng.uniform(*ELEVATION_DEG, n))
    return munitions, launch, az, el


def fly_one(env: FlightEnv, mun, launch, az, el):
    """Impact point (ENU, m) of one round with scipy's RK45 on the same right-hand side."""
    dyn = MunitionDynamics(
        env,
        law_idx=np.array([mun.law_idx]),
        ia_m2=[mun.form_factor * mun.area_m2],
        mass0_kg=[mun.mass_kg],
        mdot_kgps=[mun.mdot_kgps],
        thrust_n=[mun.thrust_n],
        burn_s=[mun.burn_s],
    )
    u = launch_direction(az, el)
    if mun.rail_m > 0:  # launch rail, as in fly_munitions
        a_rail = mun.thrust_n / mun.mass_kg - env.g0_mps2 * np.sin(el)
        tau0 = np.sqrt(2.0 * mun.rail_m / a_rail)
        y = np.concatenate([launch + u * mun.rail_m, u * a_rail * tau0])
    else:
        tau0 = 0.0
        y = np.concatenate([launch, u * mun.muzzle_speed_mps])

    def rhs(t, yy):
        return dyn.deriv(np.array([t]), yy[None, :])[0]

    def ground(t, yy):
        return env.height_m(yy[:3]) - env.ground_alt_m

    ground.terminal = True
    ground.direction = -1.0

    # segments: thrust on up to burn-out (rockets), then thrust off to the ground
    t_end = tau0 + T_MAX_S
    segments = [(tau0, mun.burn_s), (mun.burn_s, t_end)] if mun.burn_s > tau0 else [(tau0, t_end)]
    for t0, t1 in segments:
        dyn.begin_step(np.array([t0]))
        sol = solve_ivp(
            rhs,
            (t0, t1),
            y,
            method="RK45",
            rtol=RTOL,
            atol=ATOL,
            first_step=FIRST_STEP_S,
            max_step=MAX_STEP_S,
            events=ground,
        )
        if sol.status == 1:  # the ground
            ye = sol.y_events[0][0]
            pos, vel = ye[:3], ye[3:6]
            # from the osculating sphere to the exact WGS-84 height, as integrate_to_ground
            err = env.site.height_m(pos) - env.ground_alt_m
            rate = float(vel @ env.up(pos))
            return pos - vel * (err / rate)
        y = sol.y[:, -1]
    return np.full(3, np.nan)  # not landed within T_MAX_S


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="projectiles flown in the batch")
    ap.add_argument("--repeat", type=int, default=5, help="timed batched runs (median reported)")
    ap.add_argument("--baseline-n", type=int, default=300, help="of them flown one at a time")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print only the one-line JSON summary")
    args = ap.parse_args(argv)

    env = FlightEnv(Site(*ORIGIN), GROUND_ALT_M, DRAG_LAWS)
    munitions, launch, az, el = draw(env, args.n, args.seed)

    # batched
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = fly_munitions(env, munitions, launch, az, el)
        times.append(time.perf_counter() - t0)
    med = float(np.median(times))

    # one at a time, on a random subset of the same rounds
    m = min(args.baseline_n, args.n)
    pick = np.random.default_rng(args.seed + 1).choice(args.n, m, replace=False)
    t0 = time.perf_counter()
    single = np.array([fly_one(env, munitions[i], launch[i], az[i], el[i]) for i in pick])
    base_s = time.perf_counter() - t0

    diff = np.linalg.norm(single - res.y_end[pick, 0:3], axis=1)
    diff[~res.landed[pick]] = np.inf
    diff[np.isnan(diff)] = np.inf
    batched_tps = args.n / med
    base_tps = m / base_s
    summary = {
        "n": args.n,
        "repeat": args.repeat,
        "batched_median_s": round(med, 4),
        "batched_traj_per_s": round(batched_tps, 1),
        "baseline_n": m,
        "baseline_traj_per_s": round(base_tps, 1),
        "speed_ratio": round(batched_tps / base_tps, 1),
        "max_impact_diff_m": round(float(diff.max()), 4),
        "p99_impact_diff_m": round(float(np.percentile(diff, 99)), 4),
        "mean_steps": round(float(res.steps.mean()), 1),
    }
    ok = bool(np.all(diff <= TOLERANCE_M)) and bool(res.landed.all())

    if not args.json:
        kinds = {k: sum(mu.kind == k for mu in munitions) for k in ("mortar", "rocket", "artillery")}
        print(f"flight benchmark: {args.n} rounds ({', '.join(f'{v} {k}' for k, v in kinds.items())})")
        print(f"seed {args.seed}, one thread, numpy {np.__version__}")
        print()
        print(f"{'':38}{'seconds':>10}{'traj/s':>12}")
        print(
            f"{f'batched, median of {args.repeat}':38}{med:>10.3f}{batched_tps:>12,.0f}"
            f"   (min {min(times):.3f} s, max {max(times):.3f} s)"
        )
        print(f"{f'solve_ivp RK45, one at a time ({m})':38}{base_s:>10.3f}{base_tps:>12,.0f}")
        print(f"{'speed ratio (per trajectory)':38}{'':>10}{batched_tps / base_tps:>12,.1f}x")
        print(f"{'mean accepted steps / trajectory':38}{'':>10}{res.steps.mean():>12.1f}")
        print(
            f"impact points, batched vs one at a time: max {diff.max():.3f} m, "
            f"99th percentile {np.percentile(diff, 99):.3f} m (limit {TOLERANCE_M:g} m)"
        )
        if not res.landed.all():
            print(f"NOT LANDED in the batch: {int((~res.landed).sum())} rounds")
        print("OK" if ok else "FAIL: impact points disagree by more than the limit")
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
