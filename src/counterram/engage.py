"""Threat evaluation, effector models and engagement scheduling (a simulation model only).

Interception here is an engagement model in simulation: it decides which simulated effector
would engage which track, when and where, and with what kill probability. Nothing in
counterram talks to real hardware.

Effector models (pure functions, SI units)
------------------------------------------
Gun round, slowed by constant-Cd drag (dv/ds = -v / L, L = 2 m / (rho Cd A))::

    v(s) = v0 exp(-s / L)                    speed after a path of s metres
    t(s) = L / v0 (exp(s / L) - 1)           time of flight to range s
    s(t) = L ln(1 + v0 t / L)                range reached after t seconds

Gun kill probability of one burst at range r (a documented assumption; half-range r_half)::

    pk(r) = pk_max exp(-ln 2 (r / r_half)^2)

and of a partial burst of n of the N rounds of a full one, 1 - (1 - pk)^(n / N).
Interceptor launcher: t(r) = t_delay + r / v_avg; n interceptors, each killing independently
with probability p, kill with 1 - (1 - p)^n. Slew: t_slew = angle / rate + t_settle (none for a
gun already laid within half a degree of the line of sight).

Engagement window (:func:`engagement_windows`)
----------------------------------------------
For a predicted flight sampled at times t_k (positions p_k), an intercept at time t is
feasible when the target is inside the effector's envelope there (r_min <= r(t) <= r_max,
elevation >= el_min), before the end of the flight (impact), and the effector can fire in
time::

    t_fire(t) = t - tof(r(t)) >= max(t_now, t_ready) + t_slew(pointing -> line of sight at t)

The window is the first stretch of feasible intercept times [open, close]; the chosen
intercept is at its opening (the earliest), which leaves the most room to look and shoot
again. Between samples the path
is the quadratic through three neighbouring samples (exact for a vacuum parabola) and the
window's edges are found by bisection on the feasibility test, so the result hardly depends
on the sampling step (a feasible stretch shorter than one step can be missed).

Threat evaluation and assignment (:class:`Engager`)
---------------------------------------------------
Only confirmed tracks of a ballistic class (rocket, artillery, mortar) are ever engaged.
Per track, from its zone probabilities p_iz over the defended zones z (value v_z)::

    P_i = min(1, sum_z p_iz)           probability of a hit on a defended zone (upper bound)
    V_i = sum_z v_z p_iz               value-weighted threat

A track is a candidate when P_i >= threshold; ballistic tracks below it are let go
(``ThreatLetGo``, reason ``open_ground``). Each effector offers ``plan_slots`` consecutive
engagements (slot s ready at t_ready + s x its busy time, with the ammunition left after s
engagements); the weight of track i on slot s of effector e is::

    w_i,es = V_i pk_ie (1 + T_u / (T_u + t_go,i)) 0.9^s

and zero where that slot's window is empty (pk_ie: kill probability of effector e's earliest
feasible engagement of track i; t_go: time to impact; T_u: ``urgency_s``). The slot factor makes
every track take the earliest slot it can, and among tracks competing for one effector the
higher weight goes first unless the lower one's window would close before the next slot. The
assignment maximising the total weight (scipy's ``linear_sum_assignment``) is solved at every
update; a slot-0 assignment whose fire time falls within ``commit_s`` is committed (ammunition
spent, effector busy), the rest stay planned and are re-planned at the next update (an idle gun
is laid on its next planned intercept point meanwhile, busy for that slew).
Shoot-look-shoot: a track whose engagement failed becomes a candidate again once the intercept
time plus ``assess_s`` has passed, if a window is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .events import Engaged, Event, InterceptAssessed, ThreatLetGo
from .geo import Site
from .scenario import EngageSpec, GunSpec, LauncherSpec

#: track classes that are ever engaged
BALLISTIC_CLASSES = ("rocket", "artillery", "mortar")

_LN2 = float(np.log(2.0))

#: a gun laid within this angle of a line of sight needs no slew to fire along it (0.5 deg)
ON_TARGET_RAD = float(np.radians(0.5))

# --------------------------------------------------------------------------------------------
# Pure effector models
# --------------------------------------------------------------------------------------------


def gun_time_of_flight_s(range_m, muzzle_speed_mps: float, decay_length_m: float):
    """Time of flight of a gun round to range s (s), velocity decaying exponentially with path:

    v(s) = v0 exp(-s / L)  =>  t(s) = integral ds / v = L / v0 (exp(s / L) - 1)
    """
    s = np.asarray(range_m, float)
    return decay_length_m / muzzle_speed_mps * np.expm1(s / decay_length_m)


def gun_range_m(t_s, muzzle_speed_mps: float, decay_length_m: float):
    """Range a gun round reaches after t seconds (inverse of :func:`gun_time_of_flight_s`):

    s(t) = L ln(1 + v0 t / L)
    """
    t = np.asarray(t_s, float)
    return decay_length_m * np.log1p(muzzle_speed_mps * t / decay_length_m)


def gun_speed_mps(range_m, muzzle_speed_mps: float, decay_length_m: float):
    """Speed of a gun round at range s: v(s) = v0 exp(-s / L) (m/s)."""
    return muzzle_speed_mps * np.exp(-np.asarray(range_m, float) / decay_length_m)


def gun_pk_per_burst(range_m, pk_max: float, half_range_m: float):
    """Kill probability of one burst at range r: pk(r) = pk_max exp(-ln 2 (r / r_half)^2).

    pk_max at the muzzle, half of it at r_half (dispersion grows with range, the presented
    area stays the same, so the hit probability falls roughly as a Gaussian in range).
    """
    r = np.asarray(range_m, float)
    return pk_max * np.exp(-_LN2 * (r / half_range_m) ** 2)


def launcher_time_of_flight_s(range_m, launch_delay_s: float, speed_mps: float):
    """Time from the decision to fire to the intercept at range r: t = t_delay + r / v_avg (s)."""
    return launch_delay_s + np.asarray(range_m, float) / speed_mps


def salvo_pk(pk, n):
    """Kill probability of n independent tries of probability pk each: 1 - (1 - pk)^n."""
    return 1.0 - (1.0 - np.asarray(pk, float)) ** np.asarray(n, float)


def slew_time_s(angle_rad, rate_rps: float, settle_s: float):
    """Time to slew through an angle and settle: t = angle / rate + t_settle (s)."""
    return np.asarray(angle_rad, float) / rate_rps + settle_s


def angle_between_rad(a, b):
    """Angle between vectors (..., 3) a and b: atan2(|a x b|, a . b) (radians, accurate near 0)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.arctan2(cross, np.einsum("...i,...i->...", a, b))


# --------------------------------------------------------------------------------------------
# Effector geometry: a spec in the site frame
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectorGeometry:
    """An effector in SI in the site ENU frame, as the engagement model needs it.

    ``enu_m`` mount position (3,), ``up`` the unit local vertical there; envelope
    ``min_range_m`` .. ``max_range_m`` and ``min_elevation_rad``; slew ``slew_rate_rps``
    (inf: no slew, a launcher) and ``settle_s``; ``shot_size``: rounds per burst (gun) or
    interceptors per threat (launcher doctrine); ``shot_busy_s``: how long one engagement keeps
    it busy (gun: the burst; launcher: per interceptor launched); ``capacity`` a full load,
    ``loaded`` at the start, ``spare_loads`` and ``reload_s``; ``stow`` the pointing at start.
    """

    id: str
    kind: str
    enu_m: np.ndarray
    up: np.ndarray
    min_range_m: float
    max_range_m: float
    min_elevation_rad: float
    slew_rate_rps: float
    settle_s: float
    shot_size: int
    shot_busy_s: float
    capacity: int
    loaded: int
    spare_loads: int
    reload_s: float
    # gun
    muzzle_speed_mps: float = np.nan
    decay_length_m: float = np.nan
    pk_max: float = np.nan
    pk_half_range_m: float = np.nan
    # launcher
    launch_delay_s: float = np.nan
    interceptor_speed_mps: float = np.nan
    pk_per_interceptor: float = np.nan
    stow: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))

    @classmethod
    def from_spec(cls, spec: GunSpec | LauncherSpec, site: Site) -> EffectorGeometry:
        """Geometry of a scenario effector: its position in ``site``'s ENU frame, SI parameters.

        The local vertical is that of the site's osculating sphere at the mount; a gun starts
        stowed pointing north along its horizon (assumption); a launcher has no slew.
        """
        enu = site.to_enu(spec.lat, spec.lon, spec.alt_m).reshape(3)
        d = enu - site.centre_enu_m
        up = d / np.linalg.norm(d)
        north = np.array([0.0, 1.0, 0.0])
        stow = north - up * (north @ up)
        stow /= np.linalg.norm(stow)
        common = dict(
            id=spec.id,
            kind=spec.kind,
            enu_m=enu,
            up=up,
            min_range_m=float(spec.min_range_m),
            max_range_m=float(spec.max_range_m),
            min_elevation_rad=float(np.radians(spec.min_elevation_deg)),
            capacity=int(spec.capacity),
            loaded=int(spec.loaded),
            spare_loads=int(spec.spare_loads),
            reload_s=float(spec.reload_s),
            stow=stow,
        )
        if isinstance(spec, GunSpec):
            return cls(
                **common,
                slew_rate_rps=float(np.radians(spec.slew_rate_dps)),
                settle_s=float(spec.settle_s),
                shot_size=spec.rounds_per_burst,
                shot_busy_s=float(spec.burst_s),
                muzzle_speed_mps=float(spec.muzzle_speed_mps),
                decay_length_m=float(spec.velocity_decay_length_m),
                pk_max=float(spec.pk_max),
                pk_half_range_m=float(spec.pk_half_range_m),
            )
        return cls(
            **common,
            slew_rate_rps=np.inf,
            settle_s=0.0,
            shot_size=int(spec.doctrine),
            shot_busy_s=float(spec.launch_interval_s),
            launch_delay_s=float(spec.launch_delay_s),
            interceptor_speed_mps=float(spec.interceptor_speed_mps),
            pk_per_interceptor=float(spec.pk_per_interceptor),
        )

    @property
    def is_gun(self) -> bool:
        return self.kind == "gun"

    def tof_s(self, range_m):
        """Time from firing to the intercept at range r (s): the gun's round or the launcher's
        delay plus interceptor flight."""
        if self.is_gun:
            return gun_time_of_flight_s(range_m, self.muzzle_speed_mps, self.decay_length_m)
        return launcher_time_of_flight_s(range_m, self.launch_delay_s, self.interceptor_speed_mps)

    def pk(self, range_m, n=None):
        """Kill probability of one engagement at range r with n rounds / interceptors (default
        a full burst / the doctrine): gun 1 - (1 - pk(r))^(n / N_burst), launcher
        1 - (1 - p)^n."""
        n = self.shot_size if n is None else n
        if self.is_gun:
            one = gun_pk_per_burst(range_m, self.pk_max, self.pk_half_range_m)
            return salvo_pk(one, np.asarray(n, float) / self.shot_size)
        return salvo_pk(np.full(np.shape(range_m), self.pk_per_interceptor), n)

    def busy_s(self, n=None) -> float:
        """How long one engagement of n rounds / interceptors keeps the effector busy (s)."""
        n = self.shot_size if n is None else n
        if self.is_gun:
            return self.shot_busy_s * n / self.shot_size
        return self.shot_busy_s * n

    def slew_s(self, pointing, los):
        """Slew time from ``pointing`` (3,) to lines of sight ``los`` (..., 3) (s): angle / rate +
        settle, and 0 when already laid there (within ``ON_TARGET_RAD``); 0 for a launcher."""
        if not np.isfinite(self.slew_rate_rps):
            return np.zeros(np.shape(los)[:-1])
        angle = angle_between_rad(pointing, los)
        return np.where(angle <= ON_TARGET_RAD, 0.0, slew_time_s(angle, self.slew_rate_rps, self.settle_s))


# --------------------------------------------------------------------------------------------
# Engagement windows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Windows:
    """One effector's engagement windows against N tracks (arrays over tracks; NaN where none).

    ``open_t_s`` / ``close_t_s``: the first stretch of feasible intercept times; the chosen
    intercept is the first: ``intercept_t_s``, ``intercept_enu_m`` (N, 3), ``range_m``,
    ``fire_t_s`` (= intercept - time of flight), ``slew_s`` and ``pk`` (of the engagement,
    with ``n_fired`` rounds or interceptors).
    """

    feasible: np.ndarray
    open_t_s: np.ndarray
    close_t_s: np.ndarray
    intercept_t_s: np.ndarray
    intercept_enu_m: np.ndarray
    range_m: np.ndarray
    fire_t_s: np.ndarray
    slew_s: np.ndarray
    pk: np.ndarray


def _feasible(eff: EffectorGeometry, t, pos, t_earliest, t_end, pointing):
    """Feasibility of intercepts at times t (M,) and target positions pos (M, 3)."""
    rel = pos - eff.enu_m
    r = np.sqrt(np.einsum("ij,ij->i", rel, rel))
    finite = np.isfinite(r) & np.isfinite(t)
    rs = np.where(finite & (r > 0), r, 1.0)
    los = rel / rs[:, None]
    up_comp = rel @ eff.up
    tol = 1e-9
    ok = finite & (r >= eff.min_range_m - tol) & (r <= eff.max_range_m + tol)
    ok &= up_comp >= rs * np.sin(eff.min_elevation_rad) - tol
    ok &= t <= t_end + tol
    t_fire = t - eff.tof_s(rs)
    ok &= t_fire >= t_earliest + eff.slew_s(pointing, los) - tol
    return ok


def _path_at(tq, t, p, valid, j):
    """Positions (M, 3) at times tq (M,) inside intervals [t_j, t_j+1] of rows' sampled paths
    t (M, K), p (M, K, 3): the quadratic through samples j, j+1, j+2 (or j-1, j, j+1),
    linear where only two samples are valid."""
    m, k = t.shape
    rows = np.arange(m)
    nxt = (j + 2 < k) & valid[rows, np.minimum(j + 2, k - 1)]
    prv = ~nxt & (j >= 1) & valid[rows, np.maximum(j - 1, 0)]
    a = np.where(prv, j - 1, j)
    b = a + 1
    quad = nxt | prv
    c = np.where(quad, a + 2, b)
    ta, tb, tc = t[rows, a], t[rows, b], t[rows, c]
    pa, pb, pc = p[rows, a], p[rows, b], p[rows, c]
    one = np.ones_like(ta)
    dab, dac, dbc = ta - tb, ta - tc, tb - tc
    la = np.where(quad, (tq - tb) * (tq - tc) / np.where(quad, dab * dac, one), (tq - tb) / dab)
    lb = np.where(quad, (tq - ta) * (tq - tc) / np.where(quad, -dab * dbc, one), (tq - ta) / -dab)
    lc = np.where(quad, (tq - ta) * (tq - tb) / np.where(quad, dac * dbc, one), 0.0)
    return la[:, None] * pa + lb[:, None] * pb + lc[:, None] * np.where(quad[:, None], pc, 0.0)


def _edge(eff, t, p, valid, j, feasible_lo, t_earliest, t_end, pointing, iters):
    """Bisect each row's interval [t_j, t_j+1] for the change of feasibility; returns the time
    on the feasible side. ``feasible_lo``: whether the interval's start is the feasible end."""
    rows = np.arange(t.shape[0])
    lo, hi = t[rows, j].copy(), t[rows, j + 1].copy()
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        ok = _feasible(eff, mid, _path_at(mid, t, p, valid, j), t_earliest, t_end, pointing)
        move_lo = ok == feasible_lo
        lo = np.where(move_lo, mid, lo)
        hi = np.where(move_lo, hi, mid)
    return np.where(feasible_lo, lo, hi)


def engagement_windows(
    eff: EffectorGeometry,
    t_now_s: float,
    ready_t_s: float,
    path_t_s,
    path_enu_m,
    pointing=None,
    *,
    t_impact_s=None,
    n_fired: int | None = None,
    iters: int = 48,
) -> Windows:
    """Engagement windows of effector ``eff`` against N predicted flights.

    Parameters
    ----------
    t_now_s : the current time (s); ``ready_t_s``: when the effector can next fire (busy,
        reloading); the earliest fire time is max(t_now, ready) plus the slew.
    path_t_s : (N, K) or (K,) sample times (s, the plots' clock) of the predicted flights;
        ``path_enu_m`` (N, K, 3) positions (site ENU, m). NaN samples are not flown; the
        flight ends at the last finite sample (append the impact point), or at ``t_impact_s``
        (N,) when given and earlier.
    pointing : (3,) where the effector points now (default its stow direction).
    n_fired : rounds / interceptors of the engagement for its pk (default a full one).

    Feasible intercept time t: r_min <= r(t) <= r_max, elevation >= el_min, t <= impact and
    t - tof(r(t)) >= max(t_now, ready) + t_slew. Returns :class:`Windows`: the first stretch
    of feasible times (its edges bisected on the quadratic path between samples) and the
    intercept at its opening.
    """
    p = np.asarray(path_enu_m, float)
    n, k = p.shape[:2]
    t = np.broadcast_to(np.asarray(path_t_s, float), (n, k))
    pointing = eff.stow if pointing is None else np.asarray(pointing, float)
    valid = np.isfinite(t) & np.all(np.isfinite(p), axis=-1)
    t_end = np.max(np.where(valid, t, -np.inf), axis=1) if k else np.full(n, -np.inf)
    if t_impact_s is not None:
        t_end = np.minimum(t_end, np.asarray(t_impact_s, float))
    valid &= t <= t_end[:, None]
    t_earliest = max(float(t_now_s), float(ready_t_s))

    ok = np.zeros((n, k), bool)
    if n and k:
        rr = np.repeat(np.arange(n), k)
        ok_flat = _feasible(eff, t.ravel(), p.reshape(-1, 3), t_earliest, t_end[rr], pointing) & valid.ravel()
        ok = ok_flat.reshape(n, k)
    feasible = ok.any(axis=1)
    open_t = np.full(n, np.nan)
    close_t = np.full(n, np.nan)
    pos = np.full((n, 3), np.nan)
    rows = np.flatnonzero(feasible)
    if rows.size:
        first = np.argmax(ok[rows], axis=1)
        # the first contiguous feasible stretch ends before the first infeasible sample after it
        idx = np.arange(k)
        gap = ~ok[rows] & (idx[None, :] > first[:, None])
        last_ok = k - 1 - np.argmax(ok[rows, ::-1], axis=1)
        last = np.where(gap.any(axis=1), np.argmax(gap, axis=1) - 1, last_ok)
        tr, pr, vr = t[rows], p[rows], valid[rows]
        open_t[rows] = tr[np.arange(rows.size), first]
        close_t[rows] = tr[np.arange(rows.size), last]
        pos[rows] = pr[np.arange(rows.size), first]
        # rising edge inside [t_first-1, t_first]
        sub = (first >= 1) & vr[np.arange(rows.size), np.maximum(first - 1, 0)]
        if sub.any():
            s = np.flatnonzero(sub)
            j = first[s] - 1
            te = _edge(eff, tr[s], pr[s], vr[s], j, False, t_earliest, t_end[rows[s]], pointing, iters)
            open_t[rows[s]] = te
            pos[rows[s]] = _path_at(te, tr[s], pr[s], vr[s], j)
        # falling edge inside [t_last, t_last+1]
        sub = (last + 1 < k) & vr[np.arange(rows.size), np.minimum(last + 1, k - 1)]
        if sub.any():
            s = np.flatnonzero(sub)
            j = last[s]
            close_t[rows[s]] = _edge(
                eff, tr[s], pr[s], vr[s], j, True, t_earliest, t_end[rows[s]], pointing, iters
            )
    rel = pos - eff.enu_m
    rng = np.sqrt(np.einsum("ij,ij->i", rel, rel))
    los = rel / np.where(rng > 0, rng, 1.0)[:, None]
    tof = np.where(feasible, eff.tof_s(np.nan_to_num(rng)), np.nan)
    slew = np.where(feasible, eff.slew_s(pointing, los), np.nan)
    pk = np.where(feasible, eff.pk(np.nan_to_num(rng), n_fired), np.nan)
    return Windows(
        feasible=feasible,
        open_t_s=open_t,
        close_t_s=close_t,
        intercept_t_s=open_t.copy(),
        intercept_enu_m=pos,
        range_m=np.where(feasible, rng, np.nan),
        fire_t_s=open_t - tof,
        slew_s=slew,
        pk=pk,
    )


# --------------------------------------------------------------------------------------------
# The engager: state, assignment, commitment, assessment
# --------------------------------------------------------------------------------------------


@dataclass
class Shot:
    """A committed engagement: ``n`` rounds (gun) or interceptors (launcher) fired by effector
    ``effector`` at track ``track`` at ``t_fire_s``, reaching ``intercept_enu_m`` at
    ``t_intercept_s`` with kill probability ``pk``. ``killed`` is None until resolved."""

    id: int
    track: int
    effector: str
    t_fire_s: float
    t_intercept_s: float
    intercept_enu_m: np.ndarray
    range_m: float
    pk: float
    n: int
    killed: bool | None = None

    @property
    def resolved(self) -> bool:
        return self.killed is not None


@dataclass(frozen=True)
class PlannedShot:
    """An assignment of the latest plan not (yet) committed: re-planned at the next update."""

    track: int
    effector: str
    slot: int
    t_fire_s: float
    t_intercept_s: float
    pk: float
    weight: float


@dataclass
class TrackRecord:
    """What the engager remembers of a track: ``status`` (``open``, ``killed``, ``ended``),
    its shots, until when it is held for assessment, and the let-go reasons already reported."""

    cls: str
    status: str = "open"
    shots: list = field(default_factory=list)
    hold_until_s: float = -np.inf
    let_go: set = field(default_factory=set)


class Engager:
    """Effector state and engagement planning; ``plan`` once per engine update.

    State per effector: rounds / interceptors loaded, spare loads, busy-until, reload-until and
    pointing. ``pending``: committed shots not yet resolved; ``history``: per-track records;
    ``planned``: the latest plan's uncommitted assignments.
    """

    def __init__(self, effectors: Sequence[EffectorGeometry], site: Site, params: EngageSpec | None = None):
        self.effectors = list(effectors)
        self.site = site
        self.p = params or EngageSpec()
        e = len(self.effectors)
        self.left = np.array([f.loaded for f in self.effectors], dtype=int)
        self.spares = np.array([f.spare_loads for f in self.effectors], dtype=int)
        self.busy_until = np.full(e, -np.inf)
        self.reload_until = np.full(e, np.nan)
        self.pointing = np.array([f.stow for f in self.effectors], dtype=float).reshape(e, 3)
        self.pending: dict[int, Shot] = {}
        self.shots: list[Shot] = []
        self.history: dict[int, TrackRecord] = {}
        self.planned: list[PlannedShot] = []
        self._next_shot = 1

    @classmethod
    def from_scenario(cls, scn) -> Engager:
        """An engager for a :class:`~counterram.scenario.Scenario`'s effectors and ``engage:``."""
        site = scn.site
        return cls([EffectorGeometry.from_spec(s, site) for s in scn.effectors], site, scn.engage)

    # -- effector state ---------------------------------------------------------------------
    def _refresh(self, t_s: float) -> None:
        """Finish reloads that are done; start one where a load is spent and a spare is left."""
        done = np.isfinite(self.reload_until) & (self.reload_until <= t_s)
        for i in np.flatnonzero(done):
            self.left[i] = self.effectors[i].capacity
            self.reload_until[i] = np.nan
        start = (self.left == 0) & ~np.isfinite(self.reload_until) & (self.spares > 0)
        for i in np.flatnonzero(start):
            self.spares[i] -= 1
            self.reload_until[i] = max(self.busy_until[i], t_s) + self.effectors[i].reload_s

    def _supply(self, t_s: float):
        """(ready time, ammunition available) per effector; 0 ammunition where spent for good."""
        reloading = np.isfinite(self.reload_until)
        ammo = np.where(
            self.left > 0, self.left, np.where(reloading, [f.capacity for f in self.effectors], 0)
        )
        ready = np.where(self.left > 0, np.maximum(self.busy_until, t_s), self.reload_until)
        return ready, ammo

    def state(self) -> list[dict]:
        """Per effector: id, kind, loaded, spare loads, busy until, reload until (NaN: none)."""
        return [
            {
                "id": f.id,
                "kind": f.kind,
                "loaded": int(self.left[i]),
                "spare_loads": int(self.spares[i]),
                "busy_until": float(self.busy_until[i]),
                "reload_until": float(self.reload_until[i]),
            }
            for i, f in enumerate(self.effectors)
        ]

    # -- planning -----------------------------------------------------------------------------
    def plan(
        self,
        t_now_s: float,
        track_ids,
        cls,
        path_t_s,
        path_enu_m,
        p_defended,
        zones,
        *,
        t_impact_s=None,
        updated=None,
    ) -> list[Event]:
        """Evaluate threats, assign effectors and commit the shots that are due.

        Parameters
        ----------
        t_now_s : the update time (s).
        track_ids : (N,) confirmed tracks with a prediction; ``cls`` (N,) their class labels
            (only rocket, artillery and mortar are ever engaged).
        path_t_s, path_enu_m : (N, K) / (K,) times and (N, K, 3) ENU positions of each track's
            predicted flight from now to impact (see :func:`engagement_windows`).
        p_defended : (N, Z) probability that each track hits each zone (warn.ZoneProbability);
            ``zones`` the Z :class:`~counterram.warn.ZoneGeometry` (``defended``, ``value``).
        t_impact_s : (N,) predicted impact times (default the end of each path).
        updated : (N,) bool, tracks refreshed by a measurement at this update (default all);
            a committed shot whose track is still updated ``assess_s`` after its intercept is
            assessed a miss (live mode; a simulation resolves shots itself, see :meth:`due`).

        Returns the events: ``Engaged`` for committed shots, ``InterceptAssessed`` for live
        misses, ``ThreatLetGo`` once per track and reason.
        """
        t = float(t_now_s)
        ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        n = ids.size
        labels = np.asarray(cls, dtype=object).reshape(-1)
        path_enu = np.asarray(path_enu_m, float).reshape(n, -1, 3) if n else np.zeros((0, 0, 3))
        path_t = np.broadcast_to(np.asarray(path_t_s, float), path_enu.shape[:2]) if n else np.zeros((0, 0))
        probs = np.asarray(p_defended, float).reshape(n, len(zones))
        upd = np.ones(n, bool) if updated is None else np.asarray(updated, bool).reshape(n)
        self._refresh(t)
        events: list[Event] = []

        # live assessment: a track still updated after intercept + assess was missed
        row_of = {int(tid): i for i, tid in enumerate(ids)}
        for shot in list(self.pending.values()):
            i = row_of.get(shot.track)
            if i is not None and upd[i] and t >= shot.t_intercept_s + self.p.assess_s:
                events += self.resolve(shot, False, t, basis="track_continued")

        for i, tid in enumerate(ids.tolist()):
            rec = self.history.setdefault(tid, TrackRecord(cls=str(labels[i])))
            rec.cls = str(labels[i])

        # threat evaluation
        defended = np.array([bool(z.defended) for z in zones], bool)
        value = np.array([float(z.value) for z in zones], float)
        p_def = np.minimum(1.0, probs[:, defended].sum(axis=1)) if n else np.zeros(0)
        v_threat = probs[:, defended] @ value[defended] if n else np.zeros(0)
        valid = np.isfinite(path_t) & np.all(np.isfinite(path_enu), axis=-1)
        t_end = np.max(np.where(valid, path_t, -np.inf), axis=1) if path_t.shape[1] else np.full(n, -np.inf)
        if t_impact_s is not None:  # a track given without a path (not a candidate): its impact time
            t_end = np.where(valid.any(axis=1) if valid.size else False, t_end, np.inf)
        t_imp = t_end if t_impact_s is None else np.minimum(t_end, np.asarray(t_impact_s, float))
        ballistic = np.isin(labels, BALLISTIC_CLASSES)
        status = np.array([self.history[tid].status for tid in ids.tolist()], dtype=object)
        pending_tracks = {s.track for s in self.pending.values()}
        engaged_now = np.array([tid in pending_tracks for tid in ids.tolist()], bool)
        hold = np.array([self.history[tid].hold_until_s > t for tid in ids.tolist()], bool)
        alive = ballistic & (status == "open") & (t_imp > t)
        free = alive & ~engaged_now & ~hold
        cand = free & (p_def >= self.p.threshold) & (p_def > 0.0)
        for i in np.flatnonzero(free & ~cand):
            events += self._let_go(t, int(ids[i]), "open_ground", float(p_def[i]))

        # candidates x effector slots
        self.planned = []
        rows = np.flatnonzero(cand)
        e = len(self.effectors)
        slots = self.p.plan_slots
        if rows.size and e:
            ready, ammo = self._supply(t)
            w = np.zeros((rows.size, e * slots))
            wins: dict[tuple[int, int], Windows] = {}
            sizes = np.zeros(e * slots, int)
            t_go = np.maximum(t_imp[rows] - t, 0.0)
            urgency = 1.0 + self.p.urgency_s / (self.p.urgency_s + t_go)
            for ei, eff in enumerate(self.effectors):
                pk_ref = np.full(rows.size, np.nan)  # pk at the effector's first feasible slot
                for s in range(slots):
                    have = int(ammo[ei]) - s * eff.shot_size
                    if have <= 0:
                        continue
                    nf = min(eff.shot_size, have)
                    rdy = float(ready[ei]) + s * eff.busy_s()
                    win = engagement_windows(
                        eff,
                        t,
                        rdy,
                        path_t[rows],
                        path_enu[rows],
                        self.pointing[ei],
                        t_impact_s=t_imp[rows],
                        n_fired=nf,
                    )
                    col = ei * slots + s
                    wins[(ei, s)] = win
                    sizes[col] = nf
                    pk_ref = np.where(np.isnan(pk_ref) & win.feasible, win.pk, pk_ref)
                    w[:, col] = np.where(
                        win.feasible, v_threat[rows] * np.nan_to_num(pk_ref) * urgency * 0.9**s, 0.0
                    )
            usable = ammo > 0
            ri, ci = linear_sum_assignment(w, maximize=True)
            assigned = set()
            for r, c in zip(ri.tolist(), ci.tolist(), strict=True):
                if w[r, c] <= 0.0:
                    continue
                ei, s = divmod(c, slots)
                win = wins[(ei, s)]
                tid = int(ids[rows[r]])
                assigned.add(r)
                if s == 0 and win.fire_t_s[r] <= t + self.p.commit_s and self.left[ei] > 0:
                    events += self._commit(t, tid, ei, win, r, int(sizes[c]))
                else:
                    if s == 0:
                        self._lay(t, ei, win.intercept_enu_m[r])
                    self.planned.append(
                        PlannedShot(
                            tid,
                            self.effectors[ei].id,
                            s,
                            float(win.fire_t_s[r]),
                            float(win.intercept_t_s[r]),
                            float(win.pk[r]),
                            float(w[r, c]),
                        )
                    )
            # candidates left over: why
            _, ammo_after = self._supply(t)
            for r in range(rows.size):
                if r in assigned:
                    continue
                i = rows[r]
                if not (ammo_after > 0).any():
                    events += self._let_go(t, int(ids[i]), "no_ammunition", float(p_def[i]))
                elif not (w[r] > 0).any() and usable.any():
                    events += self._let_go(t, int(ids[i]), "no_window", float(p_def[i]))
        elif rows.size:
            for i in rows:
                events += self._let_go(t, int(ids[i]), "no_ammunition", float(p_def[i]))
        return events

    def _lay(self, t: float, ei: int, target_enu_m) -> None:
        """Lay an idle gun on its next planned intercept point while it waits: it is busy for
        the slew (angle / rate + settle) and then points there. Moves under half a degree are
        left to the firing slew."""
        eff = self.effectors[ei]
        if not eff.is_gun or self.busy_until[ei] > t or self.left[ei] <= 0:
            return
        rel = np.asarray(target_enu_m, float) - eff.enu_m
        los = rel / np.linalg.norm(rel)
        if angle_between_rad(self.pointing[ei], los) <= ON_TARGET_RAD:
            return
        self.busy_until[ei] = t + float(eff.slew_s(self.pointing[ei], los))
        self.pointing[ei] = los

    def _let_go(self, t: float, tid: int, reason: str, p_def: float) -> list[Event]:
        rec = self.history[tid]
        if reason in rec.let_go:
            return []
        rec.let_go.add(reason)
        return [ThreatLetGo(t=t, track=tid, cls=rec.cls, reason=reason, p_defended=round(p_def, 4))]

    def _commit(self, t: float, tid: int, ei: int, win: Windows, r: int, n: int) -> list[Event]:
        """Spend the ammunition, make the effector busy, point it, record the shot."""
        eff = self.effectors[ei]
        n = min(n, int(self.left[ei]))
        t_fire = max(float(win.fire_t_s[r]), t)
        pos = win.intercept_enu_m[r].copy()
        shot = Shot(
            id=self._next_shot,
            track=tid,
            effector=eff.id,
            t_fire_s=t_fire,
            t_intercept_s=float(win.intercept_t_s[r]),
            intercept_enu_m=pos,
            range_m=float(win.range_m[r]),
            pk=float(eff.pk(win.range_m[r], n)),
            n=n,
        )
        self._next_shot += 1
        self.left[ei] -= n
        self.busy_until[ei] = t_fire + eff.busy_s(n)
        rel = pos - eff.enu_m
        self.pointing[ei] = rel / np.linalg.norm(rel)
        self.pending[shot.id] = shot
        self.shots.append(shot)
        self.history[tid].shots.append(shot.id)
        self._refresh(t)
        lat, lon, alt = self.site.to_geodetic(pos)
        return [
            Engaged(
                t=t,
                track=tid,
                cls=self.history[tid].cls,
                effector=eff.id,
                shot=shot.id,
                t_fire=t_fire,
                t_intercept=shot.t_intercept_s,
                lat=float(lat),
                lon=float(lon),
                alt_m=float(alt),
                range_m=round(shot.range_m, 1),
                pk=round(shot.pk, 4),
                rounds=n,
                remaining=int(self.left[ei]),
            )
        ]

    # -- outcomes ------------------------------------------------------------------------------
    def due(self, t_now_s: float) -> list[Shot]:
        """Unresolved shots whose intercept time has come, earliest first (a simulation draws
        each: ``killed = rng.random() < shot.pk``, then calls :meth:`resolve`)."""
        out = [s for s in self.pending.values() if s.t_intercept_s <= t_now_s]
        return sorted(out, key=lambda s: (s.t_intercept_s, s.id))

    def resolve(self, shot: Shot | int, killed: bool, t_s: float, *, basis: str = "drawn") -> list[Event]:
        """Record a shot's outcome. A killed track is never engaged again (its track should end);
        a survivor may be engaged again after the intercept time plus ``assess_s``."""
        shot = self.pending.pop(shot if isinstance(shot, int) else shot.id)
        shot.killed = bool(killed)
        rec = self.history.get(shot.track)
        if rec is not None:
            if killed:
                rec.status = "killed"
            else:
                rec.hold_until_s = max(rec.hold_until_s, shot.t_intercept_s + self.p.assess_s)
        return [
            InterceptAssessed(
                t=float(t_s),
                track=shot.track,
                effector=shot.effector,
                shot=shot.id,
                killed=bool(killed),
                basis=basis,
            )
        ]

    def track_ended(self, track_id: int, t_s: float, *, landed: bool = False) -> list[Event]:
        """A track left the table at ``t_s``. Its unresolved shots are assessed: a miss when it
        ``landed``, a kill when it ended after their intercept time (live mode: the round
        vanished), else ``ended_before_intercept`` (not killed)."""
        tid = int(track_id)
        events: list[Event] = []
        for shot in [s for s in self.pending.values() if s.track == tid]:
            if landed:
                events += self.resolve(shot, False, t_s, basis="landed")
            elif t_s >= shot.t_intercept_s:
                events += self.resolve(shot, True, t_s, basis="track_lost")
            else:
                events += self.resolve(shot, False, t_s, basis="ended_before_intercept")
        rec = self.history.get(tid)
        if rec is not None and rec.status == "open":
            rec.status = "ended"
        return events
