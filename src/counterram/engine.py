"""The engine: plots in, events out. The one entry point of simulation, replay and live.

``Engine.step(plots)`` is pure computation: no files, no sockets, no wall clock. Time
enters only as the plots' timestamps (``Engine.tick(t)`` advances it without plots, for
all-clears on a quiet feed), so a recording replayed at any speed gives the same events as
the live feed did. A bad plot is reported as a :class:`PlotRejected` event and never stops
the engine.

One step: track (``tracking``) -> predict impact and origin of the ballistic tracks that took
a plot (``predict``) -> warn the zones at risk (``warn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .events import (
    Event,
    ImpactPredicted,
    OriginEstimated,
    PlotRejected,
    TrackClassified,
    TrackConfirmed,
    TrackDropped,
    TrackLanded,
)
from .physics.flight import FlightEnv, fly_ballistic_to_ground, propagate_ballistic
from .physics.munitions import DRAG_LAWS, TRACKER_LAW
from .predict import (
    GroundPoints,
    ballistic_class,
    boost_time_correction_s,
    impact_and_origin,
    refine_least_squares,
)
from .sensing.plots import PlotBatch
from .sensing.radar import RadarGeometry
from .tracking import classify
from .tracking.filters import FilterParams
from .tracking.tracker import CONFIRMED, LANDED, StepReport, Tracker, TrackerParams, find_rows
from .warn import Warner, WarnParams, ZoneGeometry

#: tracks of a prediction batch are flown ahead (Engine._fly_early) in parts of at least this
#: many: a flight batch costs about 27 ms + 0.17 ms a track (docs/performance.md), so smaller
#: parts would cost more than they save
EARLY_MIN_TRACKS = 100


def default_tracker_params() -> TrackerParams:
    return TrackerParams(filter=FilterParams(law_idx=DRAG_LAWS.index(TRACKER_LAW)))


@dataclass(frozen=True)
class EngineConfig:
    """Settings of every stage.

    ``predict_method``: "linear" or "sigma" (see :mod:`counterram.predict`);
    ``predict_interval_s``: tracks that took plots are predicted together at most this often
    (plot time; 0: every step) - one flight batch for many tracks instead of many small
    ones, at the price of at most this much delay on a prediction;
    ``report_move_m``: an impact or origin prediction is re-announced (event) when it moves
    by more than this; ``refine_min_plots``: a track fed by a tracking radar is predicted from
    a batch fit over its whole arc once it has this many plots, refitted at most every
    ``refine_interval_s`` (:func:`counterram.predict.refine_least_squares`);
    ``engage_path_dt_s``: sampling of the predicted flights handed to the engager (it
    interpolates between samples, exactly for a parabola).
    """

    tracker: TrackerParams = field(default_factory=default_tracker_params)
    warn: WarnParams = field(default_factory=WarnParams)
    predict_method: str = "linear"
    predict_interval_s: float = 0.5
    report_move_m: float = 50.0
    refine_min_plots: int = 30
    refine_interval_s: float = 1.0
    engage_path_dt_s: float = 0.5


@dataclass(frozen=True)
class TrackView:
    """Confirmed (and landed) tracks as arrays, for writers and scorers.

    ``x`` (N, 7) state at each track's own time ``t``; ``P`` (N, 7, 7); ``cls`` labels;
    ``p_ballistic``; ``status`` (1 confirmed, 2 landed); ``owned`` plots taken.
    """

    id: np.ndarray
    t: np.ndarray
    x: np.ndarray
    P: np.ndarray
    cls: np.ndarray
    p_ballistic: np.ndarray
    status: np.ndarray
    owned: np.ndarray
    t_confirm: np.ndarray

    def __len__(self) -> int:
        return int(self.id.size)

    def position_at(self, t_s: float) -> np.ndarray:
        """Positions (N, 3) carried to time ``t_s`` (constant acceleration g down; landed: fixed)."""
        dt = (t_s - self.t)[:, None]
        pos = self.x[:, 0:3] + self.x[:, 3:6] * dt
        pos[:, 2] -= (
            0.5 * 9.80665 * dt[:, 0] ** 2 * (self.status == CONFIRMED) * classify.is_ballistic(self.cls)
        )
        return pos


class PredictionTable:
    """The latest impact and origin prediction of every ballistic track, as arrays by track id.

    Times are absolute (the plots' clock); covariances east/north in m^2.
    """

    COLS = {
        "t": (),
        "impact_enu": (3,),
        "t_impact": (),
        "impact_cov": (2, 2),
        "origin_enu": (3,),
        "t_launch": (),
        "origin_cov": (2, 2),
        "launch_speed": (),
        "reported_impact": (3,),
        "reported_origin": (3,),
    }

    def __init__(self, n_zones: int = 0):
        self.id = np.zeros(0, np.int64)
        #: COLS, and "p_zone" (n_zones,): the probability of an impact in each zone (warn.py)
        self.cols = {**self.COLS, "p_zone": (n_zones,)}
        self.c = {k: np.full((0, *s), np.nan) for k, s in self.cols.items()}

    def __len__(self) -> int:
        return int(self.id.size)

    def rows(self, ids, create=False) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        new = ids[~np.isin(ids, self.id)]
        if create and new.size:
            self.id = np.concatenate([self.id, new])
            for k, s in self.cols.items():
                self.c[k] = np.concatenate([self.c[k], np.full((new.size, *s), np.nan)])
        rows, found = find_rows(self.id, ids)
        return np.where(found, rows, -1)

    def get(self, name, ids):
        r = self.rows(ids)
        out = np.full((len(r), *self.cols[name]), np.nan)
        ok = r >= 0
        out[ok] = self.c[name][r[ok]]
        return out

    def drop(self, ids) -> None:
        keep = ~np.isin(self.id, np.asarray(ids, np.int64))
        self.id = self.id[keep]
        self.c = {k: v[keep] for k, v in self.c.items()}


@dataclass
class StepResult:
    t_s: float
    events: list[Event]
    report: StepReport
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # track ids predicted now


class Engine:
    """Tracks, predicts, warns, engages and cues from radar plots.

    ``effectors`` (:class:`~counterram.engage.EffectorGeometry`) with ``engage`` parameters
    make an :class:`~counterram.engage.Engager` that plans engagements at every prediction
    (none without effectors); ``respond`` parameterises the counter-battery cues
    (:class:`~counterram.respond.CounterBattery`). A shot's outcome comes back through
    :meth:`resolve_shot` (a simulation's draw); live, the engager assesses it from the track.
    """

    def __init__(
        self,
        env: FlightEnv,
        radars: list[RadarGeometry],
        config: EngineConfig | None = None,
        zones: Sequence[ZoneGeometry] = (),
        effectors: Sequence = (),
        engage=None,
        respond=None,
    ):
        from .engage import Engager
        from .respond import CounterBattery

        self.engager = Engager(list(effectors), env.site, engage) if len(effectors) else None
        self.counter_battery = CounterBattery(env.site, respond)
        self.env = env
        self.radars = radars
        self.config = config or EngineConfig()
        self.tracker = Tracker(env, radars, self.config.tracker)
        self.zones = list(zones)
        self.warner = Warner(self.zones, self.config.warn)
        self.pred = PredictionTable(len(self.zones))
        self._class: dict[int, str] = {}
        self.t_now = -np.inf
        self._queue = np.zeros(0, np.int64)  # tracks that took plots since the last prediction
        self._t_predicted = -np.inf
        self._early: list[tuple] = []  # flights made ahead of the next prediction (_fly_early)
        # plots of tracking radars that a track took: for the batch fit of their predictions
        self._tracking = np.array([r.tracking for r in radars], bool)
        self._hist = {
            "track": np.zeros(0, np.int64),
            "t": np.zeros(0),
            "z": np.zeros((0, 4)),
            "sensor": np.zeros(0, int),
        }
        self._fits: dict[int, tuple] = {}  # track -> (t, x, P) of its last batch fit

    # ------------------------------------------------------------------------------------
    def step(self, plots: PlotBatch) -> StepResult:
        rep = self.tracker.step(plots)
        self.t_now = max(self.t_now, rep.t_s)
        events: list[Event] = [
            PlotRejected(
                float(plots.t_s[i]) if np.isfinite(plots.t_s[i]) else rep.t_s, self._sensor_name(plots, i), r
            )
            for i, r in rep.rejected
        ]
        self._remember(rep)
        predicted = self._predict(rep)
        view = self.tracks()
        events += self._track_events(rep, view)
        events += self._prediction_events(predicted, view)
        # warnings: new predictions, and the tracks that ended (landed at their impact time,
        # dropped now)
        ended = [
            (int(i), float(t))
            for i, t in zip(view.id[view.status == LANDED], view.t[view.status == LANDED], strict=True)
        ]
        ended += [(int(i), rep.t_s) for i, _, was in rep.deleted if was]
        rows = self.pred.rows(predicted)
        cls = self._labels_for(predicted, view) if predicted.size else np.zeros(0, object)
        warn_events, probs = self.warner.update(
            self.t_now,
            predicted,
            self.pred.c["impact_enu"][rows, 0:2] if rows.size else np.zeros((0, 2)),
            self.pred.c["impact_cov"][rows] if rows.size else np.zeros((0, 2, 2)),
            self.pred.c["t_impact"][rows] if rows.size else np.zeros(0),
            cls,
            ended,
        )
        events += warn_events
        if rows.size:
            self.pred.c["p_zone"][rows] = probs
        if predicted.size:
            events += self._respond(predicted)
            if self.engager is not None:
                events += self._engage(rep, view)
        if self.engager is not None:
            for tid in rep.landed.tolist():
                events += self.engager.track_ended(int(tid), self.t_now, landed=True)
            for tid, _, was in rep.deleted:
                if was:
                    events += self.engager.track_ended(int(tid), self.t_now)
        dropped = [i for i, _, was in rep.deleted if was]
        if dropped:
            self.pred.drop(dropped)
        return StepResult(rep.t_s, events, rep, predicted)

    # ------------------------------------------------------------------------------------
    def _respond(self, ids) -> list[Event]:
        """Counter-battery cues from the origins of the tracks just predicted."""
        r = self.pred.rows(ids)
        c = self.pred.c
        ok = np.isfinite(c["origin_enu"][r, 0]) & np.isfinite(c["t_launch"][r])
        if not ok.any():
            return []
        r = r[ok]
        return self.counter_battery.update(
            self.t_now, np.asarray(ids)[ok], c["origin_enu"][r], c["origin_cov"][r], c["t_launch"][r]
        )

    def _engage(self, rep: StepReport, view: TrackView) -> list[Event]:
        """Re-plan engagements over every flying ballistic track with a prediction: the
        candidates' predicted flights (their filter state flown to the ground, sampled every
        ``engage_path_dt_s``) go to the engager with their zone probabilities."""
        T = self.tracker.tracks
        ids = np.intersect1d(self.pred.id, T["id"][T["status"] == CONFIRMED])
        if ids.size == 0:
            return self.engager.plan(
                self.t_now,
                ids,
                [],
                np.zeros((0, 0)),
                np.zeros((0, 0, 3)),
                np.zeros((0, len(self.zones))),
                self.zones,
            )
        cls = self._labels_for(ids, view)
        z = len(self.zones)
        p_zone = np.nan_to_num(self.pred.get("p_zone", ids))  # (N, Z); 0 before the first warning pass
        defended = np.array([zz.defended for zz in self.zones], bool)
        p_def = np.minimum(1.0, p_zone[:, defended].sum(axis=1)) if z else np.zeros(ids.size)
        cand = classify.is_ballistic(cls) & (p_def >= self.engager.p.threshold)
        t_imp = self.pred.get("t_impact", ids)
        dt = self.config.engage_path_dt_s
        if cand.any():
            rows = T.rows_of(ids[cand])
            fl = fly_ballistic_to_ground(
                self.env, T.x[rows], self.config.tracker.filter.law_idx, t_max_s=200.0, sample_dt_s=dt
            )
            k = fl.samples.shape[1]
            path_enu = np.full((ids.size, k + 1, 3), np.nan)
            path_t = np.full((ids.size, k + 1), np.nan)
            path_enu[cand, :k] = fl.samples[:, :, 0:3]
            path_t[cand, :k] = T["t"][rows, None] + fl.sample_t_s[None, :]
            landed = fl.landed
            ci = np.flatnonzero(cand)
            path_enu[ci[landed], k] = fl.y_end[landed, 0:3]
            path_t[ci[landed], k] = T["t"][rows][landed] + fl.t_end_s[landed]
        else:
            path_enu = np.full((ids.size, 1, 3), np.nan)
            path_t = np.full((ids.size, 1), np.nan)
        return self.engager.plan(
            self.t_now,
            ids,
            cls,
            path_t,
            path_enu,
            p_zone,
            self.zones,
            t_impact_s=t_imp,
            updated=np.isin(ids, rep.updated),
        )

    def resolve_shot(self, shot, killed: bool, t_s: float) -> list[Event]:
        """A shot's outcome (a simulation's seeded draw): the engager records it and a killed
        round's track ends now - dropped (reason ``destroyed``), its prediction gone, its
        warnings free to clear."""
        if self.engager is None:
            raise ValueError("this engine has no effectors: there are no shots to resolve")
        events = self.engager.resolve(shot, killed, t_s)
        if killed:
            tid = int(shot.track)
            if self.tracker.remove([tid]):
                events.append(TrackDropped(float(t_s), tid, "destroyed"))
                self.warner.ended.setdefault(tid, float(t_s))
                self.pred.drop([tid])
                self._queue = self._queue[self._queue != tid]
        return events

    def tick(self, t_s: float) -> list[Event]:
        """Advance the clock without plots (a quiet feed): all-clears that are due."""
        self.t_now = max(self.t_now, float(t_s))
        return self.warner.check_clear(self.t_now)

    # ------------------------------------------------------------------------------------
    def _remember(self, rep: StepReport) -> None:
        """Keep the plots of tracking radars that a track took, used or attributed (the batch
        fit's robust loss weighs the outliers down itself)."""
        b = rep.batch
        keep = (rep.plot_track >= 0) & self._tracking[b.sensor] if len(b) else np.zeros(0, bool)
        if not keep.any():
            return
        h = self._hist
        z = np.stack([b.range_m, b.az_rad, b.el_rad, b.rdot_mps], axis=1)[keep]
        h["track"] = np.concatenate([h["track"], rep.plot_track[keep]])
        h["t"] = np.concatenate([h["t"], b.t_s[keep]])
        h["z"] = np.concatenate([h["z"], z])
        h["sensor"] = np.concatenate([h["sensor"], b.sensor[keep]])

    def _refine(self, ids, x, P, t):
        """Batch fit over the whole arc for tracks fed by tracking radars (enough plots).

        A track is refitted at most every ``refine_interval_s``, starting from its last fit
        carried forward; in between, the last fit carried forward stands for it."""
        h = self._hist
        if h["track"].size == 0:
            return x, P
        x, P = x.copy(), P.copy()
        law = self.config.tracker.filter.law_idx
        for k, tid in enumerate(ids):  # tracking radars follow one or two targets: few tracks
            mine = h["track"] == tid
            if mine.sum() < self.config.refine_min_plots:
                continue
            last = self._fits.get(int(tid))
            if last is not None:
                carried, phi = propagate_ballistic(self.env, last[1][None], t[k] - last[0], law, stm=True)
                if t[k] - last[0] < self.config.refine_interval_s:
                    x[k], P[k] = carried[0], phi[0] @ last[2] @ phi[0].T
                    continue
                start, warm = carried[0], True
            else:
                start, warm = x[k], False
            xk, Pk = refine_least_squares(
                self.env,
                self.radars,
                law,
                start,
                t[k],
                h["t"][mine],
                h["z"][mine],
                h["sensor"][mine],
                warm=warm,
            )
            if Pk is not None:
                x[k], P[k] = xk, Pk
                self._fits[int(tid)] = (float(t[k]), xk, Pk)
        return x, P

    def _predict(self, rep: StepReport) -> np.ndarray:
        """Impact and origin of the ballistic, flying tracks that took a plot since the last
        prediction, once ``predict_interval_s`` has passed (a large batch's settled tracks are
        flown ahead, in parts: :meth:`_fly_early`)."""
        T = self.tracker.tracks
        self._queue = np.union1d(self._queue, rep.updated)
        interval = self.config.predict_interval_s
        if self._queue.size == 0 or self.t_now < self._t_predicted + interval:
            if self._queue.size:
                self._fly_early()
            return np.zeros(0, np.int64)
        queue = np.intersect1d(self._queue, T["id"])
        self._queue = np.zeros(0, np.int64)
        self._t_predicted = self.t_now
        early, self._early = self._early, []
        if queue.size == 0:
            return np.zeros(0, np.int64)
        rows = T.rows_of(queue)
        rows = rows[self._predictable(rows)]
        if rows.size == 0:
            return np.zeros(0, np.int64)
        x, P, t = T.x[rows], T.P[rows], T["t"][rows]
        ids = T["id"][rows]
        x, P = self._refine(ids, x, P, t)
        law = self.config.tracker.filter.law_idx
        # impact (forward) and origin (backward, linear): one flight batch for both; tracks
        # flown ahead whose state (after the batch fit) is still the same, bit for bit, keep
        # those flights - the very numbers flying them now would give
        done = np.zeros(ids.size, bool)
        if early:
            e_ids, e_x, e_P, e_t = (np.concatenate([part[i] for part in early]) for i in range(4))
            e_imp, e_org = (GroundPoints.concat([part[i] for part in early]) for i in (4, 5))
            k, found = find_rows(e_ids, ids)
            done = found & (e_t[k] == t)
            done &= np.all(e_x[k] == x, axis=1) & np.all(e_P[k] == P, axis=(1, 2))
        imp, org = impact_and_origin(self.env, x[~done], P[~done], law, method=self.config.predict_method)
        if done.any():
            back = np.argsort(np.concatenate([np.flatnonzero(done), np.flatnonzero(~done)]), kind="stable")
            imp = GroundPoints.concat([e_imp.take(k[done]), imp]).take(back)
            org = GroundPoints.concat([e_org.take(k[done]), org]).take(back)
        cls = ballistic_class(org.speed_mps)
        pr = self.pred.rows(ids, create=True)
        c = self.pred.c
        c["t"][pr] = t
        c["impact_enu"][pr] = np.where(imp.ok[:, None], imp.enu_m, np.nan)
        c["t_impact"][pr] = np.where(imp.ok, t + imp.dt_s, np.nan)
        c["impact_cov"][pr] = imp.cov_en_m2
        c["origin_enu"][pr] = np.where(org.ok[:, None], org.enu_m, np.nan)
        c["t_launch"][pr] = np.where(org.ok, t + org.dt_s - boost_time_correction_s(cls), np.nan)
        c["origin_cov"][pr] = org.cov_en_m2
        c["launch_speed"][pr] = np.where(org.ok, org.speed_mps, np.nan)
        return ids[imp.ok]

    def _predictable(self, rows) -> np.ndarray:
        """Which track rows are predicted: confirmed and labelled ballistic."""
        T = self.tracker.tracks
        return (T["status"][rows] == CONFIRMED) & (
            classify.p_ballistic(T["llr"][rows]) >= classify.BALLISTIC_P
        )

    def _fly_early(self) -> None:
        """Between predictions, fly the queued tracks whose state should stand until the next
        one - ballistic and confirmed, with too few tracking-radar plots for a batch fit, not due
        another plot before it (last update + revisit) and not flown yet - once there are
        ``EARLY_MIN_TRACKS`` of them (a flight batch has a fixed cost). The prediction takes
        these flights for the tracks whose state is then still the same, bit for bit, and flies
        the others, so its numbers do not change; the flights of a large batch are spread over
        the steps before it instead of piling up in one."""
        T = self.tracker.tracks
        rows = T.rows_of(np.intersect1d(self._queue, T["id"]))
        rows = rows[self._predictable(rows)]
        ids = T["id"][rows]
        due = T["t"][rows] + T["revisit"][rows] < self._t_predicted + self.config.predict_interval_s
        fits = np.isin(self._hist["track"], ids)
        ids_h, n_h = np.unique(self._hist["track"][fits], return_counts=True)
        skip = due | np.isin(ids, ids_h[n_h >= self.config.refine_min_plots])
        for part in self._early:
            skip |= np.isin(ids, part[0])
        rows = rows[~skip]
        if rows.size < EARLY_MIN_TRACKS:
            return
        x, P, t = T.x[rows], T.P[rows], T["t"][rows]
        law = self.config.tracker.filter.law_idx
        imp, org = impact_and_origin(self.env, x, P, law, method=self.config.predict_method)
        self._early.append((T["id"][rows], x, P, t, imp, org))

    def labels(self, ids) -> np.ndarray:
        """The current class labels of confirmed or landed tracks ``ids`` (as warned with)."""
        return self._labels_for(np.asarray(ids, np.int64), self.tracks())

    def _labels_for(self, ids, view: TrackView) -> np.ndarray:
        order = np.argsort(view.id)
        k = order[np.searchsorted(view.id, ids, sorter=order)]
        return view.cls[k]

    def _track_events(self, rep: StepReport, view: TrackView) -> list[Event]:
        events: list[Event] = []
        # view rows of the tracks with events (-1: not in the view), and the geodetic positions
        # of those that need one (confirmed, landed): a few tracks a step, not the whole view
        ids = np.concatenate([rep.confirmed, rep.updated, rep.landed]).astype(np.int64)
        k_all = np.full(ids.size, -1)
        if len(view) and ids.size:
            order = np.argsort(view.id)
            k = order[np.minimum(np.searchsorted(view.id, ids, sorter=order), len(view) - 1)]
            k_all = np.where(view.id[k] == ids, k, -1)
        rows = dict(zip(ids.tolist(), k_all.tolist(), strict=True))
        rows = {i: k for i, k in rows.items() if k >= 0}
        geo = np.unique(k_all[np.r_[0 : rep.confirmed.size, ids.size - rep.landed.size : ids.size]])
        geo = geo[geo >= 0]
        lat, lon, alt = np.full((3, len(view)), np.nan)
        if geo.size:
            lat[geo], lon[geo], alt[geo] = self.env.site.to_geodetic(view.x[geo, 0:3])
        for tid in rep.confirmed:
            k = rows.get(int(tid))
            if k is None:  # confirmed and dropped (duplicate) in the same step
                continue
            events.append(
                TrackConfirmed(
                    float(view.t[k]),
                    int(tid),
                    str(view.cls[k]),
                    float(view.p_ballistic[k]),
                    float(lat[k]),
                    float(lon[k]),
                    float(alt[k]),
                    float(np.linalg.norm(view.x[k, 3:6])),
                )
            )
            self._class[int(tid)] = str(view.cls[k])
        for tid in rep.updated:
            k = rows.get(int(tid))
            if k is None or int(tid) not in self._class or self._class[int(tid)] == view.cls[k]:
                continue
            self._class[int(tid)] = str(view.cls[k])
            events.append(
                TrackClassified(float(view.t[k]), int(tid), str(view.cls[k]), float(view.p_ballistic[k]))
            )
        for tid in rep.landed:
            k = rows.get(int(tid))
            if k is None:
                continue
            events.append(
                TrackLanded(
                    float(view.t[k]), int(tid), str(view.cls[k]), float(lat[k]), float(lon[k]), float(alt[k])
                )
            )
        for tid, reason, was_confirmed in rep.deleted:
            if was_confirmed:
                events.append(TrackDropped(rep.t_s, int(tid), reason))
                self._class.pop(int(tid), None)
        return events

    def _prediction_events(self, ids, view: TrackView) -> list[Event]:
        """ImpactPredicted / OriginEstimated when a track is first predicted or its prediction
        moves by more than ``report_move_m``."""
        if len(ids) == 0:
            return []
        c, pr = self.pred.c, self.pred.rows(ids)
        cls = self._labels_for(ids, view)
        out: list[Event] = []
        site = self.env.site
        move = self.config.report_move_m
        kinds = (
            ("impact_enu", "reported_impact", ImpactPredicted, "t_impact", "impact_cov"),
            ("origin_enu", "reported_origin", OriginEstimated, "t_launch", "origin_cov"),
        )
        for key, rep_key, event, t_key, cov_key in kinds:
            cur, last = c[key][pr], c[rep_key][pr]
            moved = ~np.isfinite(last[:, 0]) | (np.linalg.norm(cur[:, 0:2] - last[:, 0:2], axis=1) > move)
            moved &= np.isfinite(cur[:, 0])
            sel = np.flatnonzero(moved)
            if sel.size == 0:
                continue
            c[rep_key][pr[sel]] = cur[sel]
            lat, lon, alt = (np.atleast_1d(a) for a in site.to_geodetic(cur[sel]))
            for n, k in enumerate(sel):  # only the predictions that moved: few per step
                r = pr[k]
                out.append(
                    event(
                        float(c["t"][r]),
                        int(ids[k]),
                        str(cls[k]),
                        float(lat[n]),
                        float(lon[n]),
                        float(alt[n]),
                        float(c[t_key][r]),
                        np.round(c[cov_key][r], 1).tolist(),
                    )
                )
        return out

    # ------------------------------------------------------------------------------------
    def tracks(self) -> TrackView:
        """The confirmed and landed tracks now."""
        T = self.tracker.tracks
        sel = np.flatnonzero((T["status"] == CONFIRMED) | (T["status"] == LANDED))
        llr = T["llr"][sel]
        x = T.x[sel].copy()
        P = T.P[sel].copy()
        supported = llr < classify.CV_GATING_LLR  # aircraft and the like: their CV filter
        x[:, 0:6] = self.tracker.kinematics()[sel]
        P[supported, 0:6, 0:6] = T.Pcv[sel][supported]
        ids = T["id"][sel].copy()
        return TrackView(
            id=ids,
            t=T["t"][sel].copy(),
            x=x,
            P=P,
            cls=classify.label(llr, T["speed_max"][sel], self.pred.get("launch_speed", ids)),
            p_ballistic=classify.p_ballistic(llr),
            status=T["status"][sel].copy(),
            owned=T["owned"][sel].copy(),
            t_confirm=T["t_confirm"][sel].copy(),
        )

    def prediction_records(self, ids) -> list[dict]:
        """``predictions.jsonl`` records (ARCHITECTURE.md format) for track ``ids``."""
        ids = np.asarray(ids, np.int64)
        r = self.pred.rows(ids)
        ok = r >= 0
        ids, r = ids[ok], r[ok]
        if ids.size == 0:
            return []
        view = self.tracks()
        cls = self._labels_for(ids, view)
        c = self.pred.c
        site = self.env.site
        ilat, ilon, ialt = (np.atleast_1d(a) for a in site.to_geodetic(c["impact_enu"][r]))
        olat, olon, oalt = (np.atleast_1d(a) for a in site.to_geodetic(c["origin_enu"][r]))
        out = []
        for k in range(ids.size):
            rr = r[k]
            out.append(
                {
                    "t": round(float(c["t"][rr]), 4),
                    "track": int(ids[k]),
                    "class": str(cls[k]),
                    "impact": {
                        "lat": _r(ilat[k], 7),
                        "lon": _r(ilon[k], 7),
                        "alt_m": _r(ialt[k], 2),
                        "t": _r(c["t_impact"][rr], 3),
                        "cov_en_m2": _cov(c["impact_cov"][rr]),
                    },
                    "origin": {
                        "lat": _r(olat[k], 7),
                        "lon": _r(olon[k], 7),
                        "alt_m": _r(oalt[k], 2),
                        "t": _r(c["t_launch"][rr], 3),
                        "cov_en_m2": _cov(c["origin_cov"][rr]),
                    },
                }
            )
        return out

    def _sensor_name(self, plots: PlotBatch, i: int) -> str:
        s = int(plots.sensor[i])
        return self.radars[s].id if 0 <= s < len(self.radars) else f"#{s}"


def _r(v, nd):
    v = float(v)
    return round(v, nd) if np.isfinite(v) else None


def _cov(c):
    return [[_r(c[0, 0], 1), _r(c[0, 1], 1)], [_r(c[1, 0], 1), _r(c[1, 1], 1)]]
