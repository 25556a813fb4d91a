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


@dataclass(frozen=True)
class ThreatLetGo(Event):
    """A ballistic track that is not (or can no longer be) engaged, and why: ``open_ground``
    (its probability of hitting a defended zone, ``p_defended``, is below the engagement
    threshold), ``no_window`` (no effector can reach it before impact) or ``no_ammunition``
    (every effector that could is empty). Once per track and reason."""

    kind: ClassVar[str] = "threat_let_go"
    track: int
    cls: str
    reason: str
    p_defended: float


@dataclass(frozen=True)
class Engaged(Event):
    """An effector is committed against a track (simulation model: no interface to hardware).

    ``t`` is the decision time, ``t_fire`` when it fires (the burst starts, or the interceptors
    are launched), ``t_intercept`` when the rounds or interceptors reach the intercept point
    (``lat``, ``lon``, ``alt_m``, at ``range_m`` from the effector), ``pk`` the kill probability
    of the whole engagement, ``rounds`` the rounds (gun) or interceptors (launcher) expended and
    ``remaining`` what is left loaded."""

    kind: ClassVar[str] = "engaged"
    track: int
    cls: str
    effector: str
    shot: int
    t_fire: float
    t_intercept: float
    lat: float
    lon: float
    alt_m: float
    range_m: float
    pk: float
    rounds: int
    remaining: int


@dataclass(frozen=True)
class InterceptAssessed(Event):
    """The outcome of an engagement: ``killed`` or not. ``basis``: ``drawn`` (simulation: a
    seeded draw with the engagement's pk), ``track_continued`` (live: the track was still being
    updated after the intercept plus the assessment delay: a miss), ``track_lost`` (live: the
    track ended after the intercept time: taken as a kill), ``landed`` (the round reached the
    ground) or ``ended_before_intercept``."""

    kind: ClassVar[str] = "intercept_assessed"
    track: int
    effector: str
    shot: int
    killed: bool
    basis: str


@dataclass(frozen=True)
class CounterBatteryCue(Event):
    """A firing site for counter-battery fire: the fused launch point of ``n_launches`` tracks
    (``tracks``) launched within a set distance and time of each other, its circular error
    probable ``cep_m`` and east/north covariance (m^2), and the first and last launch times.
    Issued when a cue is new and again when its tracks change or it moves."""

    kind: ClassVar[str] = "counter_battery_cue"
    cue: str
    tracks: list
    lat: float
    lon: float
    alt_m: float
    cep_m: float
    cov_en_m2: list
    t_launch: float
    t_last_launch: float
    n_launches: int


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
        ThreatLetGo,
        Engaged,
        InterceptAssessed,
        CounterBatteryCue,
        TruthLaunch,
        TruthImpact,
    )
}
