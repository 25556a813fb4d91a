"""The scenario runner: truth -> plots -> engine -> events, and the record for scoring.

``run_scenario`` flies the scenario's truth, simulates every radar's plots, feeds them to
the :class:`~counterram.engine.Engine` batch by batch in arrival order (exactly as a live
feed would), and keeps what scoring needs: which truth object each plot came from, which
track took it, the events, and the confirmed tracks sampled once a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .engine import Engine, EngineConfig, PredictionTable, TrackView
from .events import Event, TruthImpact, TruthLaunch
from .scenario import Scenario
from .sensing.plots import PlotBatch
from .sensing.radar import RadarGeometry
from .sensing.simulate import simulate_plots
from .truth import Truth, flight_env, fly_truth, zone_of
from .warn import ZoneGeometry


@dataclass
class PlotLog:
    """Every plot the engine saw, in arrival order: time, sensor, truth row (-1 false alarm),
    the track that took it (-1 none), whether it updated that track."""

    t_s: list[np.ndarray] = field(default_factory=list)
    sensor: list[np.ndarray] = field(default_factory=list)
    truth_row: list[np.ndarray] = field(default_factory=list)
    serial: list[np.ndarray] = field(default_factory=list)
    owner_serial: list[np.ndarray] = field(default_factory=list)  # (serial, track id) pairs
    owner_track: list[np.ndarray] = field(default_factory=list)

    def arrays(self):
        """(t_s, sensor, truth_row, track) per plot, in arrival order."""
        cat = lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt)  # noqa: E731
        serial = cat(self.serial, np.int64)
        track = np.full(int(serial.max(initial=-1)) + 1, -1, np.int64)
        track[cat(self.owner_serial, np.int64)] = cat(self.owner_track, np.int64)
        return cat(self.t_s, float), cat(self.sensor, int), cat(self.truth_row, int), track[serial]


#: the engine's prediction columns (PredictionTable.COLS) that a run logs at every prediction
_LOGGED = ("t", "impact_enu", "t_impact", "impact_cov", "origin_enu", "t_launch", "origin_cov")


@dataclass
class PredictionLog:
    """Every prediction the engine made, in order: the engine step's time, the track's time,
    track, the label it was warned with, impact (ENU, time, east/north covariance) and origin
    (ENU, launch time, covariance)."""

    t_step: list[np.ndarray] = field(default_factory=list)
    cls: list[np.ndarray] = field(default_factory=list)
    t: list[np.ndarray] = field(default_factory=list)
    track: list[np.ndarray] = field(default_factory=list)
    impact_enu: list[np.ndarray] = field(default_factory=list)
    t_impact: list[np.ndarray] = field(default_factory=list)
    impact_cov: list[np.ndarray] = field(default_factory=list)
    origin_enu: list[np.ndarray] = field(default_factory=list)
    t_launch: list[np.ndarray] = field(default_factory=list)
    origin_cov: list[np.ndarray] = field(default_factory=list)

    def add(self, engine: Engine, ids) -> None:
        if len(ids) == 0:
            return
        rows = engine.pred.rows(ids)
        c = engine.pred.c
        self.t_step.append(np.full(len(ids), engine.t_now))
        self.cls.append(engine.labels(ids))
        self.t.append(c["t"][rows].copy())
        self.track.append(np.asarray(ids, np.int64).copy())
        for name in _LOGGED[1:]:
            getattr(self, name).append(c[name][rows].copy())

    def arrays(self) -> dict[str, np.ndarray]:
        shapes = {"t_step": (), "cls": (), "track": (), **{k: PredictionTable.COLS[k] for k in _LOGGED}}
        out = {
            k: np.concatenate(getattr(self, k)) if getattr(self, k) else np.zeros((0, *s))
            for k, s in shapes.items()
        }
        out["cls"] = out["cls"].astype(object)
        return out


@dataclass
class SimRun:
    """Everything one simulated run produced."""

    scenario: Scenario
    truth: Truth
    radars: list[RadarGeometry]
    zones: list[ZoneGeometry]
    events: list[Event]
    plots: PlotLog
    predictions: PredictionLog
    batches: list[PlotBatch]
    snapshots: list[tuple[float, TrackView]]  # confirmed tracks, once a second
    final_tracks: TrackView
    engine: Engine
    destroyed_t_s: np.ndarray | None = None  # per truth row: when an effector destroyed it (NaN: never)
    step_wall_s: np.ndarray | None = None  # wall time of each engine step, s (for benchmarks)


def build_radars(scn: Scenario) -> list[RadarGeometry]:
    return [RadarGeometry.build(s, scn.site) for s in scn.sensors]


def build_zones(scn: Scenario) -> list[ZoneGeometry]:
    """The scenario's zones in the site frame (ENU polygons)."""
    site = scn.site
    return [
        ZoneGeometry(z.id, z.name or z.id, z.siren_id, z.defended, z.value, site.polygon_enu(z.polygon))
        for z in scn.zones
    ]


def build_effectors(scn: Scenario):
    """The scenario's effectors in the site frame (:class:`~counterram.engage.EffectorGeometry`)."""
    from .engage import EffectorGeometry

    return [EffectorGeometry.from_spec(e, scn.site) for e in scn.effectors]


class _Owners:
    """Which truth row each track's plots came from, counted as the run goes (simulation
    only: the engine never sees it)."""

    def __init__(self):
        self.counts: dict[int, dict[int, int]] = {}

    def add(self, tracks: np.ndarray, rows: np.ndarray) -> None:
        ok = (tracks >= 0) & (rows >= 0)
        if not ok.any():
            return
        pairs, n = np.unique(np.stack([tracks[ok], rows[ok]], axis=1), axis=0, return_counts=True)
        for (tr, row), c in zip(pairs.tolist(), n.tolist(), strict=True):
            d = self.counts.setdefault(tr, {})
            d[row] = d.get(row, 0) + c

    def owner(self, track: int) -> int | None:
        d = self.counts.get(int(track))
        return max(d, key=d.get) if d else None


def run_scenario(
    scn: Scenario,
    rng: np.random.Generator | None = None,
    config: EngineConfig | None = None,
    *,
    truth: Truth | None = None,
    snapshot_dt_s: float = 1.0,
    keep_batches: bool = False,
    sink: Callable[[list[Event]], None] | None = None,
) -> SimRun:
    """Fly, sense and run the engine over a whole scenario.

    ``sink`` (e.g. an :class:`~counterram.store.EventStore`'s ``append``) receives the events
    as the run makes them - the truth launches and impacts interleaved at their times - so an
    interrupted run has logged everything up to the interruption.

    Engagements are played out here, not in the engine: once a shot's intercept time has
    passed, a seeded draw ``u < pk`` decides it (a draw from its own stream, spawned from
    ``rng``'s seed, so adding an effector does not change the radar noise). Only a shot at a
    track that follows a real round still in flight can kill; fire-control error is inside
    ``pk``. A killed round stops: its later plots are never delivered, its truth impact
    becomes a destruction at the intercept time, and the engine drops its track
    (:meth:`Engine.resolve_shot`).
    """
    rng = np.random.default_rng(scn.seed) if rng is None else rng
    seq = getattr(rng.bit_generator, "seed_seq", None)
    kill_rng = np.random.default_rng(seq.spawn(1)[0] if seq is not None else scn.seed + 1)
    truth = fly_truth(scn, rng) if truth is None else truth
    radars = build_radars(scn)
    if not radars:
        raise ValueError(f"scenario {scn.name!r} has no sensors: nothing can be tracked")
    zones = build_zones(scn)
    engine = Engine(
        flight_env(scn),
        radars,
        config,
        zones=zones,
        effectors=build_effectors(scn),
        engage=scn.engage,
        respond=scn.respond,
    )
    preds = PredictionLog()
    batches = simulate_plots(truth, radars, rng, 0.0, scn.duration_s)
    truth_events = sorted(_truth_events(scn, truth), key=lambda e: e.t)
    impact_event = {e.object: k for k, e in enumerate(truth_events) if e.kind == "truth_impact"}
    n_told = 0
    log = PlotLog()
    owners = _Owners()
    destroyed = np.full(len(truth.ids), np.nan)  # time each truth row was destroyed
    snaps: list[tuple[float, TrackView]] = []
    next_snap = snapshot_dt_s
    kept: list[PlotBatch] = []
    engine_events: list[Event] = []
    step_s: list[float] = []  # wall time of each engine step (a measurement, not an input)

    def tell(evs: list[Event]) -> None:
        engine_events.extend(evs)
        if sink is not None and evs:
            sink(evs)

    for b in batches:
        plots, truth_row = b.plots, b.truth_row
        if np.isfinite(destroyed).any():  # a destroyed round sends no more plots
            gone = (truth_row >= 0) & (plots.t_s > np.where(truth_row >= 0, destroyed[truth_row], np.inf))
            if gone.any():
                plots, truth_row = plots.take(~gone), truth_row[~gone]
        if sink is not None:
            k = n_told
            while k < len(truth_events) and truth_events[k].t <= b.arrival_t_s:
                k += 1
            if k > n_told:
                sink(truth_events[n_told:k])
                n_told = k
        t_wall = time.perf_counter()
        res = engine.step(plots)
        step_s.append(time.perf_counter() - t_wall)
        tell(res.events)
        rep = res.report
        log.t_s.append(rep.batch.t_s)
        log.sensor.append(rep.batch.sensor)
        log.truth_row.append(truth_row[rep.order])
        log.serial.append(rep.serial)
        took = rep.plot_track >= 0
        log.owner_serial += [rep.serial[took], np.array([p for _, p in rep.initiated], np.int64)]
        log.owner_track += [rep.plot_track[took], np.array([t for t, _ in rep.initiated], np.int64)]
        owners.add(rep.plot_track, truth_row[rep.order])
        preds.add(engine, res.predicted)
        if engine.engager is not None:
            for shot in engine.engager.due(engine.t_now):
                row = owners.owner(shot.track)
                alive = (
                    row is not None
                    and row < truth.n_threats
                    and np.isnan(destroyed[row])
                    and truth.end_t_s[row] > shot.t_intercept_s
                )
                killed = bool(kill_rng.random() < shot.pk) and alive
                if killed:
                    destroyed[row] = shot.t_intercept_s
                    k = impact_event[truth.ids[row]]
                    if k >= n_told:  # not told yet: it becomes a destruction at the intercept
                        pos, _ = truth.state_at(np.array([shot.t_intercept_s]), np.array([row]))
                        lat, lon, _ = scn.site.to_geodetic(pos[0])
                        truth_events[k] = TruthImpact(
                            shot.t_intercept_s, truth.ids[row], float(lat), float(lon), None, destroyed=True
                        )
                        truth_events.sort(key=lambda e: e.t)
                        impact_event = {
                            e.object: j for j, e in enumerate(truth_events) if e.kind == "truth_impact"
                        }
                t_wall = time.perf_counter()
                resolved = engine.resolve_shot(shot, killed, shot.t_intercept_s)
                step_s[-1] += time.perf_counter() - t_wall
                tell(resolved)
        if keep_batches:
            kept.append(plots)
        while b.arrival_t_s >= next_snap:
            snaps.append((next_snap, engine.tracks()))
            next_snap += snapshot_dt_s
    if sink is not None and n_told < len(truth_events):
        sink(truth_events[n_told:])
    events = sorted(truth_events + engine_events, key=lambda e: e.t)
    run = SimRun(scn, truth, radars, zones, events, log, preds, kept, snaps, engine.tracks(), engine)
    run.destroyed_t_s = destroyed
    run.step_wall_s = np.array(step_s)
    return run


def _truth_events(scn: Scenario, truth: Truth) -> list[Event]:
    site = scn.site
    out: list[Event] = []
    if truth.n_threats == 0:
        return out
    lat0, lon0, _ = site.to_geodetic(truth.start_enu_m[: truth.n_threats])
    lat1, lon1, _ = site.to_geodetic(truth.end_enu_m[: truth.n_threats])
    zones = zone_of(scn, truth.end_enu_m[: truth.n_threats])
    for i in range(truth.n_threats):
        out.append(
            TruthLaunch(
                float(truth.start_t_s[i]),
                truth.ids[i],
                truth.munitions[i] or "",
                float(np.atleast_1d(lat0)[i]),
                float(np.atleast_1d(lon0)[i]),
            )
        )
        out.append(
            TruthImpact(
                float(truth.end_t_s[i]),
                truth.ids[i],
                float(np.atleast_1d(lat1)[i]),
                float(np.atleast_1d(lon1)[i]),
                zones[i],
            )
        )
    return out


def score_run(run: SimRun):
    """Track scores of a run (see :func:`counterram.metrics.score_tracks`)."""
    from .events import TrackConfirmed
    from .metrics import score_tracks
    from .tracking.tracker import CONFIRMED

    t, _, truth_row, track = run.plots.arrays()
    confirmed = {e.track: e.t for e in run.events if isinstance(e, TrackConfirmed)}
    pairs = []
    truth = run.truth
    rows = np.arange(len(truth.ids))
    for ts, view in run.snapshots:
        pos, _ = truth.state_at(np.full(rows.size, ts), rows)
        present = ~np.isnan(pos[:, 0])
        seen = np.zeros(rows.size, bool)
        for r in run.radars:
            seen[present] |= r.in_coverage(pos[present])
        flying = view.status == CONFIRMED
        pairs.append((pos[seen], view.position_at(ts)[flying]))
    return score_tracks(truth, t, truth_row, track, confirmed, pairs)


def earliest_confirmation(run: SimRun, rows, dt_s: float = 0.1) -> np.ndarray:
    """For truth rows, the earliest time a track could have been confirmed: the first instant
    the object is inside some radar's coverage, plus (confirm_hits - 1) revisits of the
    fastest radar covering it (NaN when never in coverage)."""
    truth = run.truth
    hits = run.engine.config.tracker.confirm_hits
    out = np.full(len(rows), np.nan)
    revisit = min(r.revisit_s for r in run.radars)
    for k, row in enumerate(rows):  # a handful of rounds; each vectorised over its flight
        ts = np.arange(truth.start_t_s[row], truth.end_t_s[row], dt_s)
        pos, _ = truth.state_at(ts, np.full(ts.size, row))
        seen = np.zeros(ts.size, bool)
        for r in run.radars:
            seen |= r.in_coverage(pos)
        if seen.any():
            out[k] = ts[np.argmax(seen)] + (hits - 1) * revisit
    return out


def score_warn(run: SimRun, track_score=None, with_crlb: bool = True, events=None):
    """Warning and prediction scores of a run (see :func:`counterram.metrics.score_warnings`);
    ``events``: score these warnings instead of the run's (a replay at another threshold)."""
    from .crlb import equivalent_kappa, impact_crlb
    from .metrics import score_warnings, track_owners
    from .physics.munitions import CATALOG
    from .warn import LETHAL_RADIUS_M

    truth = run.truth
    track_score = track_score or score_run(run)
    main = {o["object"]: o["track"] for o in track_score.per_object}
    n = truth.n_threats
    t_conf = earliest_confirmation(run, np.arange(n))
    t, sensor, truth_row, track = run.plots.arrays()
    env = run.engine.env
    law = run.engine.config.tracker.filter.law_idx
    impacts, crlb = [], {}
    destroyed = run.destroyed_t_s if run.destroyed_t_s is not None else np.full(n, np.nan)
    for i in range(n):
        oid = truth.ids[i]
        impacts.append(
            {
                "object": oid,
                "t_impact": float(truth.end_t_s[i]),
                "impact_en": truth.end_enu_m[i, 0:2],
                "launch_en": truth.start_enu_m[i, 0:2],
                "t_launch": float(truth.start_t_s[i]),
                "lethal_radius_m": LETHAL_RADIUS_M[truth.kinds[i]],
                "track": main.get(oid),
                "t_confirm_min": None if np.isnan(t_conf[i]) else float(t_conf[i]),
                "t_destroyed": None if np.isnan(destroyed[i]) else float(destroyed[i]),
            }
        )
        if not np.isnan(destroyed[i]):
            continue
        if not with_crlb:
            continue
        t_ref = float(truth.end_t_s[i]) - 10.0
        mine = (truth_row == i) & (t <= t_ref)
        if mine.sum() < 3:
            continue
        pos, vel = truth.state_at(np.array([t_ref]), np.array([i]))
        kap = equivalent_kappa(
            CATALOG[truth.munitions[i]], env, float(np.linalg.norm(vel[0])), float(env.height_m(pos[0]))
        )
        try:
            res = impact_crlb(env, run.radars, law, np.r_[pos[0], vel[0], kap], t_ref, t[mine], sensor[mine])
            crlb[oid] = round(float(res.rms_m), 2)
        except (np.linalg.LinAlgError, ValueError):
            pass
    owners = track_owners(truth_row, track, {e.track for e in run.events if e.kind == "track_confirmed"})
    non_ballistic = {tid for tid, row in owners.items() if row >= n}
    return score_warnings(
        impacts=impacts,
        zone_ids=[z.id for z in run.zones],
        zone_polys=[z.polygon for z in run.zones],
        events=run.events if events is None else events,
        predictions=run.predictions.arrays(),
        non_ballistic_tracks=non_ballistic,
        crlb_rms=crlb if with_crlb else None,
    )


def warn_summary(ws) -> dict:
    """The warning and prediction keys of summary.json from a WarnScore."""
    r = lambda v, nd=2: None if v is None or not np.isfinite(v) else round(float(v), nd)  # noqa: E731
    return {
        "impacts_in_zones": ws.impacts_in_zones,
        "missed_warnings": ws.missed_warnings,
        "over_warnings": ws.over_warnings,
        "warning_cycles": ws.warning_cycles,
        "lead_time_s": {k: r(v) for k, v in ws.lead_time_s.items()},
        "lead_time_ratio_median": r(ws.lead_time_ratio_median, 3),
        "ipp_error_m": {k: r(v) for k, v in ws.ipp_error_m.items()},
        "poo_error_m": {k: r(v) for k, v in ws.poo_error_m.items()},
        "ipp_rmse_over_crlb": r(ws.ipp_rmse_over_crlb, 3),
        "non_ballistic_warnings": ws.non_ballistic_warnings,
    }


def score_engage(run: SimRun) -> dict:
    """Engagement and counter-battery scores of a run (see
    :func:`counterram.metrics.score_engagements`)."""
    from .metrics import score_engagements, track_owners, zones_hit
    from .warn import LETHAL_RADIUS_M

    truth = run.truth
    n = truth.n_threats
    _, _, truth_row, track = run.plots.arrays()
    owners = track_owners(truth_row, track, {int(t) for t in np.unique(track[track >= 0])})
    hit = zones_hit(
        truth.end_enu_m[:n, 0:2],
        [z.polygon for z in run.zones],
        [LETHAL_RADIUS_M[k] for k in truth.kinds[:n]],
    )
    destroyed = run.destroyed_t_s if run.destroyed_t_s is not None else np.full(n, np.nan)
    threats = [
        {
            "object": truth.ids[i],
            "tracks": [t for t, row in owners.items() if row == i],
            "would_hit": [run.zones[j].id for j in hit[i]],
            "destroyed": bool(np.isfinite(destroyed[i])),
            "launch_en": truth.start_enu_m[i, 0:2],
        }
        for i in range(n)
    ]
    return score_engagements(
        threats=threats,
        events=run.events,
        defended={z.id for z in run.zones if z.defended},
        launchers={e.id for e in run.scenario.effectors if e.kind == "launcher"},
        site=run.scenario.site,
    )
