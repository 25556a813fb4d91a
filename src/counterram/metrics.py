"""Scoring: measure the engine's output against truth.

Every score here compares what the engine believed (track positions, predictions, ...)
with what the scenario's truth says happened. Positions are ENU metres in the site frame
(see :mod:`counterram.geo`); times are seconds.

Multi-target tracking accuracy is scored with GOSPA, the generalized optimal sub-pattern
assignment metric with ``alpha = 2``:

    A. S. Rahmathullah, A. F. García-Fernández, L. Svensson, "Generalized optimal
    sub-pattern assignment metric", 20th International Conference on Information Fusion
    (FUSION), Xi'an, 2017. arXiv:1601.05585.

With ``alpha = 2`` the metric splits into a localisation error for the matched targets
and a cost of ``c^p / 2`` for every missed target and every false track, which is the
form reported here (:class:`GospaResult`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["GospaResult", "gospa", "gospa_mean", "gospa_over_time"]


@dataclass(frozen=True)
class GospaResult:
    """GOSPA (``alpha = 2``) between one truth set and one estimate set at one time.

    Attributes:
        distance_m: the GOSPA distance ``d``, metres:
            ``d^p = localisation_m^p + (c^p / 2) * (missed + false)``.
        localisation_m: ``(sum over assigned pairs of |x - y|^p)^(1/p)``, metres; 0 when
            nothing is assigned.
        missed: truths left unassigned (missed targets).
        false: estimates left unassigned (false tracks).
        assignment: the optimal ``(i_truth, j_est)`` pairs, all at a distance below ``c``,
            sorted by truth index.
    """

    distance_m: float
    localisation_m: float
    missed: int
    false: int
    assignment: tuple[tuple[int, int], ...]


def _as_points(a: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.size == 0:
        return arr.reshape(0, arr.shape[-1] if arr.ndim == 2 else 3)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be an (k, 3) array of positions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def _check_params(c: float, p: float, alpha: float) -> None:
    if not (np.isfinite(c) and c > 0.0):
        raise ValueError(f"cut-off c must be a positive finite distance in metres, got {c}")
    if not (np.isfinite(p) and p >= 1.0):
        raise ValueError(f"order p must be finite and >= 1, got {p}")
    if alpha != 2.0:
        raise ValueError(
            f"only alpha = 2 is supported (the missed/false/localisation decomposition), got {alpha}"
        )


def gospa(
    truth_xyz: np.ndarray, est_xyz: np.ndarray, c: float = 100.0, p: float = 2.0, alpha: float = 2.0
) -> GospaResult:
    """GOSPA distance (``alpha = 2``) between truth and estimated positions at one time.

    For a truth set ``X`` (``m`` points) and an estimate set ``Y`` (``n`` points) with the
    Euclidean base distance ``d(x, y) = |x - y|``, cut-off ``c`` and order ``p``,

        d_p^(c,2)(X, Y) = ( min over gamma [ sum_{(i,j) in gamma} d(x_i, y_j)^p
                                              + (c^p / 2) (|X| + |Y| - 2 |gamma|) ] )^(1/p)

    where ``gamma`` ranges over partial one-to-one assignments of truths to estimates;
    ``|X| - |gamma|`` truths are missed and ``|Y| - |gamma|`` estimates are false.  A pair
    at ``d >= c`` never lowers the cost (``d^p >= c^p / 2 + c^p / 2``), so an optimal
    ``gamma`` only holds pairs closer than ``c``.  This is the paper's assignment-set form
    for ``alpha = 2``, equivalent to its defining form (Rahmathullah et al., FUSION 2017,
    Definition 1), for ``m <= n``

        ( min over injections pi [ sum_i min(d(x_i, y_pi(i)), c)^p ] + (c^p / 2)(n - m) )^(1/p)

    and is solved exactly by ``scipy.optimize.linear_sum_assignment`` on the cost matrix
    ``min(d, c)^p``; assigned pairs that land on the cut-off are then left unassigned.

    Special cases: both sets empty gives 0; one set of ``k`` points against an empty set
    gives ``c (k / 2)^(1/p)``.

    Args:
        truth_xyz: (m, 3) truth positions, metres (ENU). An empty array is an empty set.
        est_xyz: (n, 3) estimated positions, metres, same frame.
        c: cut-off distance, metres (> 0).
        p: order, ``1 <= p < inf``.
        alpha: must be 2 (GOSPA is a metric for ``0 < alpha <= 2``; only ``alpha = 2``
            splits into localisation, missed and false terms).

    Returns:
        A :class:`GospaResult`; ``distance_m`` and ``localisation_m`` in metres.

    Raises:
        ValueError: bad parameters, non-finite positions, or sets of different dimension.
    """
    _check_params(c, p, alpha)
    x = _as_points(truth_xyz, "truth_xyz")
    y = _as_points(est_xyz, "est_xyz")
    m, n = len(x), len(y)
    if m and n and x.shape[1] != y.shape[1]:
        raise ValueError(f"truth and estimates differ in dimension: {x.shape[1]} vs {y.shape[1]}")
    cp = c**p

    if m == 0 or n == 0:
        k = m + n
        return GospaResult(
            distance_m=float(c * (k / 2.0) ** (1.0 / p)),
            localisation_m=0.0,
            missed=m,
            false=n,
            assignment=(),
        )

    dist = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=-1)  # (m, n), metres
    cost = np.minimum(dist, c) ** p
    rows, cols = linear_sum_assignment(cost)
    keep = dist[rows, cols] < c
    rows, cols = rows[keep], cols[keep]

    n_assigned = len(rows)
    loc_p = float(np.sum(dist[rows, cols] ** p))
    missed = m - n_assigned
    false = n - n_assigned
    total_p = loc_p + 0.5 * cp * (missed + false)
    return GospaResult(
        distance_m=float(total_p ** (1.0 / p)),
        localisation_m=float(loc_p ** (1.0 / p)),
        missed=missed,
        false=false,
        assignment=tuple((int(i), int(j)) for i, j in zip(rows, cols, strict=True)),
    )


def gospa_over_time(
    times: Sequence[float] | np.ndarray,
    truth_by_time: Sequence[np.ndarray],
    est_by_time: Sequence[np.ndarray],
    c: float = 100.0,
    p: float = 2.0,
    alpha: float = 2.0,
) -> np.ndarray:
    """GOSPA distance (metres) at each time step; see :func:`gospa`.

    Args:
        times: (T,) time of each step, seconds; only its length is used (to check the
            other two sequences line up with it).
        truth_by_time: T arrays of truth positions, each (m_t, 3), metres.
        est_by_time: T arrays of estimated positions, each (n_t, 3), metres.
        c: cut-off, metres.
        p: order.
        alpha: must be 2.

    Returns:
        (T,) array of GOSPA distances, metres.
    """
    t = np.asarray(times, dtype=float).reshape(-1)
    if not (len(t) == len(truth_by_time) == len(est_by_time)):
        raise ValueError(
            f"times, truth_by_time and est_by_time differ in length: "
            f"{len(t)}, {len(truth_by_time)}, {len(est_by_time)}"
        )
    pairs = zip(truth_by_time, est_by_time, strict=True)
    return np.array([gospa(xt, yt, c=c, p=p, alpha=alpha).distance_m for xt, yt in pairs], dtype=float)


def gospa_mean(
    times: Sequence[float] | np.ndarray,
    truth_by_time: Sequence[np.ndarray],
    est_by_time: Sequence[np.ndarray],
    c: float = 100.0,
    p: float = 2.0,
    alpha: float = 2.0,
) -> float:
    """Mean GOSPA distance over the time steps, metres: ``(1/T) sum_t d_t``.

    The plain average over steps (each step weighs the same, whatever the spacing of
    ``times``), as from :func:`gospa_over_time`.

    Raises:
        ValueError: no time steps, or as :func:`gospa_over_time`.
    """
    d = gospa_over_time(times, truth_by_time, est_by_time, c=c, p=p, alpha=alpha)
    if d.size == 0:
        raise ValueError("gospa_mean needs at least one time step")
    return float(np.mean(d))


# --------------------------------------------------------------------------------------------
# Track scoring against truth (simulation)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackScore:
    """Tracking scores of one simulated run.

    ``per_object``: for each truth object, its first plot time, the time its (main) track was
    confirmed, that track's id, and how many confirmed tracks it had. A confirmed track
    belongs to the truth object that gave the majority of its plots; a confirmed track with
    no such object (its plots mostly false alarms) is a false track. ``track_breaks`` counts,
    over objects, the confirmed tracks beyond the first.
    """

    per_object: list[dict]
    tracks_confirmed: int
    false_tracks: int
    track_breaks: int
    gospa_mean_m: float


def track_owners(plot_truth: np.ndarray, plot_track: np.ndarray, track_ids) -> dict[int, int]:
    """Truth row (-1: none) owning each track: the source of the majority of its plots."""
    owners: dict[int, int] = {}
    for tid in track_ids:
        rows = plot_truth[plot_track == tid]
        if rows.size == 0:
            owners[int(tid)] = -1
            continue
        vals, counts = np.unique(rows, return_counts=True)
        owners[int(tid)] = int(vals[np.argmax(counts)])
    return owners


def score_tracks(
    truth,
    plot_t,
    plot_truth,
    plot_track,
    confirmed: dict[int, float],
    gospa_pairs,
    c: float = 100.0,
    p: float = 2.0,
) -> TrackScore:
    """Score one run. ``confirmed`` maps each confirmed track id to its confirmation time;
    ``gospa_pairs`` is a sequence of (truth positions (m, 3), track positions (n, 3)) per
    scoring instant."""
    owners = track_owners(plot_truth, plot_track, confirmed)
    per_object = []
    breaks = 0
    for row, oid in enumerate(truth.ids):
        mine = plot_truth == row
        first = float(plot_t[mine].min()) if mine.any() else None
        tracks = sorted((t for t, o in owners.items() if o == row), key=lambda t: confirmed[t])
        # the main track: the one that took most of the object's plots
        main = None
        if tracks:
            main = max(tracks, key=lambda t: int(np.sum(mine & (plot_track == t))))
        breaks += max(0, len(tracks) - 1)
        per_object.append(
            {
                "object": oid,
                "kind": truth.kinds[row],
                "first_plot_t": first,
                "confirmed_t": confirmed[main] if main is not None else None,
                "track": main,
                "tracks": len(tracks),
                "plots": int(mine.sum()),
                "plots_on_track": int(np.sum(mine & (plot_track == main))) if main is not None else 0,
            }
        )
    false_tracks = sum(1 for o in owners.values() if o < 0)
    g = [gospa(tp, ep, c=c, p=p).distance_m for tp, ep in gospa_pairs]
    return TrackScore(
        per_object, len(confirmed), false_tracks, breaks, float(np.mean(g)) if g else float("nan")
    )


# --------------------------------------------------------------------------------------------
# Warning and prediction scoring (simulation)
# --------------------------------------------------------------------------------------------


def warning_intervals(events, zone_ids) -> dict[str, list[list[float]]]:
    """Each zone's warning cycles [t_warned, t_all_clear) from the event stream (all-clear
    missing: still open, +inf)."""
    out: dict[str, list[list[float]]] = {z: [] for z in zone_ids}
    for e in sorted(events, key=lambda e: e.t):
        if e.kind == "zone_warned" and not e.extends:
            out[e.zone].append([e.t, np.inf])
        elif e.kind == "all_clear" and out.get(e.zone) and out[e.zone][-1][1] == np.inf:
            out[e.zone][-1][1] = e.t
    return out


def zones_hit(points_en, zone_polys, radii) -> list[list[int]]:
    """For each impact point (M, 2), the indices of the zones it endangers: inside the zone
    grown by that impact's lethal radius ``radii`` (M,)."""
    import shapely

    hits: list[list[int]] = [[] for _ in range(len(points_en))]
    for j, poly in enumerate(zone_polys):
        d = shapely.distance(poly, shapely.points(np.asarray(points_en, float)))
        for i in np.flatnonzero(d <= np.asarray(radii)):
            hits[i].append(j)
    return hits


@dataclass(frozen=True)
class WarnScore:
    """Warning and prediction scores of one run (keys of summary.json)."""

    per_impact: list[dict]
    impacts_in_zones: int
    missed_warnings: int
    over_warnings: int
    warning_cycles: int
    lead_time_s: dict
    lead_time_ratio_median: float
    ipp_error_m: dict
    poo_error_m: dict
    ipp_rmse_over_crlb: float
    non_ballistic_warnings: int


def _median(xs):
    xs = [x for x in xs if x is not None and np.isfinite(x)]
    return float(np.median(xs)) if xs else None


def _poo(imp: dict, predictions: dict) -> float | None:
    """Horizontal error (m) of the last origin estimate of an impact's main track."""
    tr = imp.get("track")
    if tr is None:
        return None
    sel = np.flatnonzero(predictions["track"] == tr)
    ok = sel[np.isfinite(predictions["origin_enu"][sel, 0])]
    if ok.size == 0:
        return None
    return round(float(np.hypot(*(predictions["origin_enu"][ok[-1], 0:2] - imp["launch_en"]))), 2)


def score_warnings(
    *,
    impacts: list[dict],
    zone_ids: list[str],
    zone_polys,
    events,
    predictions: dict[str, np.ndarray],
    non_ballistic_tracks: set[int],
    crlb_rms: dict[str, float] | None = None,
) -> WarnScore:
    """Score warnings and predictions against truth.

    ``impacts``: one dict per truth round with ``object``, ``t_impact``, ``impact_en`` (2,),
    ``launch_en`` (2,), ``lethal_radius_m``, ``track`` (its main track id or None) and
    ``t_confirm_min`` (the earliest time a track could have been confirmed), optionally
    ``t_destroyed`` (destroyed in flight: it hits nothing, and the warning cycles it would
    have hit during its flight are not over-warnings). ``predictions``:
    the engine's prediction log arrays (t, track, impact_enu, origin_enu, ...).

    A zone is hit when an impact lies within the zone grown by the round's lethal radius. It
    was warned if a warning cycle of that zone covered the impact time; its lead time runs
    from the cycle's start to the impact (what the people in the zone got). The lead-time
    ratio compares the round's own lead (from the first warning its own track gave each zone
    it hit, the smallest over those zones) with the physical maximum, impact time less
    ``t_confirm_min``: a zone already warned by an earlier round does not count for this one.
    Over-warnings: warning cycles during which no round hit the zone. IPP errors: horizontal
    distance of the main track's latest prediction made at least 20, 10 and 5 s before impact,
    and of its last prediction; POO: its last origin.
    """
    intervals = warning_intervals(events, zone_ids)
    hit = (
        zones_hit(
            np.array([i["impact_en"] for i in impacts]).reshape(-1, 2),
            zone_polys,
            [i["lethal_radius_m"] for i in impacts],
        )
        if impacts
        else []
    )
    first_warn: dict[tuple[str, int], float] = {}
    for e in sorted(events, key=lambda e: e.t):
        if e.kind == "zone_warned":
            for tr in e.tracks:
                first_warn.setdefault((e.zone, tr), e.t)
    per = []
    cycles_hit: set[tuple[str, int]] = set()
    for imp, zones in zip(impacts, hit, strict=True):
        t_imp = imp["t_impact"]
        t_kill = imp.get("t_destroyed")
        if t_kill is not None:  # destroyed in flight: it hit nothing; the warnings it caused stood
            for j in zones:
                for c, (a, b) in enumerate(intervals[zone_ids[j]]):
                    if a <= t_kill < b + 1e-9:
                        cycles_hit.add((zone_ids[j], c))
            per.append(
                {
                    "object": imp["object"],
                    "destroyed": True,
                    "t_destroyed": round(t_kill, 2),
                    "would_hit": [zone_ids[j] for j in zones],
                    "zones_hit": [],
                    "warned": [],
                    "missed": [],
                    "lead_time_s": None,
                    "own_lead_time_s": None,
                    "max_lead_time_s": None,
                    "lead_time_ratio": None,
                    **{f"ipp_{lab}_m": None for lab in ("t-20", "t-10", "t-5", "last")},
                    "poo_m": _poo(imp, predictions),
                }
            )
            continue
        warned, leads = [], []
        for j in zones:
            zid = zone_ids[j]
            for c, (a, b) in enumerate(intervals[zid]):
                if a <= t_imp < b + 1e-9:
                    warned.append(zid)
                    leads.append(t_imp - a)
                    cycles_hit.add((zid, c))
                    break
        missed = [zone_ids[j] for j in zones if zone_ids[j] not in warned]
        max_lead = t_imp - imp["t_confirm_min"] if imp.get("t_confirm_min") is not None else None
        lead = min(leads) if leads else None
        # the round's own track: when it first warned each zone it hit (a zone already warned
        # by an earlier round gives people more time than this round's physics allows)
        own = [
            t_imp - first_warn[(zid, imp["track"])]
            for zid in warned
            if (zid, imp.get("track")) in first_warn and first_warn[(zid, imp["track"])] <= t_imp
        ]
        own_lead = min(own) if len(own) == len(warned) and own else None
        rec = {
            "object": imp["object"],
            "t_impact": round(t_imp, 2),
            "zones_hit": [zone_ids[j] for j in zones],
            "warned": warned,
            "missed": missed,
            "lead_time_s": None if lead is None else round(lead, 2),
            "own_lead_time_s": None if own_lead is None else round(own_lead, 2),
            "max_lead_time_s": None if max_lead is None else round(max_lead, 2),
            "lead_time_ratio": None if (own_lead is None or not max_lead) else round(own_lead / max_lead, 3),
        }
        # prediction errors of the main track
        tr = imp.get("track")
        sel = predictions["track"] == tr if tr is not None else np.zeros(predictions["t"].size, bool)
        tp = predictions["t"][sel]
        for label, before in (("t-20", 20.0), ("t-10", 10.0), ("t-5", 5.0), ("last", 0.0)):
            ok = tp <= t_imp - before
            if ok.any():
                k = np.flatnonzero(sel)[np.flatnonzero(ok)[-1]]
                rec[f"ipp_{label}_m"] = round(
                    float(np.hypot(*(predictions["impact_enu"][k, 0:2] - imp["impact_en"]))), 2
                )
            else:
                rec[f"ipp_{label}_m"] = None
        rec["poo_m"] = _poo(imp, predictions)
        if sel.any():
            k = np.flatnonzero(sel)[-1]
            rec["launch_t_error_s"] = round(
                float(predictions["t_launch"][k] - imp.get("t_launch", np.nan)), 2
            )
        if crlb_rms is not None:
            rec["crlb_t-10_m"] = crlb_rms.get(imp["object"])
        per.append(rec)
    cycles = [(z, c) for z in zone_ids for c in range(len(intervals[z]))]
    over = sum(1 for zc in cycles if zc not in cycles_hit)
    nb = sum(1 for e in events if e.kind == "zone_warned" and set(e.tracks) & non_ballistic_tracks)
    leads = [p["lead_time_s"] for p in per if p["lead_time_s"] is not None]
    ratios = [p["lead_time_ratio"] for p in per if p["lead_time_ratio"] is not None]
    ipp = {lab: _median([p[f"ipp_{lab}_m"] for p in per]) for lab in ("t-20", "t-10", "t-5", "last")}
    e10 = np.array([p["ipp_t-10_m"] for p in per if p["ipp_t-10_m"] is not None and p.get("crlb_t-10_m")])
    b10 = np.array([p["crlb_t-10_m"] for p in per if p["ipp_t-10_m"] is not None and p.get("crlb_t-10_m")])
    ratio_crlb = float(np.sqrt(np.mean(e10**2)) / np.sqrt(np.mean(b10**2))) if e10.size else float("nan")
    return WarnScore(
        per_impact=per,
        impacts_in_zones=sum(1 for p in per if p["zones_hit"]),
        missed_warnings=sum(len(p["missed"]) for p in per),
        over_warnings=over,
        warning_cycles=len(cycles),
        lead_time_s={"median": _median(leads), "min": min(leads) if leads else None},
        lead_time_ratio_median=_median(ratios),
        ipp_error_m=ipp,
        poo_error_m={"median": _median([p["poo_m"] for p in per])},
        ipp_rmse_over_crlb=ratio_crlb,
        non_ballistic_warnings=nb,
    )


# --------------------------------------------------------------------------------------------
# Engagement and counter-battery scoring (simulation)
# --------------------------------------------------------------------------------------------


def score_engagements(
    *,
    threats: list[dict],
    events,
    defended: set[str],
    launchers: set[str],
    site,
) -> dict:
    """Score engagements and counter-battery cues against truth.

    ``threats``: one dict per truth round with ``object``, ``tracks`` (every track whose
    plots came mostly from it), ``would_hit`` (zone ids its flight would have hit, lethal
    radius included, whether or not it was destroyed), ``destroyed`` (bool) and
    ``launch_en`` (2,). ``defended``: ids of defended zones; ``launchers``: ids of the
    interceptor launchers (the other effectors are guns); ``site``: the
    :class:`~counterram.geo.Site` (cue positions come as lat/lon).

    engaged: rounds engaged at least once; destroyed: rounds destroyed; leakers: rounds that
    landed in a defended zone; let_go: rounds bound for no defended zone that were never
    engaged; wasted: engagements (shots) of rounds bound for no defended zone, and of tracks
    that follow no round (false tracks); rounds_fired / interceptors_fired: what the guns
    and launchers spent; shots_drawn / kills / pk_sum / pk_var_sum: the shots decided by a
    draw, the kills among them, the sum of their kill probabilities (the expected kills) and
    of pk (1 - pk) (the variance of the kill count, a Poisson-binomial); cue_error_m:
    each counter-battery cue's last position against the mean truth launch point of the
    rounds its tracks follow (median over cues).
    """
    owner = {tr: k for k, th in enumerate(threats) for tr in th["tracks"]}
    engaged_rounds: set[int] = set()
    wasted = rounds_fired = interceptors_fired = 0
    pk_of: dict[int, float] = {}
    for e in events:
        if e.kind != "engaged":
            continue
        k = owner.get(e.track)
        pk_of[e.shot] = e.pk
        if e.effector in launchers:
            interceptors_fired += e.rounds
        else:
            rounds_fired += e.rounds
        if k is None or not (set(threats[k]["would_hit"]) & defended):
            wasted += 1
        if k is not None:
            engaged_rounds.add(k)
    drawn = [e for e in events if e.kind == "intercept_assessed" and e.basis == "drawn"]
    bound = [bool(set(th["would_hit"]) & defended) for th in threats]
    cues: dict[str, object] = {}
    for e in events:
        if e.kind == "counter_battery_cue":
            cues[e.cue] = e
    cue_err = []
    for e in cues.values():
        ks = sorted({owner[t] for t in e.tracks if t in owner})
        if not ks:
            continue
        truth_en = np.mean([threats[k]["launch_en"] for k in ks], axis=0)
        cue_en = np.asarray(site.to_enu(e.lat, e.lon, e.alt_m), float)[0:2]
        cue_err.append(float(np.hypot(*(cue_en - truth_en))))
    return {
        "engaged": len(engaged_rounds),
        "destroyed": sum(1 for th in threats if th["destroyed"]),
        "leakers": sum(1 for th, b in zip(threats, bound, strict=True) if b and not th["destroyed"]),
        "let_go": sum(1 for k, b in enumerate(bound) if not b and k not in engaged_rounds),
        "wasted": wasted,
        "rounds_fired": rounds_fired,
        "interceptors_fired": interceptors_fired,
        "shots_drawn": len(drawn),
        "kills": sum(1 for e in drawn if e.killed),
        "pk_sum": round(sum(pk_of.get(e.shot, 0.0) for e in drawn), 4),
        "pk_var_sum": round(sum(pk_of.get(e.shot, 0.0) * (1 - pk_of.get(e.shot, 0.0)) for e in drawn), 4),
        "cues": len(cues),
        "cue_error_m": {"median": _median(cue_err)},
    }
