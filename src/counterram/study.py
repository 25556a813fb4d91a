"""Monte Carlo studies: many seeded runs of one scenario with its geometry and noise varied.

Run ``k`` of a study with seed ``s`` draws everything from ``numpy.random.default_rng([s, k])``
(so any single run can be reproduced alone): each threat's launch point is moved uniformly
within ``launch_shift_m`` of the scenario's (pulled toward its aim point when that would put
the aim beyond the round's reach), each aim point within ``aim_shift_m``, each radar's noise
sigmas scaled by a common factor drawn log-uniformly in ``noise_scale``; then the salvo
scatter, the radar noise, detections and false alarms are drawn as in a single run.

Besides the run's own scores, the prediction log is replayed through a fresh
:class:`~counterram.warn.Warner` at other thresholds (:func:`replay_warnings`), which gives
the warning trade-off curve (missed warnings and over-warnings against the threshold) from
the same flights and tracks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .events import AllClear, Event, ZoneWarned
from .scenario import Scenario
from .warn import Warner, WarnParams

#: thresholds of the warning trade-off curve
TRADEOFF_THRESHOLDS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


@dataclass(frozen=True)
class StudyParams:
    """What a Monte Carlo run varies: launch and aim points (m, uniform in a disc), the radar
    noise sigmas (a common factor, log-uniform between the two bounds)."""

    launch_shift_m: float = 1000.0
    aim_shift_m: float = 400.0
    noise_scale: tuple[float, float] = (0.75, 1.5)
    thresholds: Sequence[float] = TRADEOFF_THRESHOLDS


def _disc(rng: np.random.Generator, r_m: float) -> np.ndarray:
    a = rng.uniform(0.0, 2 * np.pi)
    return r_m * np.sqrt(rng.uniform()) * np.array([np.cos(a), np.sin(a)])


def perturb_scenario(scn: Scenario, rng: np.random.Generator, p: StudyParams | None = None) -> Scenario:
    """A copy of ``scn`` with launch and aim points moved and radar noise scaled (see module)."""
    from .physics.aim import max_range
    from .physics.munitions import CATALOG
    from .truth import flight_env

    p = p or StudyParams()
    site = scn.site
    env = flight_env(scn)
    threats = []
    for th in scn.threats:
        alt = th.launch.alt_m if th.launch.alt_m is not None else scn.ground_alt_m
        la = site.to_enu(th.launch.lat, th.launch.lon, alt)
        la[0:2] += _disc(rng, p.launch_shift_m)
        upd: dict = {}
        if th.aim is not None:
            ai = site.to_enu(th.aim.lat, th.aim.lon, scn.ground_alt_m)
            ai[0:2] += _disc(rng, p.aim_shift_m)
            # keep the aim within 92 % of the round's reach (the salvo scatter needs a margin)
            d = ai[0:2] - la[0:2]
            bearing = float(np.arctan2(d[0], d[1]))
            reach = 0.92 * max_range(env, CATALOG[th.munition], launch_enu_m=la, az_rad=bearing).max_range_m
            dist = float(np.hypot(*d))
            if dist > reach:
                la[0:2] = ai[0:2] - d * (reach / dist)
            lat, lon, _ = site.to_geodetic(ai)
            upd["aim"] = th.aim.model_copy(update={"lat": float(lat), "lon": float(lon)})
        lat, lon, _ = site.to_geodetic(la)
        upd["launch"] = th.launch.model_copy(update={"lat": float(lat), "lon": float(lon)})
        threats.append(th.model_copy(update=upd))
    lo, hi = p.noise_scale
    f = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    sensors = [
        s.model_copy(
            update={
                "sigma_range_m": s.sigma_range_m * f,
                "sigma_az_deg": s.sigma_az_deg * f,
                "sigma_el_deg": s.sigma_el_deg * f,
                "sigma_rdot_mps": None if s.sigma_rdot_mps is None else s.sigma_rdot_mps * f,
            }
        )
        for s in scn.sensors
    ]
    return scn.model_copy(update={"threats": threats, "sensors": sensors})


def replay_warnings(run, threshold: float) -> list[Event]:
    """The zone warnings a run would have given at another ``threshold``: the run's prediction
    log (every prediction with the label it was warned with) and its track endings fed, in
    time order, through a fresh Warner with the engine's other warning parameters."""
    base = run.engine.config.warn
    warner = Warner(run.zones, WarnParams(threshold, base.hold_s, base.n_samples, base.lethal_radius_m))
    pr = run.predictions.arrays()
    ends = sorted(
        (e.t, e.track) for e in run.events if e.kind in ("track_landed", "track_dropped", "track_destroyed")
    )
    hold = base.hold_s
    steps = np.unique(pr["t_step"])
    # the engine looks for all-clears at every step; here: at each prediction and when a hold ends
    times = np.unique(np.concatenate([steps, [t + hold + 1e-9 for t, _ in ends]]))
    out: list[Event] = []
    k = 0
    for t in times:
        ended = []
        while k < len(ends) and ends[k][0] <= t:
            ended.append((ends[k][1], ends[k][0]))
            k += 1
        sel = np.flatnonzero(pr["t_step"] == t)
        ev, _ = warner.update(
            float(t),
            pr["track"][sel],
            pr["impact_enu"][sel, 0:2],
            pr["impact_cov"][sel],
            pr["t_impact"][sel],
            pr["cls"][sel],
            ended,
        )
        out += ev
    return [e for e in out if isinstance(e, ZoneWarned | AllClear)]


@dataclass
class RunResult:
    """One Monte Carlo run: its summary keys and, per trade-off threshold, the warning
    counts (impacts in zones, missed, over-warnings, warning cycles, median lead ratio)."""

    k: int
    summary: dict
    tradeoff: dict[float, dict] = field(default_factory=dict)


def one_run(scn: Scenario, seed: int, k: int, p: StudyParams | None = None) -> RunResult:
    """Run ``k`` of a study (reproducible alone from ``seed`` and ``k``)."""
    from .sim import run_scenario, score_engage, score_run, score_warn, warn_summary

    p = p or StudyParams()
    rng = np.random.default_rng([seed, k])
    s = perturb_scenario(scn, rng, p)
    run = run_scenario(s, rng)
    ts = score_run(run)
    ws = score_warn(run, ts)
    summary = {
        "tracks_confirmed": ts.tracks_confirmed,
        "false_tracks": ts.false_tracks,
        "track_breaks": ts.track_breaks,
        **warn_summary(ws),
        **score_engage(run),
    }
    res = RunResult(k, summary)
    for th in p.thresholds:
        ev = replay_warnings(run, th)
        w2 = score_warn(run, ts, with_crlb=False, events=ev)
        res.tradeoff[th] = {
            "impacts_in_zones": w2.impacts_in_zones,
            "missed_warnings": w2.missed_warnings,
            "over_warnings": w2.over_warnings,
            "warning_cycles": w2.warning_cycles,
            "lead_time_ratio_median": w2.lead_time_ratio_median,
            "lead_time_s_min": w2.lead_time_s["min"],
        }
    return res


def _job(args):
    scn_json, seed, k, p = args
    return one_run(Scenario.model_validate_json(scn_json), seed, k, p)


def run_study(
    scn: Scenario,
    runs: int,
    seed: int,
    *,
    workers: int = 1,
    params: StudyParams | None = None,
    progress: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """``runs`` seeded runs (in ``workers`` processes); results in run order."""
    p = params or StudyParams()
    if workers <= 1:
        out = []
        for k in range(runs):
            out.append(one_run(scn, seed, k, p))
            if progress:
                progress(out[-1])
        return out
    from concurrent.futures import ProcessPoolExecutor

    scn_json = scn.model_dump_json()
    out = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for r in pool.map(_job, [(scn_json, seed, k, p) for k in range(runs)]):
            out.append(r)
            if progress:
                progress(r)
    return out


def _spread(xs) -> dict:
    a = np.array([x for x in xs if x is not None and np.isfinite(x)], float)
    if a.size == 0:
        return {"median": None, "p5": None, "p95": None, "mean": None, "n": 0}
    return {
        "median": round(float(np.median(a)), 3),
        "p5": round(float(np.percentile(a, 5)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "mean": round(float(np.mean(a)), 3),
        "n": int(a.size),
    }


def _min(xs) -> float | None:
    a = [float(x) for x in xs if x is not None and np.isfinite(x)]
    return round(min(a), 3) if a else None


def aggregate(results: list[RunResult], thresholds: Sequence[float] = TRADEOFF_THRESHOLDS) -> dict:
    """Study totals and spreads (the keys of ``study.json``)."""
    s = [r.summary for r in results]
    impacts = sum(x["impacts_in_zones"] for x in s)
    curve = []
    for th in thresholds:
        rows = [r.tradeoff[th] for r in results if th in r.tradeoff]
        if not rows:
            continue
        n_imp = sum(x["impacts_in_zones"] for x in rows)
        curve.append(
            {
                "threshold": th,
                "missed_warnings": sum(x["missed_warnings"] for x in rows),
                "over_warnings": sum(x["over_warnings"] for x in rows),
                "over_warnings_per_impact": round(sum(x["over_warnings"] for x in rows) / max(n_imp, 1), 3),
                "warning_cycles": sum(x["warning_cycles"] for x in rows),
                "lead_time_ratio_median": _spread([x["lead_time_ratio_median"] for x in rows])["median"],
                "lead_time_ratio_p5": _spread([x["lead_time_ratio_median"] for x in rows])["p5"],
                "lead_time_s_min_p5": _spread([x.get("lead_time_s_min") for x in rows])["p5"],
                "lead_time_s_min": _min([x.get("lead_time_s_min") for x in rows]),
            }
        )
    return {
        "runs": len(results),
        "impacts_in_zones": impacts,
        "missed_warnings": sum(x["missed_warnings"] for x in s),
        "runs_with_missed_warnings": sum(1 for x in s if x["missed_warnings"]),
        "over_warnings": sum(x["over_warnings"] for x in s),
        "over_warnings_per_impact": _spread(
            [x["over_warnings"] / x["impacts_in_zones"] if x["impacts_in_zones"] else None for x in s]
        ),
        "non_ballistic_warnings": sum(x["non_ballistic_warnings"] for x in s),
        "false_tracks": sum(x["false_tracks"] for x in s),
        "lead_time_s_median": _spread([x["lead_time_s"]["median"] for x in s]),
        "lead_time_ratio_median": _spread([x["lead_time_ratio_median"] for x in s]),
        "ipp_rmse_over_crlb": _spread([x["ipp_rmse_over_crlb"] for x in s]),
        "ipp_error_m_t-10": _spread([x["ipp_error_m"]["t-10"] for x in s]),
        "poo_error_m_median": _spread([x["poo_error_m"]["median"] for x in s]),
        "engagement": _engagement_totals(s),
        "tradeoff": curve,
    }


def _engagement_totals(s: list[dict]) -> dict:
    """Engagement totals over the runs, and the kill count against its expectation: the
    kills of the shots decided by a draw are a Poisson-binomial count with mean sum(pk) and
    variance sum(pk (1 - pk)); ``kill_z`` is the standardised difference and ``kill_ci95``
    the 95 % interval of the count (normal approximation)."""
    keys = ("engaged", "destroyed", "leakers", "let_go", "wasted", "rounds_fired", "interceptors_fired")
    out = {k: sum(x.get(k, 0) for x in s) for k in keys}
    shots = sum(x.get("shots_drawn", 0) for x in s)
    kills = sum(x.get("kills", 0) for x in s)
    mean = sum(x.get("pk_sum", 0.0) for x in s)
    var = sum(x.get("pk_var_sum", 0.0) for x in s)
    sd = float(np.sqrt(var))
    out.update(
        {
            "shots_drawn": shots,
            "kills": kills,
            "kill_rate": round(kills / shots, 4) if shots else None,
            "expected_kill_rate": round(mean / shots, 4) if shots else None,
            "kill_ci95": [round(mean - 1.96 * sd, 2), round(mean + 1.96 * sd, 2)],
            "kill_z": round((kills - mean) / sd, 3) if sd > 0 else None,
            "cue_error_m_median": _spread([x.get("cue_error_m", {}).get("median") for x in s]),
        }
    )
    return out
