"""Zone warnings: who must take cover, and when it is over.

For each zone and each ballistic track the probability that the round lands inside the zone
grown by the lethal radius of the track's class is computed from the predicted impact
distribution N(mu, Sigma) (east/north, metres):

    P(zone) = E[ 1{mu + L s in zone (+) r_lethal} ],   s ~ N(0, I_2),  L L^T = Sigma

as an average over a fixed set of 2 x 256 standard-normal points (a Halton set mapped through
the inverse normal CDF, plus its mirror image, so a distribution centred on a straight edge
gets exactly one half), tested with shapely's vectorised point-in-polygon. A point mass
(Sigma = 0) gets 1 inside the grown polygon, its edge included, and 0 outside.

Lifecycle of a zone (no flapping): a zone is warned when some track's probability passes the
threshold; that track then stays among the zone's warning tracks until it lands, is destroyed
or is dropped - a warning is never withdrawn and re-issued for the same track. When every
track that warned a zone has ended, the zone's all-clear follows ``hold_s`` later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.stats import norm, qmc

from .events import AllClear, Event, ZoneWarned

#: lethal radius by threat class (m) used to grow the zones. The largest public figure of each
#: class, the safe side (docs/munitions.md): mortar 75 m (120 mm M934 bursting radius, FM 23-90),
#: rocket 28 m (122 mm; 107 mm is 12.5 m), artillery 50 m (155 mm M107 casualty radius).
LETHAL_RADIUS_M = {"mortar": 75.0, "rocket": 28.0, "artillery": 50.0}


@dataclass(frozen=True)
class WarnParams:
    """threshold: probability above which a zone is warned, 0.2: chosen from the 200-run Monte
    Carlo of the default scenario (docs/warning.md: no missed warning at any threshold up to
    0.5; 0.2 has 2.6x fewer over-warnings than 0.02 for the same worst-case lead time, and
    above it the worst-case lead starts to fall); hold_s: seconds after the last threat ends
    before the all-clear; n_samples: half the number of points of the probability quadrature."""

    threshold: float = 0.2
    hold_s: float = 5.0
    n_samples: int = 256
    lethal_radius_m: dict = field(default_factory=lambda: dict(LETHAL_RADIUS_M))


@dataclass(frozen=True)
class ZoneGeometry:
    id: str
    name: str
    siren: str
    defended: bool
    value: float
    polygon: shapely.Polygon  # ENU metres (east, north)


def standard_normal_points(n: int, seed: int = 0) -> np.ndarray:
    """2n points (2n, 2): n scrambled-Halton points through the inverse normal CDF, and their
    mirror images (so odd moments vanish exactly)."""
    u = qmc.Halton(d=2, scramble=True, seed=seed).random(n)
    z = norm.ppf(np.clip(u, 1e-9, 1 - 1e-9))
    return np.concatenate([z, -z])


class ZoneProbability:
    """P(impact in zone grown by the class's lethal radius) for many tracks and zones."""

    def __init__(self, zones: Sequence[ZoneGeometry], params: WarnParams):
        self.zones = list(zones)
        self.p = params
        self.s = standard_normal_points(params.n_samples)
        self.grown = {cls: [z.polygon.buffer(r) for z in zones] for cls, r in params.lethal_radius_m.items()}
        for polys in self.grown.values():
            shapely.prepare(polys)
        self.edges = {cls: [poly.boundary for poly in polys] for cls, polys in self.grown.items()}
        # no point of the set lies farther than this from the origin (standard-normal units)
        self.s_radius = float(np.max(np.hypot(self.s[:, 0], self.s[:, 1])))

    def __call__(self, mean_en, cov_en, cls) -> np.ndarray:
        """(N, Z) probabilities for N impact distributions (mean (N, 2), cov (N, 2, 2)) with class
        labels ``cls`` (N,); 0 for classes without a lethal radius (non-ballistic)."""
        mean_en = np.asarray(mean_en, float).reshape(-1, 2)
        n, z = mean_en.shape[0], len(self.zones)
        out = np.zeros((n, z))
        if n == 0 or z == 0:
            return out
        cov = np.asarray(cov_en, float).reshape(-1, 2, 2)
        # Cholesky of a possibly degenerate 2x2 covariance (a point mass is fine)
        a = np.maximum(cov[:, 0, 0], 0.0)
        l11 = np.sqrt(a)
        l21 = np.where(l11 > 0, cov[:, 1, 0] / np.where(l11 > 0, l11, 1.0), 0.0)
        l22 = np.sqrt(np.maximum(cov[:, 1, 1] - l21**2, 0.0))
        s = self.s
        reach = 6.0 * np.sqrt(np.maximum(cov[:, 0, 0] + cov[:, 1, 1], 0.0))
        # Only the points whose side of a zone's edge is in doubt are tested: a point of a track's
        # set lies within |L s| of its mean, so one nearer to its mean than the edge is on the
        # mean's side (a margin covers rounding). A track whose whole set is nearer than the edge
        # (|L s| <= |L|_2 max|s|, |L|_2^2 the larger eigenvalue of L L^T) gets exactly 1 or 0;
        # the probabilities are the same numbers the full test gives.
        m11, m12, m22 = l11**2, l11 * l21, l21**2 + l22**2
        norm2 = 0.5 * (m11 + m22) + np.hypot(0.5 * (m11 - m22), m12)
        spread = np.sqrt(norm2) * self.s_radius * (1.0 + 1e-6) + 1e-3
        centres = shapely.points(mean_en)
        cls = np.asarray(cls, dtype=object)
        for c, polys in self.grown.items():
            rows = np.flatnonzero(cls == c)
            if rows.size == 0:
                continue
            for j, poly in enumerate(polys):
                x0, y0, x1, y1 = poly.bounds
                near = rows[
                    (mean_en[rows, 0] + reach[rows] >= x0)
                    & (mean_en[rows, 0] - reach[rows] <= x1)
                    & (mean_en[rows, 1] + reach[rows] >= y0)
                    & (mean_en[rows, 1] - reach[rows] <= y1)
                ]
                if near.size == 0:
                    continue
                edge = shapely.distance(self.edges[c][j], centres[near])  # mean to the zone's edge
                side = shapely.contains_xy(poly, mean_en[near, 0], mean_en[near, 1])
                clear = edge > spread[near]
                out[near[clear], j] = side[clear]
                near, edge, side = near[~clear], edge[~clear], side[~clear]
                if near.size == 0:
                    continue
                dx = l11[near, None] * s[None, :, 0]
                px = mean_en[near, 0:1] + dx
                py = mean_en[near, 1:2] + l21[near, None] * s[None, :, 0] + l22[near, None] * s[None, :, 1]
                dy = l21[near, None] * s[None, :, 0] + l22[near, None] * s[None, :, 1]
                test = ~(np.hypot(dx, dy) * (1.0 + 1e-9) + 1e-3 < edge[:, None])
                inside = np.repeat(side[:, None], s.shape[0], axis=1)
                inside[test] = shapely.intersects_xy(poly, px[test], py[test])
                out[near, j] = inside.mean(axis=1)
        return out


class Warner:
    """The warning state of every zone; ``update`` once per engine step."""

    def __init__(self, zones: Sequence[ZoneGeometry], params: WarnParams | None = None):
        self.zones = list(zones)
        self.p = params or WarnParams()
        self.prob = ZoneProbability(self.zones, self.p)
        z = len(self.zones)
        self.warned_by: list[dict[int, float]] = [{} for _ in range(z)]  # track -> predicted impact time
        self.ended: dict[int, float] = {}  # track -> time it ended
        self.active = np.zeros(z, bool)
        self.t_warned = np.full(z, np.nan)

    def update(
        self, t_s: float, track_ids, mean_en, cov_en, t_impact, cls, ended=()
    ) -> tuple[list[Event], np.ndarray]:
        """New predictions for ``track_ids`` at time ``t_s``; ``ended``: (track id, time) of
        tracks that landed, were destroyed or dropped. Returns the events and the (N, Z)
        probabilities."""
        for tid, t_end in ended:
            self.ended.setdefault(int(tid), float(t_end))
        events: list[Event] = []
        probs = self.prob(mean_en, cov_en, cls)
        over = probs >= self.p.threshold
        rows, cols = np.nonzero(over)
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):  # new warnings only: rare
            tid = int(track_ids[i])
            if tid in self.ended:
                continue
            if tid in self.warned_by[j]:  # already warning this zone: keep its latest impact time
                self.warned_by[j][tid] = float(t_impact[i])
                continue
            extends = bool(self.active[j])
            self.warned_by[j][tid] = float(t_impact[i])
            if not extends:
                self.active[j] = True
                self.t_warned[j] = t_s
            zone = self.zones[j]
            events.append(
                ZoneWarned(
                    t=t_s,
                    zone=zone.id,
                    siren=zone.siren,
                    tracks=sorted(self.warned_by[j]),
                    probability=round(float(probs[i, j]), 4),
                    t_impact=float(t_impact[i]),
                    lead_time_s=float(t_impact[i] - t_s),
                    extends=extends,
                )
            )
        events.extend(self.check_clear(t_s))
        return events, probs

    def check_clear(self, t_s: float) -> list[Event]:
        """All-clear for active zones whose warning tracks have all ended ``hold_s`` ago."""
        out: list[Event] = []
        for j in np.flatnonzero(self.active):
            tracks = self.warned_by[j]
            if not all(t in self.ended for t in tracks):
                continue
            if t_s < max(self.ended[t] for t in tracks) + self.p.hold_s:
                continue
            zone = self.zones[j]
            out.append(AllClear(t=t_s, zone=zone.id, siren=zone.siren, tracks=sorted(tracks)))
            self.active[j] = False
            self.warned_by[j] = {}
        return out
