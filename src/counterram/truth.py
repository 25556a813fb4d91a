"""Truth: every object of a scenario flown through time (threat rounds and air traffic).

``fly_truth`` expands salvos, solves aim points, flies all rounds as one batch with the
flight model and lays out the traffic paths. ``Truth.state_at`` gives any object's position
and velocity at any time (cubic Hermite between the flight samples, exact on traffic legs),
which is what the radar simulator and the scoring use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .physics.aim import SAMPLE_DT_S, fly_munitions, solve_aim
from .physics.flight import FlightEnv, Wind, hermite
from .physics.munitions import CATALOG, DRAG_LAWS
from .physics.traffic import Path
from .scenario import Round, Scenario, expand_rounds

NON_THREAT = ("aircraft", "helicopter", "bird")

#: typical radar cross-sections by kind (m^2), ASSUMPTIONS of the right order of magnitude:
#: small rounds 0.01-0.05 m^2, a helicopter a few m^2, an airliner tens of m^2, a bird 0.01.
DEFAULT_RCS_M2 = {
    "mortar": 0.01,
    "rocket": 0.03,
    "artillery": 0.02,
    "helicopter": 5.0,
    "aircraft": 30.0,
    "bird": 0.01,
}


def flight_env(scn: Scenario, **kw) -> FlightEnv:
    """The scenario's flight environment: its site, ground, wind and the catalog drag laws."""
    w = scn.wind
    if w.profile:
        wind = Wind(
            tuple(x.height_m for x in w.profile),
            tuple(x.east_mps for x in w.profile),
            tuple(x.north_mps for x in w.profile),
        )
    else:
        wind = Wind(east_mps=(w.east_mps or 0.0,), north_mps=(w.north_mps or 0.0,))
    return FlightEnv(scn.site, scn.ground_alt_m, DRAG_LAWS, wind=wind, **kw)


@dataclass
class Truth:
    """All truth objects; rows 0..n_threats-1 are threat rounds, then traffic."""

    ids: list[str]
    kinds: list[str]  # mortar | rocket | artillery | aircraft | helicopter | bird
    munitions: list[str | None]
    rounds: list[Round]
    start_t_s: np.ndarray  # launch / first waypoint time (absolute, s)
    end_t_s: np.ndarray  # impact / last waypoint time (absolute, s)
    start_enu_m: np.ndarray  # (N, 3)
    end_enu_m: np.ndarray  # (N, 3) impact point (threats) or last waypoint
    apogee_m: np.ndarray  # height above ground of the apex (threats; NaN for traffic)
    az_deg: np.ndarray  # launch azimuth / elevation actually used (threats)
    el_deg: np.ndarray
    sample_dt_s: float
    samples: np.ndarray  # (n_threats, K, 6) state every sample_dt_s from launch, NaN after impact
    end_state: np.ndarray  # (n_threats, 6) position and velocity at impact
    paths: list[Path]
    rcs_m2: np.ndarray  # (N,) radar cross-section of every object

    @property
    def n_threats(self) -> int:
        return len(self.rounds)

    @property
    def is_threat(self) -> np.ndarray:
        return np.arange(len(self.ids)) < self.n_threats

    def state_at(self, t_s, rows=None):
        """Positions and velocities (M, 3) of objects ``rows`` at absolute times ``t_s`` (M,).

        NaN where an object is not in the air at that time.
        """
        rows = np.arange(len(self.ids)) if rows is None else np.asarray(rows)
        t = np.broadcast_to(np.asarray(t_s, float), rows.shape)
        pos = np.full((rows.size, 3), np.nan)
        vel = np.full((rows.size, 3), np.nan)
        thr = rows < self.n_threats
        if thr.any():
            r, tt = rows[thr], t[thr]
            tau = tt - self.start_t_s[r]
            inside = (tau >= 0) & (tt <= self.end_t_s[r])
            k = np.clip(np.floor(tau / self.sample_dt_s).astype(int), 0, self.samples.shape[1] - 2)
            a = self.samples[r, k]
            b = self.samples[r, k + 1]
            step = np.full(r.size, self.sample_dt_s)
            # the last interval of a flight ends at the impact, not at a grid point
            last = np.isnan(b[:, 0])
            b[last] = self.end_state[r[last]]
            step[last] = np.maximum(
                self.end_t_s[r[last]] - self.start_t_s[r[last]] - k[last] * self.sample_dt_s, 1e-9
            )
            s = (tau - k * self.sample_dt_s) / step
            p, v = hermite(a[:, :3], a[:, 3:], b[:, :3], b[:, 3:], s, step[:, None])
            p[~inside] = np.nan
            v[~inside] = np.nan
            pos[thr], vel[thr] = p, v
        if not thr.all():  # traffic: each path once, for all of its times
            idx = np.flatnonzero(~thr)
            order = idx[np.argsort(rows[idx], kind="stable")]
            for grp in np.split(order, np.flatnonzero(np.diff(rows[order])) + 1):
                pos[grp], vel[grp] = self.paths[int(rows[grp[0]]) - self.n_threats].state(t[grp])
        return pos, vel


def fly_truth(scn: Scenario, rng: np.random.Generator | None = None, env: FlightEnv | None = None) -> Truth:
    """Fly every threat round of ``scn`` and lay out its traffic."""
    env = env or flight_env(scn)
    rounds = expand_rounds(scn, rng)
    n = len(rounds)
    muns = [CATALOG[r.munition] for r in rounds]
    launch = np.array([r.launch_enu_m for r in rounds]).reshape(n, 3)
    az = np.zeros(n)
    el = np.zeros(n)
    aimed = np.array([r.aim_enu_m is not None for r in rounds], bool)
    for i, r in enumerate(rounds):
        if r.aim_enu_m is None:
            az[i], el[i] = np.radians(r.azimuth_deg), np.radians(r.elevation_deg)
    if aimed.any():
        idx = np.flatnonzero(aimed)
        sol = solve_aim(
            env,
            [muns[i] for i in idx],
            launch[idx],
            np.array([rounds[i].aim_enu_m for i in idx]),
            high=[rounds[i].high for i in idx],
        )
        az[idx], el[idx] = sol.az_rad, sol.el_rad
    if n:
        res = fly_munitions(env, muns, launch, az, el, sample_dt_s=SAMPLE_DT_S)
        # one blank column at the end so every flight's last interval has a right-hand sample
        samples = np.concatenate([res.samples, np.full((n, 1, 6), np.nan)], axis=1)
        end_state = res.y_end[:, 0:6]
        t_launch = np.array([r.launch_time_s for r in rounds])
        end_t = t_launch + res.t_end_s
        end = res.y_end[:, 0:3]
        apogee = res.apex_height_m - scn.ground_alt_m
    else:
        samples = np.zeros((0, 2, 6))
        end_state = np.zeros((0, 6))
        t_launch = end_t = apogee = np.zeros(0)
        end = np.zeros((0, 3))
    site = scn.site
    paths = []
    for tr in scn.traffic:
        pts = np.array([site.to_enu(w.lat, w.lon, w.alt_m) for w in tr.waypoints])
        paths.append(Path(tr.start_time_s, pts, np.array([w.speed_mps for w in tr.waypoints])))
    m = len(paths)
    kinds = [CATALOG[r.munition].kind for r in rounds] + [t.kind for t in scn.traffic]
    rcs = [DEFAULT_RCS_M2[k] for k in kinds[:n]] + [t.rcs_m2 or DEFAULT_RCS_M2[t.kind] for t in scn.traffic]
    return Truth(
        ids=[r.id for r in rounds] + [t.id for t in scn.traffic],
        kinds=kinds,
        munitions=[r.munition for r in rounds] + [None] * m,
        rounds=rounds,
        start_t_s=np.concatenate([t_launch, [p.start_time_s for p in paths]]),
        end_t_s=np.concatenate([end_t, [p.end_time_s for p in paths]]),
        start_enu_m=np.concatenate([launch, np.array([p.points_enu_m[0] for p in paths]).reshape(m, 3)]),
        end_enu_m=np.concatenate([end, np.array([p.points_enu_m[-1] for p in paths]).reshape(m, 3)]),
        apogee_m=np.concatenate([apogee, np.full(m, np.nan)]),
        az_deg=np.degrees(az),
        el_deg=np.degrees(el),
        sample_dt_s=SAMPLE_DT_S,
        samples=samples,
        end_state=end_state,
        paths=paths,
        rcs_m2=np.array(rcs, float),
    )


def zone_of(scn: Scenario, enu_m) -> list[str | None]:
    """The id of the zone containing each ENU point (first match), or None (open ground)."""
    pts = np.atleast_2d(np.asarray(enu_m, float))
    site = scn.site
    out: list[str | None] = [None] * len(pts)
    for z in scn.zones:
        poly = site.polygon_enu(z.polygon)
        inside = shapely.contains_xy(poly, pts[:, 0], pts[:, 1])
        for i in np.flatnonzero(inside):
            out[i] = out[i] or z.id
    return out
