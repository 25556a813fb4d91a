"""Respond: counter-battery cues from the estimated points of origin of ballistic tracks.

Every ballistic track's estimated launch point (east/north mean, 2x2 covariance, launch time)
is a cue. Launches close together in place and time are one firing site: single-linkage
grouping (two launches are linked when within ``group_distance_m`` and ``group_time_s`` of
each other; a group is a connected component of those links). A group's position is the
covariance-weighted (information) mean of its launches::

    P = (sum_i P_i^-1)^-1,        x = P sum_i P_i^-1 x_i

(it treats the launches as independent looks at one site; launchers spread over a site
make it optimistic), and its circular error probable (CEP) is that of N(x, P).

CEP of a zero-mean 2-D Gaussian with covariance eigenvalues s1^2 >= s2^2 (exact): the radius r
with P(|X| <= r) = 1/2, where in polar coordinates (substituting tan theta = (s2/s1) tan phi)::

    P(|X| <= r) = 1 - 1/(2 pi) integral_0^{2 pi} exp(-r^2 / (2 s(phi)^2)) dphi,
    s(phi)^2 = s1^2 cos^2 phi + s2^2 sin^2 phi

(circular case: 1 - exp(-r^2 / 2 s^2), CEP = sqrt(2 ln 2) s = 1.1774 s; line case s2 = 0:
CEP = 0.6745 s1). The integrand is smooth and periodic, so a 64-point midpoint rule is exact
to rounding for the ellipticities met here, and the root is bisected between those two limits.
The common approximation CEP ~ 0.589 (s1 + s2) (:func:`cep_approx_m`) is exact for a circle
and within 3 % for s2 / s1 >= 0.3, but 13 % low for a line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .events import CounterBatteryCue
from .geo import Site
from .scenario import RespondSpec
from .tracking.tracker import find_rows

_N_PHI = 64
_PHI = (np.arange(_N_PHI) + 0.5) * (0.5 * np.pi / _N_PHI)  # midpoints on [0, pi/2]
_COS2 = np.cos(_PHI) ** 2
_SIN2 = np.sin(_PHI) ** 2


def principal_sigmas_m(cov_en_m2) -> tuple[np.ndarray, np.ndarray]:
    """Major and minor standard deviations (s1 >= s2, m) of 2x2 covariances (..., 2, 2):

    s^2 = (a + d) / 2 +- sqrt(((a - d) / 2)^2 + b^2)       for [[a, b], [b, d]]
    """
    c = np.asarray(cov_en_m2, float)
    a, b, d = c[..., 0, 0], 0.5 * (c[..., 0, 1] + c[..., 1, 0]), c[..., 1, 1]
    mid = 0.5 * (a + d)
    rad = np.sqrt((0.5 * (a - d)) ** 2 + b**2)
    return np.sqrt(np.maximum(mid + rad, 0.0)), np.sqrt(np.maximum(mid - rad, 0.0))


def circle_probability(r_m, cov_en_m2):
    """P(|X| <= r) for X ~ N(0, cov) (..., 2, 2):
    1 - 1/(2 pi) int_0^{2 pi} exp(-r^2 / (2 (s1^2 cos^2 phi + s2^2 sin^2 phi))) dphi."""
    s1, s2 = principal_sigmas_m(cov_en_m2)
    r = np.asarray(r_m, float)
    s2phi = s1[..., None] ** 2 * _COS2 + s2[..., None] ** 2 * _SIN2
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(s2phi > 0, np.exp(-(r[..., None] ** 2) / (2.0 * s2phi)), 0.0)
    return 1.0 - e.mean(axis=-1)


def cep_m(cov_en_m2, iters: int = 52) -> np.ndarray:
    """Circular error probable (m) of N(0, cov) for covariances (..., 2, 2): the exact median
    radius (see the module docstring), bisected in [0.6745 s1, 1.1775 s1]."""
    s1, _ = principal_sigmas_m(cov_en_m2)
    lo, hi = 0.674 * s1, 1.178 * s1
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        below = circle_probability(mid, cov_en_m2) < 0.5
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def cep_approx_m(cov_en_m2) -> np.ndarray:
    """The common approximation CEP ~ 0.589 (s1 + s2) (m): exact for a circle, within 3 % for
    s2 / s1 >= 0.3."""
    s1, s2 = principal_sigmas_m(cov_en_m2)
    return 0.589 * (s1 + s2)


def group_launches(en_m, t_s, distance_m: float, time_s: float) -> np.ndarray:
    """Single-linkage groups of launches: i and j are linked when |x_i - x_j| <= distance_m and
    |t_i - t_j| <= time_s; groups are the connected components. Returns (N,) labels 0, 1, ...
    numbered in order of each group's first member. The pairs within ``distance_m`` come from a
    k-d tree (scipy's ``cKDTree.query_pairs``), so the cost follows the number of close pairs,
    not N^2."""
    x = np.asarray(en_m, float).reshape(-1, 2)
    t = np.asarray(t_s, float).reshape(-1)
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, int)
    pairs = cKDTree(x).query_pairs(distance_m, output_type="ndarray").reshape(-1, 2)
    pairs = pairs[np.abs(t[pairs[:, 0]] - t[pairs[:, 1]]) <= time_s]
    link = coo_matrix((np.ones(len(pairs), bool), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, lab = connected_components(link.tocsr(), directed=False)
    _, first = np.unique(lab, return_index=True)
    order = np.argsort(first)
    remap = np.empty_like(order)
    remap[order] = np.arange(order.size)
    return remap[lab]


def fuse_positions(en_m, cov_en_m2, floor_m2: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Information-weighted mean of positions (N, 2) with covariances (N, 2, 2):
    P = (sum P_i^-1)^-1, x = P sum P_i^-1 x_i (``floor_m2`` is added to each diagonal so a
    point estimate does not make the sum singular). Returns (x (2,), P (2, 2))."""
    x, p = fuse_groups(np.zeros(len(np.asarray(en_m).reshape(-1, 2)), int), en_m, cov_en_m2, floor_m2)
    return x[0], p[0]


def fuse_groups(labels, en_m, cov_en_m2, floor_m2: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fuse_positions` for every group at once: positions (N, 2) and covariances
    (N, 2, 2) with group labels (N,) in 0..G-1 -> fused means (G, 2) and covariances (G, 2, 2),
    P_g = (sum_{i in g} P_i^-1)^-1, x_g = P_g sum_{i in g} P_i^-1 x_i."""
    lab = np.asarray(labels, int).reshape(-1)
    x = np.asarray(en_m, float).reshape(-1, 2)
    c = np.asarray(cov_en_m2, float).reshape(-1, 2, 2) + floor_m2 * np.eye(2)
    g = int(lab.max()) + 1 if lab.size else 0
    info = np.linalg.inv(c)
    info_x = np.einsum("nij,nj->ni", info, x)
    s_info = np.stack([np.bincount(lab, info[:, i, j], g) for i in range(2) for j in range(2)], -1)
    s_x = np.stack([np.bincount(lab, info_x[:, i], g) for i in range(2)], -1)
    p = np.linalg.inv(s_info.reshape(g, 2, 2))
    return np.einsum("gij,gj->gi", p, s_x), p


@dataclass
class Cue:
    """A firing site: ``tracks`` launched there, fused ENU position and covariance, CEP, the
    first and last launch times."""

    id: str
    tracks: tuple
    enu_m: np.ndarray
    cov_en_m2: np.ndarray
    cep_m: float
    t_launch_s: float
    t_last_launch_s: float


class CounterBattery:
    """Counter-battery cues with stable ids: ``update`` with each step's origin estimates.

    Each track's latest origin estimate is kept (tracks that ended stay: their launches
    happened); at every update all launches are regrouped, each group takes the id of the
    existing cue it shares most tracks with (a new id ``cb-<n>`` otherwise), and a
    ``CounterBatteryCue`` is issued for a cue that is new, whose tracks changed or that moved
    more than ``move_m``. Launches and cues are held as arrays and regrouped, fused and
    compared in batch; only the cues issued become Python objects.
    """

    def __init__(self, site: Site, params: RespondSpec | None = None):
        self.site = site
        self.p = params or RespondSpec()
        self._ids = np.zeros(0, np.int64)  # launches: track ids, in order of first estimate
        self._enu = np.zeros((0, 3))
        self._cov = np.zeros((0, 2, 2))
        self._t = np.zeros(0)
        # cues: the cue of each launch (index into the cue arrays), and per cue its number
        # (cb-<n>), fused position, covariance, CEP, first and last launch time
        self._cue_of = np.zeros(0, np.int64)
        self._num = np.zeros(0, np.int64)
        self._cue_enu = np.zeros((0, 3))
        self._cue_cov = np.zeros((0, 2, 2))
        self._cue_cep = np.zeros(0)
        self._cue_t0 = np.zeros(0)
        self._cue_t1 = np.zeros(0)
        self._next = 1

    @property
    def cues(self) -> dict[str, Cue]:
        """The current cues by id."""
        out = {}
        for c in range(self._num.size):
            tracks = tuple(sorted(int(i) for i in self._ids[self._cue_of == c]))
            name = f"cb-{self._num[c]}"
            out[name] = Cue(
                name, tracks, self._cue_enu[c], self._cue_cov[c], float(self._cue_cep[c]),
                float(self._cue_t0[c]), float(self._cue_t1[c]),
            )  # fmt: skip
        return out

    def update(self, t_s: float, track_ids, origin_enu_m, origin_cov_en_m2, t_launch_s) -> list:
        """New origin estimates for ``track_ids`` (N,): ENU launch points (N, 3) m, east/north
        covariances (N, 2, 2) m^2 and launch times (N,) s. Returns the cue events."""
        ids = np.asarray(track_ids, np.int64).reshape(-1)
        enu = np.asarray(origin_enu_m, float).reshape(-1, 3)
        cov = np.asarray(origin_cov_en_m2, float).reshape(-1, 2, 2)
        tl = np.asarray(t_launch_s, float).reshape(-1)
        ok = np.all(np.isfinite(enu), axis=1) & np.all(np.isfinite(cov), axis=(1, 2)) & np.isfinite(tl)
        ids, enu, cov, tl = ids[ok], enu[ok], cov[ok], tl[ok]
        # the last estimate of an id given twice wins
        _, last = np.unique(ids[::-1], return_index=True)
        keep = np.sort(ids.size - 1 - last)
        ids, enu, cov, tl = ids[keep], enu[keep], cov[keep], tl[keep]
        k, known = find_rows(self._ids, ids)
        self._enu[k[known]], self._cov[k[known]], self._t[k[known]] = enu[known], cov[known], tl[known]
        self._ids = np.concatenate([self._ids, ids[~known]])
        self._enu = np.concatenate([self._enu, enu[~known]])
        self._cov = np.concatenate([self._cov, cov[~known]])
        self._t = np.concatenate([self._t, tl[~known]])
        self._cue_of = np.concatenate([self._cue_of, np.full(int((~known).sum()), -1, np.int64)])
        if self._ids.size == 0:
            return []

        lab = group_launches(self._enu[:, :2], self._t, self.p.group_distance_m, self.p.group_time_s)
        g = int(lab.max()) + 1
        size = np.bincount(lab, minlength=g)
        mean, p = fuse_groups(lab, self._enu[:, :2], self._cov)
        up = np.bincount(lab, self._enu[:, 2], g) / size
        enu_g = np.column_stack([mean, up])
        t0 = np.full(g, np.inf)
        t1 = np.full(g, -np.inf)
        np.minimum.at(t0, lab, self._t)
        np.maximum.at(t1, lab, self._t)
        cep = cep_m(p)

        cue, shared = self._match(lab, g)
        old_size = np.bincount(self._cue_of[self._cue_of >= 0], minlength=self._num.size)
        matched = cue >= 0
        c = np.where(matched, cue, 0)
        changed = ~matched
        if self._num.size:
            moved = np.hypot(*(self._cue_enu[c, :2] - enu_g[:, :2]).T) > self.p.move_m
            changed |= matched & ((shared != size) | (old_size[c] != size) | moved)
        num = np.where(matched, self._num[c] if self._num.size else 0, 0)
        fresh = np.flatnonzero(~matched)
        num[fresh] = self._next + np.arange(fresh.size)
        self._next += fresh.size

        self._cue_of, self._num = lab, num
        self._cue_enu, self._cue_cov, self._cue_cep, self._cue_t0, self._cue_t1 = enu_g, p, cep, t0, t1
        return self._events(t_s, np.flatnonzero(changed))

    def _match(self, lab: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray]:
        """For the new groups ``lab`` (G groups): the index of the existing cue each takes
        (-1: a new cue) and the number of tracks they share. Greedy by tracks shared (largest
        overlap first, older cue on a tie): each existing cue goes to at most one group."""
        cue = np.full(g, -1, np.int64)
        shared = np.zeros(g, np.int64)
        had = self._cue_of >= 0
        if not had.any():
            return cue, shared
        n_cues = self._num.size
        code = lab[had] * n_cues + self._cue_of[had]
        pair, count = np.unique(code, return_counts=True)
        gi, ci = pair // n_cues, pair % n_cues
        order = np.lexsort((gi, self._num[ci], -count))
        gi, ci, count = gi[order], ci[order], count[order]
        # the greedy pass over (group, cue) pairs that share tracks (at most one per launch)
        taken = np.zeros(n_cues, bool)
        for a, b, n in zip(gi.tolist(), ci.tolist(), count.tolist(), strict=True):
            if cue[a] < 0 and not taken[b]:
                cue[a], shared[a], taken[b] = b, n, True
        return cue, shared

    def _events(self, t_s: float, groups: np.ndarray) -> list[CounterBatteryCue]:
        """``CounterBatteryCue`` events for the current cues ``groups``."""
        if groups.size == 0:
            return []
        lat, lon, alt = self.site.to_geodetic(self._cue_enu[groups])
        order = np.lexsort((self._ids, self._cue_of))
        bounds = np.searchsorted(self._cue_of[order], [groups, groups + 1])
        out = []
        for j, c in enumerate(groups.tolist()):
            tracks = self._ids[order[bounds[0, j] : bounds[1, j]]].tolist()
            out.append(
                CounterBatteryCue(
                    t=float(t_s),
                    cue=f"cb-{self._num[c]}",
                    tracks=tracks,
                    lat=float(lat[j]),
                    lon=float(lon[j]),
                    alt_m=round(float(alt[j]), 1),
                    cep_m=round(float(self._cue_cep[c]), 1),
                    cov_en_m2=[[round(float(v), 1) for v in row] for row in self._cue_cov[c]],
                    t_launch=round(float(self._cue_t0[c]), 3),
                    t_last_launch=round(float(self._cue_t1[c]), 3),
                    n_launches=len(tracks),
                )
            )
        return out
