"""Association: spatial pre-gate, chi-square gate and global-nearest-neighbour assignment.

1. Pre-gate: a k-d tree over the plots' positions returns, for every track, the plots within
   a radius that covers its uncertainty, the measurement noise and its motion across the
   batch's time span (``scipy.spatial.cKDTree``).
2. Gate: each candidate pair's squared Mahalanobis distance d^2 = nu^T S^-1 nu against the
   chi-square quantile for the pair's measurement dimension.
3. Assignment: cost of giving plot j to track i is the negative log likelihood ratio
       c_ij = -ln( Pd N(nu_ij; 0, S_ij) / ((1 - Pd) lambda) )
   against the explicit cost 0 of calling the track missed and the plot clutter or new
   (lambda: clutter density in measurement space). The gated pairs form a sparse bipartite
   graph; each connected cluster is solved on its own with
   ``scipy.optimize.linear_sum_assignment`` on [costs | missed-detection diagonal], so a
   salvo's clusters stay small and isolated tracks cost nothing.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.stats import chi2


def pregate_pairs(track_pos, track_radius, plot_pos):
    """Candidate (track, plot) index pairs with |track_pos - plot_pos| <= track_radius."""
    if len(track_pos) == 0 or len(plot_pos) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    plots = cKDTree(plot_pos)
    tracks = cKDTree(track_pos)
    sdm = tracks.sparse_distance_matrix(plots, float(np.max(track_radius)), output_type="ndarray")
    keep = sdm["v"] <= track_radius[sdm["i"]]
    return sdm["i"][keep].astype(int), sdm["j"][keep].astype(int)


def pregate_pairs_los(track_pos, track_radius_rad, plot_pos, plot_sensor, sensor_pos):
    """Candidate pairs by line of sight: for each sensor, the plots whose direction from the
    sensor lies within ``track_radius_rad`` of the track's direction (any range).

    Lets a track keep plots whose range is wrong but whose angles are right (a tracking
    radar's range gate walking off) without widening the position pre-gate for everyone.
    """
    out_i, out_j = [np.zeros(0, int)], [np.zeros(0, int)]
    if len(track_pos) == 0 or len(plot_pos) == 0:
        return out_i[0], out_j[0]
    for s in np.unique(plot_sensor):
        js = np.flatnonzero(plot_sensor == s)
        d_plot = plot_pos[js] - sensor_pos[s]
        d_plot /= np.linalg.norm(d_plot, axis=1, keepdims=True)
        d_track = track_pos - sensor_pos[s]
        d_track /= np.linalg.norm(d_track, axis=1, keepdims=True)
        chord = 2.0 * np.sin(np.minimum(track_radius_rad, np.pi) / 2.0)
        sdm = cKDTree(d_track).sparse_distance_matrix(
            cKDTree(d_plot), float(chord.max()), output_type="ndarray"
        )
        keep = sdm["v"] <= chord[sdm["i"]]
        out_i.append(sdm["i"][keep].astype(int))
        out_j.append(js[sdm["j"][keep]])
    return np.concatenate(out_i), np.concatenate(out_j)


def union_pairs(ti_a, pj_a, ti_b, pj_b, n_plots: int):
    """The union of two candidate pair lists, without duplicates."""
    key = np.unique(np.concatenate([ti_a * n_plots + pj_a, ti_b * n_plots + pj_b]))
    return key // n_plots, key % n_plots


@lru_cache(maxsize=32)
def _chi2_quantiles(gate_prob: float) -> np.ndarray:
    return chi2.ppf(gate_prob, np.arange(0, 8))


def gate_threshold(dof, gate_prob: float):
    """Chi-square quantile for each pair's degrees of freedom (looked up, not recomputed)."""
    return _chi2_quantiles(float(gate_prob))[np.asarray(dof)]


def assign(n_tracks: int, n_plots: int, ti, pj, cost):
    """Global nearest neighbour over gated pairs (ti, pj) with costs (negative: worth assigning).

    Returns the indices into the pair arrays that are assigned (each track and each plot at
    most once), minimising the summed cost with "missed / clutter" at cost 0.
    """
    if ti.size == 0:
        return np.zeros(0, int)
    useful = cost < 0.0
    ti, pj, cost, pair_idx = ti[useful], pj[useful], cost[useful], np.flatnonzero(useful)
    if ti.size == 0:
        return np.zeros(0, int)
    # clusters: connected components of the bipartite graph tracks + plots
    g = coo_matrix((np.ones(ti.size), (ti, n_tracks + pj)), shape=(n_tracks + n_plots,) * 2)
    _, label = connected_components(g, directed=False)
    comp = label[ti]
    order = np.argsort(comp, kind="stable")
    comp_sorted = comp[order]
    starts = np.flatnonzero(np.r_[True, comp_sorted[1:] != comp_sorted[:-1]])
    ends = np.r_[starts[1:], comp_sorted.size]
    sizes = ends - starts
    chosen = [pair_idx[order[starts[sizes == 1]]]]  # single-pair clusters: take them
    for s, e in zip(starts[sizes > 1], ends[sizes > 1], strict=True):
        members = order[s:e]
        rows, r_inv = np.unique(ti[members], return_inverse=True)
        cols, c_inv = np.unique(pj[members], return_inverse=True)
        nr, nc = rows.size, cols.size
        big = 1e12
        mat = np.full((nr, nc + nr), big)
        mat[r_inv, c_inv] = cost[members]
        mat[np.arange(nr), nc + np.arange(nr)] = 0.0  # missed detection
        r, c = linear_sum_assignment(mat)
        real = c < nc
        lookup = {(a, b): m for a, b, m in zip(r_inv, c_inv, members, strict=True)}
        chosen.append(
            np.array([pair_idx[lookup[(a, b)]] for a, b in zip(r[real], c[real], strict=True)], int)
        )
    return np.concatenate(chosen) if chosen else np.zeros(0, int)
