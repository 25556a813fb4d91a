"""Prediction benchmark: covariance of linear vs sigma points vs Monte Carlo, cost, boost bias.

What it measures
    1. Covariance. For catalog rounds (their drag law replaced by the tracker's G7, so that a
       state taken from the truth flight is exactly a ballistic state) and three track ages
       (3, 6 and 10 s after confirmation, with a real track's covariance at that age), the
       east/north covariance of the impact and of the origin from ``ground_points``
       (``method="linear"`` and ``"sigma"``) against 2,000 Monte Carlo states drawn (seeded)
       from N(x, P) and flown to the ground with the flight model at its own tolerances:
       the ratio of sqrt(det), of each standard deviation, the difference of the correlation
       and the offset of the mean, in standard deviations of the Monte Carlo spread.
    2. Cost. Median wall time of one call of ``ground_points`` for N = 1, 100 and 1,000 tracks
       (a seeded mix of catalog rounds at random points of their flights), forward (impact)
       and backward (origin), for both methods, and the ratio sigma / linear in this process.
    3. Boost bias. The 107 mm and 122 mm rockets of the catalog flown by the truth model at
       30, 45 and 60 deg, their state after burn-out (0.5 s after, 5 s, 10 s, mid-flight,
       with the round's own drag law and exact kappa = ln(i A / m_burnt), so that the only
       model error is the boost) flown back by ``ground_points(backward=True)``: horizontal
       distance of the back-flown origin from the launcher, and the launch-time error without
       and with ``boost_time_correction_s`` of the class ``ballistic_class`` gives it.
    4. Step cap. Impact and origin points and covariances of the linear prediction with the
       longest integration step capped at 20, 5, 3, 2 and 1 s, against a tight integration
       (what ``PRED_MAX_STEP_S`` was chosen from).

BLAS thread pools are pinned to one thread (as bench/flight.py). About 30-60 s.

Run::

    .venv/bin/python bench/predict.py
"""

from __future__ import annotations

import one_thread  # noqa: F401  (first: one BLAS thread, set before NumPy loads)

# isort: split

import dataclasses
import time

import numpy as np

from counterram import predict
from counterram.geo import Site
from counterram.physics.aim import fly_munitions, ground_range_m
from counterram.physics.flight import FlightEnv, Wind, fly_ballistic_to_ground
from counterram.physics.munitions import CATALOG, DRAG_LAWS, TRACKER_LAW
from counterram.predict import ballistic_class, boost_time_correction_s, ground_points

SITE = Site(33.2985, 44.3958, 31.8)
WIND = Wind(height_m=(0.0, 1000.0, 3000.0), east_mps=(2.0, 8.0, 12.0), north_mps=(0.0, -3.0, -5.0))
ENV = FlightEnv(SITE, SITE.alt_m, DRAG_LAWS, wind=WIND)
G7 = DRAG_LAWS.index(TRACKER_LAW)
DT = 0.1
LAUNCH = SITE.to_enu(33.31, 44.38, SITE.alt_m)  # on the ground, 2.9 km from the site
AZ = np.radians(120.0)
N_MC = 2000
CONFIRM_S = 3.0  # a track is confirmed about 3 s after launch

# A 120 mm mortar's track (1 Hz radar 6 km away: 10 m, 0.3 deg, 1 m/s), 3, 6 and 10 s after
# confirmation: standard deviations of [e, n, u, ve, vn, vu, kappa] and correlations (rounded).
TRACK_SD = {
    3: [14.8, 27.5, 27.1, 10.7, 21.1, 19.2, 0.71],
    6: [10.2, 22.5, 24.2, 3.0, 9.3, 10.3, 0.33],
    10: [7.0, 14.3, 15.1, 1.05, 2.5, 2.5, 0.11],
}
TRACK_CORR = {
    3: [
        [1.00, -0.86, 0.30, 0.69, -0.69, 0.31, 0.07],
        [-0.86, 1.00, -0.12, -0.70, 0.74, -0.19, -0.16],
        [0.30, -0.12, 1.00, 0.34, -0.16, 0.66, -0.32],
        [0.69, -0.70, 0.34, 1.00, -0.97, 0.43, 0.08],
        [-0.69, 0.74, -0.16, -0.97, 1.00, -0.23, -0.25],
        [0.31, -0.19, 0.66, 0.43, -0.23, 1.00, -0.54],
        [0.07, -0.16, -0.32, 0.08, -0.25, -0.54, 1.00],
    ],
    6: [
        [1.00, -0.75, 0.39, 0.71, -0.52, 0.20, 0.13],
        [-0.75, 1.00, 0.11, -0.56, 0.80, 0.23, -0.53],
        [0.39, 0.11, 1.00, 0.48, 0.28, 0.80, -0.62],
        [0.71, -0.56, 0.48, 1.00, -0.60, 0.37, 0.03],
        [-0.52, 0.80, 0.28, -0.60, 1.00, 0.48, -0.80],
        [0.20, 0.23, 0.80, 0.37, 0.48, 1.00, -0.87],
        [0.13, -0.53, -0.62, 0.03, -0.80, -0.87, 1.00],
    ],
    10: [
        [1.00, -0.36, 0.80, 0.74, -0.15, 0.61, -0.20],
        [-0.36, 1.00, -0.04, -0.11, 0.76, 0.03, -0.32],
        [0.80, -0.04, 1.00, 0.77, 0.12, 0.77, -0.35],
        [0.74, -0.11, 0.77, 1.00, -0.06, 0.78, -0.35],
        [-0.15, 0.76, 0.12, -0.06, 1.00, 0.31, -0.63],
        [0.61, 0.03, 0.77, 0.78, 0.31, 1.00, -0.60],
        [-0.20, -0.32, -0.35, -0.35, -0.63, -0.60, 1.00],
    ],
}


def track_p(age):
    sd = np.array(TRACK_SD[age])
    return sd[:, None] * np.array(TRACK_CORR[age]) * sd[None, :]


def g7_flight(name, el_deg=45.0):
    m = dataclasses.replace(CATALOG[name], drag_law=TRACKER_LAW)
    kappa = float(np.log(m.form_factor * m.area_m2 / m.burnt_mass_kg))
    res = fly_munitions(ENV, [m], LAUNCH, AZ, np.radians(el_deg), sample_dt_s=DT)
    return m, kappa, res


def state(res, kappa, t_s):
    return np.r_[res.samples[0, int(round(t_s / DT))], kappa]


def sd_corr(c):
    s = np.sqrt(np.diag(c))
    return s, c[0, 1] / (s[0] * s[1])


# ------------------------------------------------------------------------------------------------
def covariance_table(rng):
    print("1. East/north covariance against Monte Carlo (2,000 seeded draws of N(x, P) flown)")
    print("   ratio = method / Monte Carlo; dr = correlation difference; mean offset in MC sd")
    print(
        f"   {'round':13s} {'age':>4s} {'to':6s} {'MC sd e,n (m)':>15s} {'MC r':>6s}"
        f" | {'linear: sqrt det, sd_e, sd_n, dr, |mean|':42s}"
        f" | {'sigma: sqrt det, sd_e, sd_n, dr, |mean|':42s}"
    )
    worst = {"linear": [], "sigma": []}
    for name, el in [
        ("mortar-81mm", 45.0),
        ("mortar-120mm", 50.0),
        ("rocket-107mm", 40.0),
        ("rocket-122mm", 40.0),
        ("shell-155mm", 40.0),
    ]:
        _, kappa, res = g7_flight(name, el)
        for age in (3, 6, 10):
            t = CONFIRM_S + age
            x = state(res, kappa, t)
            P = track_p(age)
            draws = rng.multivariate_normal(x, P, size=N_MC)
            for backward in (False, True):
                mc = fly_ballistic_to_ground(ENV, draws, G7, backward=backward, t_max_s=150.0)
                en = mc.y_end[mc.landed, 0:2]
                c_mc = np.cov(en.T)
                (s_mc, r_mc), m_mc = sd_corr(c_mc), en.mean(axis=0)
                line = (
                    f"   {name:13s} {age:3d}s {'origin' if backward else 'impact'}"
                    f" {s_mc[0]:7.0f},{s_mc[1]:7.0f} {r_mc:+6.2f}"
                )
                if not mc.landed.all():
                    line += f" ({(~mc.landed).sum()} draws did not land)"
                for method in ("linear", "sigma"):
                    g = ground_points(ENV, x[None], P[None], G7, method=method, backward=backward)
                    c = g.cov_en_m2[0]
                    s, r = sd_corr(c)
                    det = np.sqrt(np.sqrt(np.linalg.det(c) / np.linalg.det(c_mc)))
                    off = np.abs((g.enu_m[0, 0:2] - m_mc) / s_mc).max()
                    worst[method].append(
                        (abs(det - 1), np.abs(s / s_mc - 1).max(), abs(r - r_mc), off, age, backward)
                    )
                    line += (
                        f" | {det:6.3f} {s[0] / s_mc[0]:6.3f} {s[1] / s_mc[1]:6.3f} {r - r_mc:+6.3f}"
                        f" {off:5.2f}{'':12s}" + ("" if g.ok[0] else " NOT LANDED")
                    )
                print(line)
    for backward in (False, True):
        for method, rows in worst.items():
            for ages, label in (((6, 10), "ages 6-10 s"), ((3,), "age 3 s")):
                a = np.array([w[:4] for w in rows if w[4] in ages and w[5] == backward])
                print(
                    f"   {'origin' if backward else 'impact'} {method:6s} {label:11s}: worst |sqrt det - 1|"
                    f" {a[:, 0].max():.3f}, |sd ratio - 1| {a[:, 1].max():.3f}, |dr| {a[:, 2].max():.3f},"
                    f" |mean offset| {a[:, 3].max():.2f} sd; mean |sd ratio - 1| {a[:, 1].mean():.3f}"
                )


# ------------------------------------------------------------------------------------------------
def tracks(n, rng):
    """N track states at random points of random catalog flights, and a track covariance."""
    names = list(CATALOG)
    flights = {nm: g7_flight(nm, 45.0) for nm in names}
    x = np.empty((n, 7))
    for i in range(n):
        _, kappa, res = flights[names[rng.integers(len(names))]]
        T = res.t_end_s[0]
        x[i] = state(res, kappa, rng.uniform(0.1, 0.8) * T)
    return x, np.broadcast_to(track_p(6), (n, 7, 7)).copy()


def median_times(fns, repeats):
    """Median wall time of each of ``fns``, called in turn within every repeat (alternating
    order), so that a load on the machine falls on all of them alike."""
    ts = [[] for _ in fns]
    for k in range(repeats):
        order = range(len(fns)) if k % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            t0 = time.perf_counter()
            fns[i]()
            ts[i].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in ts]


def timing_table(rng):
    print("\n2. Time per call of ground_points (median of repeats, this process, one BLAS thread)")
    print(
        f"   {'N':>5s} {'to':6s} {'linear ms':>10s} {'sigma ms':>10s} {'sigma/linear':>13s}"
        f" {'linear us/track':>16s} {'sigma us/track':>15s}"
    )
    x_all, P_all = tracks(1000, rng)
    for n, repeats in ((1, 31), (10, 15), (100, 9), (1000, 5)):
        x, P = x_all[:n], P_all[:n]
        for backward in (False, True):
            lin, sig = median_times(
                [
                    lambda x=x, P=P, m=m, bw=backward: ground_points(ENV, x, P, G7, method=m, backward=bw)
                    for m in ("linear", "sigma")
                ],
                repeats,
            )
            print(
                f"   {n:5d} {'origin' if backward else 'impact'} {lin * 1e3:10.2f} {sig * 1e3:10.2f}"
                f" {sig / lin:13.2f} {lin / n * 1e6:16.0f} {sig / n * 1e6:15.0f}"
            )
    try:
        from counterram.predict import impact_and_origin
    except ImportError:  # an older predict.py: the engine calls ground_points twice
        return
    print("   The engine's call, impact_and_origin (impact by the method, origin linear; with")
    print("   linear both fly in one integration):")
    print(f"   {'N':>5s} {'linear ms':>17s} {'sigma ms':>10s} {'sigma/linear':>13s}")
    for n, repeats in ((1, 31), (10, 15), (100, 9), (1000, 5)):
        x, P = x_all[:n], P_all[:n]
        lin, sig = median_times(
            [lambda x=x, P=P, m=m: impact_and_origin(ENV, x, P, G7, method=m) for m in ("linear", "sigma")],
            repeats,
        )
        print(f"   {n:5d} {lin * 1e3:17.2f} {sig * 1e3:10.2f} {sig / lin:13.2f}")


# ------------------------------------------------------------------------------------------------
def boost_table():
    print("\n3. Point of origin of rockets back-flown ballistically from after burn-out")
    print("   (own drag law and exact kappa: the boost is the only model error)")
    print(
        f"   {'round':13s} {'el':>4s} {'from t':>7s} {'speed':>6s} {'class':9s} {'dist m':>7s}"
        f" {'dt_launch s':>12s} {'corrected s':>12s}"
    )
    for name in ("rocket-107mm", "rocket-122mm"):
        m = CATALOG[name]
        kappa = float(np.log(m.form_factor * m.area_m2 / m.burnt_mass_kg))
        dist_all, dt_all, dtc_all = [], [], []
        for el in (30.0, 45.0, 60.0):
            res = fly_munitions(ENV, [m], LAUNCH, AZ, np.radians(el), sample_dt_s=DT)
            T = res.t_end_s[0]
            ts = np.array([m.burn_s + 0.5, 5.0, 10.0, T / 2])
            x = np.array([np.r_[res.samples[0, int(round(t / DT))], kappa] for t in ts])
            org = ground_points(ENV, x, np.zeros((len(ts), 7, 7)), m.law_idx, backward=True)
            cls = ballistic_class(org.speed_mps)
            dist = ground_range_m(ENV, LAUNCH, org.enu_m)
            dt = ts + org.dt_s  # the truth launch is at t = 0
            dtc = dt - boost_time_correction_s(cls)
            for k, t in enumerate(ts):
                print(
                    f"   {name:13s} {el:4.0f} {t:7.1f} {org.speed_mps[k]:6.0f} {cls[k]:9s} {dist[k]:7.1f}"
                    f" {dt[k]:+12.3f} {dtc[k]:+12.3f}"
                )
            dist_all += list(dist)
            dt_all += list(dt)
            dtc_all += list(dtc)
        print(
            f"   {name}: distance {min(dist_all):.1f}-{max(dist_all):.1f} m; launch time late by"
            f" {min(dt_all):.2f}-{max(dt_all):.2f} s uncorrected,"
            f" {min(dtc_all):+.2f} to {max(dtc_all):+.2f} s"
            f" corrected (burn {m.burn_s} s, half of it {m.burn_s / 2:.2f} s)"
        )


# ------------------------------------------------------------------------------------------------
def step_cap_table(rng):
    """Accuracy and cost of the prediction's integration for step caps, against a tight one."""
    print(
        f"\n4. The prediction's longest step (PRED_MAX_STEP_S; now {predict.PRED_MAX_STEP_S:g} s)"
        " against a tight integration"
    )
    print("   (rtol 1e-9, 0.1 mm, 1 um/s, 0.5 s steps); 600 track states, 0.1-0.8 of their flights, linear")
    print(
        f"   {'cap s':>5s} {'to':6s} {'p50 m':>7s} {'p99 m':>7s} {'max m':>7s}"
        f" {'p99 |sqrt det - 1|':>19s} {'ms':>6s}"
    )
    x, P = tracks(600, rng)
    saved = (predict.PRED_MAX_STEP_S, predict.PRED_RTOL, predict.PRED_ATOL)
    try:
        for backward in (False, True):
            predict.PRED_MAX_STEP_S, predict.PRED_RTOL = 0.5, 1e-9
            predict.PRED_ATOL = (1e-4,) * 3 + (1e-6,) * 3
            ref = predict.ground_linear(ENV, x, P, G7, backward=backward)
            det_ref = np.sqrt(np.linalg.det(ref.cov_en_m2))
            predict.PRED_RTOL, predict.PRED_ATOL = saved[1], saved[2]
            for cap in (20.0, 5.0, 3.0, 2.0, 1.0):
                predict.PRED_MAX_STEP_S = cap
                t0 = time.perf_counter()
                g = predict.ground_linear(ENV, x, P, G7, backward=backward)
                dt = time.perf_counter() - t0
                ok = g.ok & ref.ok
                e = np.linalg.norm(g.enu_m - ref.enu_m, axis=1)[ok]
                c = np.abs(np.sqrt(np.linalg.det(g.cov_en_m2[ok])) / det_ref[ok] - 1.0)
                print(
                    f"   {cap:5.0f} {'origin' if backward else 'impact'} {np.median(e):7.2f}"
                    f" {np.percentile(e, 99):7.2f} {e.max():7.2f} {np.percentile(c, 99):19.3f}"
                    f" {dt * 1e3:6.0f}"
                )
    finally:
        predict.PRED_MAX_STEP_S, predict.PRED_RTOL, predict.PRED_ATOL = saved


def main():
    t0 = time.perf_counter()
    rng = np.random.default_rng(20240611)
    covariance_table(rng)
    timing_table(rng)
    boost_table()
    step_cap_table(rng)
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
