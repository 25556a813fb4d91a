"""The engine: plots in, events out. The one entry point of simulation, replay and live.

``Engine.step(plots)`` is pure computation: no files, no sockets, no wall clock. Time
enters only as the plots' timestamps, so a recording replayed at any speed gives the same
events as the live feed did. A bad plot is reported as a :class:`PlotRejected` event and
never stops the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .events import Event, PlotRejected, TrackClassified, TrackConfirmed, TrackDropped, TrackLanded
from .physics.flight import FlightEnv
from .physics.munitions import DRAG_LAWS, TRACKER_LAW
from .sensing.plots import PlotBatch
from .sensing.radar import RadarGeometry
from .tracking import classify
from .tracking.filters import FilterParams
from .tracking.tracker import CONFIRMED, LANDED, StepReport, Tracker, TrackerParams


def default_tracker_params() -> TrackerParams:
    return TrackerParams(filter=FilterParams(law_idx=DRAG_LAWS.index(TRACKER_LAW)))


@dataclass(frozen=True)
class EngineConfig:
    """Settings of every stage (tracking now; prediction, warning and engagement later)."""

    tracker: TrackerParams = field(default_factory=default_tracker_params)


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


@dataclass
class StepResult:
    t_s: float
    events: list[Event]
    report: StepReport


class Engine:
    """Tracks (and, in later stages, predicts, warns and engages) from radar plots."""

    def __init__(self, env: FlightEnv, radars: list[RadarGeometry], config: EngineConfig | None = None):
        self.env = env
        self.radars = radars
        self.config = config or EngineConfig()
        self.tracker = Tracker(env, radars, self.config.tracker)
        self._class: dict[int, str] = {}

    # ------------------------------------------------------------------------------------
    def step(self, plots: PlotBatch) -> StepResult:
        rep = self.tracker.step(plots)
        events: list[Event] = [
            PlotRejected(
                float(plots.t_s[i]) if np.isfinite(plots.t_s[i]) else rep.t_s, self._sensor_name(plots, i), r
            )
            for i, r in rep.rejected
        ]
        view = self.tracks()
        rows = {int(i): k for k, i in enumerate(view.id)}
        site = self.env.site
        lat, lon, alt = (
            (np.atleast_1d(a) for a in site.to_geodetic(view.x[:, 0:3])) if len(view) else ((),) * 3
        )
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
        return StepResult(rep.t_s, events, rep)

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
        return TrackView(
            id=T["id"][sel].copy(),
            t=T["t"][sel].copy(),
            x=x,
            P=P,
            cls=classify.label(llr, T["speed_max"][sel]),
            p_ballistic=classify.p_ballistic(llr),
            status=T["status"][sel].copy(),
            owned=T["owned"][sel].copy(),
            t_confirm=T["t_confirm"][sel].copy(),
        )

    def _sensor_name(self, plots: PlotBatch, i: int) -> str:
        s = int(plots.sensor[i])
        return self.radars[s].id if 0 <= s < len(self.radars) else f"#{s}"
