"""Typed, timestamped events: what the engine tells operators, alerting systems and the log.

Every event is a small frozen dataclass with a ``kind`` and a time ``t`` (seconds, the
plots' clock). They are made at the edge of a step from the step's arrays (never inside a
loop over plots) and are plain data: ``to_dict()`` gives the JSON form written to
``events.jsonl`` and the event store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    t: float

    def to_dict(self) -> dict:
        d = {"kind": self.kind}
        d.update(asdict(self))
        return d


@dataclass(frozen=True)
class PlotRejected(Event):
    """A plot the engine could not use (it is reported, never fatal)."""

    kind: ClassVar[str] = "plot_rejected"
    sensor: str
    reason: str


@dataclass(frozen=True)
class TrackConfirmed(Event):
    """A tentative track became a confirmed track."""

    kind: ClassVar[str] = "track_confirmed"
    track: int
    cls: str
    p_ballistic: float
    lat: float
    lon: float
    alt_m: float
    speed_mps: float


@dataclass(frozen=True)
class TrackClassified(Event):
    """A confirmed track's class changed (e.g. from unknown to mortar, or to aircraft)."""

    kind: ClassVar[str] = "track_classified"
    track: int
    cls: str
    p_ballistic: float


@dataclass(frozen=True)
class TrackLanded(Event):
    """A track's flight met the ground (``t`` is the estimated impact time)."""

    kind: ClassVar[str] = "track_landed"
    track: int
    cls: str
    lat: float
    lon: float
    alt_m: float


@dataclass(frozen=True)
class TrackDropped(Event):
    """A confirmed track left the table: lost, landed (after its hold), duplicate."""

    kind: ClassVar[str] = "track_dropped"
    track: int
    reason: str


@dataclass(frozen=True)
class TruthLaunch(Event):
    """Simulation only: a round left its launcher."""

    kind: ClassVar[str] = "truth_launch"
    object: str
    munition: str
    lat: float
    lon: float


@dataclass(frozen=True)
class TruthImpact(Event):
    """Simulation only: a round hit the ground (or was destroyed, ``destroyed`` True)."""

    kind: ClassVar[str] = "truth_impact"
    object: str
    lat: float
    lon: float
    zone: str | None = None
    destroyed: bool = False
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ImpactPredicted(Event):
    """Where and when a ballistic track will meet the ground, with a 2x2 east/north covariance
    (m^2). Emitted when a track is first predicted and whenever the prediction moves."""

    kind: ClassVar[str] = "impact_predicted"
    track: int
    cls: str
    lat: float
    lon: float
    alt_m: float
    t_impact: float
    cov_en_m2: list
    zone: str | None = None


@dataclass(frozen=True)
class OriginEstimated(Event):
    """Where and when a ballistic track was launched (its counter-battery cue)."""

    kind: ClassVar[str] = "origin_estimated"
    track: int
    cls: str
    lat: float
    lon: float
    alt_m: float
    t_launch: float
    cov_en_m2: list


@dataclass(frozen=True)
class ZoneWarned(Event):
    """A zone's siren sounds: ``tracks`` may hit it with ``probability`` by ``t_impact``;
    ``lead_time_s`` = t_impact - t."""

    kind: ClassVar[str] = "zone_warned"
    zone: str
    siren: str
    tracks: list
    probability: float
    t_impact: float
    lead_time_s: float
    extends: bool = False  # a further track joins a zone already under warning


@dataclass(frozen=True)
class AllClear(Event):
    """A warned zone's threats have all landed, been destroyed or been dropped (plus the hold)."""

    kind: ClassVar[str] = "all_clear"
    zone: str
    siren: str
    tracks: list


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        PlotRejected,
        TrackConfirmed,
        TrackClassified,
        TrackLanded,
        TrackDropped,
        ImpactPredicted,
        OriginEstimated,
        ZoneWarned,
        AllClear,
        TruthLaunch,
        TruthImpact,
    )
}
