"""Figures of a simulated run: a plan-view map and a timeline (matplotlib, Agg, no display).

``map_png`` draws the site in east/north kilometres about the site origin: the zones filled
by their warning outcome, the radars, the truth paths, the confirmed tracks, the final
impact and origin predictions with their 95 % ellipses, and the truth impact and launch
points. Its large right panel zooms on the zones that were warned or hit (and also draws each
track's impact prediction made 10 s before impact); on the left, one panel shows the whole
geometry (launch sites, air traffic) and one the launch area (truth launch points and
estimated origins).

``timeline_png`` draws time across: one row per threat round (launch, first plot,
confirmation, warned lead time, impact) and one row per warned or hit zone (warning cycles
from the warning to the all-clear, the impacts).

Both take ``extras``: a dict of further layers, for items that later stages add (effector
envelopes, intercepts, counter-battery cues, engagements). A key registered in
:data:`MAP_LAYERS` / :data:`TIMELINE_LAYERS` has its value drawn by that layer's painter; a
callable value is called as ``value(axes, run)`` with the dict of named axes. A layer's
labelled artists join the legend.

``map_figure`` and ``timeline_figure`` return the figure (on the Agg canvas, outside pyplot:
nothing to close) and its named axes, for tests and for callers that add their own artists;
the ``*_png`` functions write it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse, Patch, Rectangle
from matplotlib.patches import Polygon as MplPolygon
from scipy.stats import chi2

from .events import TrackConfirmed, ZoneWarned
from .metrics import track_owners, warning_intervals
from .tracking.classify import is_ballistic

__all__ = [
    "MAP_LAYERS",
    "TIMELINE_LAYERS",
    "ZONE_COLOURS",
    "map_figure",
    "map_png",
    "timeline_figure",
    "timeline_png",
    "zone_states",
]

#: dots per inch of the saved figures
DPI = 100
#: the map's size in inches (1800 x 1000 pixels at DPI)
MAP_SIZE_IN = (18.0, 10.0)
#: the timeline's width in inches (its height grows with its rows)
TIMELINE_WIDTH_IN = 14.0
#: scale of a 2-D normal's 95 % ellipse in standard deviations: sqrt(chi2_2(0.95)) = 2.448
ELLIPSE_K = float(np.sqrt(chi2.ppf(0.95, 2)))

#: zone fill by outcome over the whole run (opaque, so that a pixel's colour is the state's)
ZONE_COLOURS = {
    "warned_hit": "#e0503a",  # warned, and a round fell in it while warned
    "over": "#f9ad52",  # warned, nothing fell in it (over-warning)
    "missed": "#7a0d0d",  # a round fell in it, no warning covered the impact (hatched)
    "quiet": "#dfe5da",  # never warned, never hit
}
ZONE_LABELS = {
    "warned_hit": "zone warned and hit",
    "over": "zone warned, not hit (over-warning)",
    "missed": "zone hit, not warned (missed)",
    "quiet": "zone quiet",
}
C_THREAT_TRUTH = "#6f6f6f"
C_TRAFFIC_TRUTH = "#303030"
C_BALLISTIC = "#1d4fa8"
C_OTHER = "#14936b"
C_ORIGIN = "#7b2f9e"
C_RADAR = "#0a2a5c"

KM = 1e-3  # metres -> kilometres

#: painters of optional map layers: name -> f(axes: dict[str, Axes], run, value)
MAP_LAYERS: dict[str, Callable[[dict[str, Axes], Any, Any], None]] = {}
#: painters of optional timeline layers: name -> f(axes: dict[str, Axes], run, value)
TIMELINE_LAYERS: dict[str, Callable[[dict[str, Axes], Any, Any], None]] = {}


# --------------------------------------------------------------------------------------------
# what happened, from the run and its score
# --------------------------------------------------------------------------------------------


def zone_states(run, score) -> dict[str, str]:
    """Each zone's outcome over the run: ``warned_hit`` (every round that fell in it fell while
    it was warned), ``missed`` (some round fell in it unwarned), ``over`` (warned, nothing fell
    in it) or ``quiet``."""
    cycles = warning_intervals(run.events, [z.id for z in run.zones])
    hit: set[str] = set()
    missed: set[str] = set()
    for rec in score.per_impact:
        hit.update(rec["zones_hit"])
        hit.update(rec.get("would_hit", []))  # a round destroyed on its way: the warning stood
        missed.update(rec["missed"])
    out = {}
    for z in run.zones:
        if z.id in missed:
            out[z.id] = "missed"
        elif z.id in hit:
            out[z.id] = "warned_hit"
        elif cycles.get(z.id):
            out[z.id] = "over"
        else:
            out[z.id] = "quiet"
    return out


@dataclass
class _Threat:
    row: int
    id: str
    munition: str
    t_launch: float
    t_impact: float
    t_first_plot: float | None
    t_confirm: float | None
    track: int | None
    launch_en: np.ndarray
    impact_en: np.ndarray  # where it fell, or where it was destroyed
    rec: dict  # the score's per-impact record
    destroyed: bool = False


def _threats(run, score) -> list[_Threat]:
    truth = run.truth
    t, _, truth_row, track = run.plots.arrays()
    confirmed = {e.track: e.t for e in run.events if isinstance(e, TrackConfirmed)}
    owners = track_owners(truth_row, track, confirmed)
    recs = {r["object"]: r for r in score.per_impact}
    killed = getattr(run, "destroyed_t_s", None)
    out = []
    for i in range(truth.n_threats):
        mine = truth_row == i
        t_kill = float(killed[i]) if killed is not None and np.isfinite(killed[i]) else None
        end_en = truth.end_enu_m[i, 0:2]
        if t_kill is not None:
            end_en = truth.state_at(np.array([t_kill]), np.array([i]))[0][0, 0:2]
        mains = [tid for tid, row in owners.items() if row == i]
        main = max(mains, key=lambda tid: int(np.sum(mine & (track == tid)))) if mains else None
        out.append(
            _Threat(
                row=i,
                id=truth.ids[i],
                munition=truth.munitions[i] or truth.kinds[i],
                t_launch=float(truth.start_t_s[i]),
                t_impact=float(truth.end_t_s[i]) if t_kill is None else t_kill,
                t_first_plot=float(t[mine].min()) if mine.any() else None,
                t_confirm=confirmed.get(main) if main is not None else None,
                track=main,
                launch_en=truth.start_enu_m[i, 0:2],
                impact_en=end_en,
                rec=recs.get(truth.ids[i], {}),
                destroyed=t_kill is not None,
            )
        )
    return out


def _predictions(run, lead_s: float | None = None) -> dict[int, dict[str, np.ndarray]]:
    """Each predicted track's last prediction or, with ``lead_s``, its last one made at least
    ``lead_s`` seconds before the impact time its last prediction gives (tracks with none that
    early are left out)."""
    p = run.predictions.arrays()
    out = {}
    for tid in np.unique(p["track"]):
        rows = np.flatnonzero(p["track"] == tid)
        if lead_s is not None:
            rows = rows[p["t"][rows] <= p["t_impact"][rows[-1]] - lead_s]
            if rows.size == 0:
                continue
        out[int(tid)] = {name: p[name][rows[-1]] for name in p}
    return out


def _track_paths(run) -> dict[int, tuple[np.ndarray, str]]:
    """East/north path (K, 2) of every confirmed track from the snapshots, and its last class."""
    pts: dict[int, list[np.ndarray]] = {}
    cls: dict[int, str] = {}
    for _, view in run.snapshots:
        for k in range(len(view)):
            tid = int(view.id[k])
            pts.setdefault(tid, []).append(view.x[k, 0:2])
            cls[tid] = str(view.cls[k])
    fin = run.final_tracks
    for k in range(len(fin)):  # the tail after the last snapshot
        tid = int(fin.id[k])
        pts.setdefault(tid, []).append(fin.x[k, 0:2])
        cls[tid] = str(fin.cls[k])
    return {tid: (np.array(p), cls[tid]) for tid, p in pts.items()}


def _truth_path(truth, row: int) -> np.ndarray:
    """East/north path (K, 2) of a truth object."""
    if row < truth.n_threats:
        s = truth.samples[row, :, 0:2]
        return np.vstack([s[~np.isnan(s[:, 0])], truth.end_enu_m[row, 0:2]])
    return truth.paths[row - truth.n_threats].points_enu_m[:, 0:2]


# --------------------------------------------------------------------------------------------
# drawing helpers
# --------------------------------------------------------------------------------------------


def _new_figure(size_in) -> Figure:
    """A figure on the Agg canvas, outside pyplot (no display, no global state to close)."""
    fig = Figure(figsize=size_in, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _ellipse(ax: Axes, mean_en, cov, **kw) -> Ellipse | None:
    """The 95 % ellipse of N(mean, cov) (metres) in km; None when cov is not usable."""
    cov = np.asarray(cov, float)
    if not np.all(np.isfinite(cov)):
        return None
    w, v = np.linalg.eigh(0.5 * (cov + cov.T))
    w = np.clip(w, 0.0, None)
    angle = float(np.degrees(np.arctan2(v[1, 1], v[0, 1])))
    e = Ellipse(
        (mean_en[0] * KM, mean_en[1] * KM),
        2 * ELLIPSE_K * np.sqrt(w[1]) * KM,
        2 * ELLIPSE_K * np.sqrt(w[0]) * KM,
        angle=angle,
        **kw,
    )
    ax.add_patch(e)
    return e


def _ellipse_extent(mean_en, cov) -> np.ndarray:
    """Corners (2, 2) of the box around a 95 % ellipse (metres)."""
    cov = np.asarray(cov, float)
    half = ELLIPSE_K * np.sqrt(np.clip(np.diag(cov), 0.0, None)) if np.all(np.isfinite(cov)) else 0.0
    return np.array([mean_en[0:2] - half, mean_en[0:2] + half])


def _box(points_m: np.ndarray, pad_frac: float = 0.06, min_size_m: float = 500.0) -> np.ndarray:
    """[[e0, n0], [e1, n1]] around points (metres), padded, at least ``min_size_m`` a side."""
    p = np.asarray(points_m, float).reshape(-1, 2)
    p = p[np.all(np.isfinite(p), axis=1)]
    lo, hi = p.min(axis=0), p.max(axis=0)
    mid, half = (lo + hi) / 2, np.maximum((hi - lo) / 2 * (1 + pad_frac), min_size_m / 2)
    return np.array([mid - half, mid + half])


def _set_view(ax: Axes, box_m: np.ndarray) -> None:
    """Show ``box_m`` (metres) at equal scale, growing its short side to the axes' shape."""
    fig = ax.get_figure()
    bb = ax.get_position()
    w_in, h_in = bb.width * fig.get_figwidth(), bb.height * fig.get_figheight()
    mid = box_m.mean(axis=0) * KM
    half = (box_m[1] - box_m[0]) / 2 * KM
    scale = max(half[0] / w_in, half[1] / h_in)  # km per inch
    ax.set_xlim(mid[0] - scale * w_in, mid[0] + scale * w_in)
    ax.set_ylim(mid[1] - scale * h_in, mid[1] + scale * h_in)
    ax.set_aspect("equal", adjustable="box")


def _label_point(poly: shapely.Polygon, obstacles_m: np.ndarray) -> tuple[float, float]:
    """A point inside ``poly`` (metres) for its label: as far from ``obstacles_m`` (K, 2) as
    possible up to a quarter of the zone's size, then as central as possible."""
    rep = poly.representative_point()
    e0, n0, e1, n1 = poly.bounds
    ge, gn = np.meshgrid(np.linspace(e0, e1, 13)[1:-1], np.linspace(n0, n1, 13)[1:-1])
    cand = np.vstack([[rep.x, rep.y], np.c_[ge.ravel(), gn.ravel()]])
    inner = poly.buffer(-0.12 * min(e1 - e0, n1 - n0))
    cand = cand[shapely.contains_xy(inner if not inner.is_empty else poly, cand[:, 0], cand[:, 1])]
    if cand.size == 0 or obstacles_m.size == 0:
        return rep.x, rep.y
    cap = 0.25 * min(e1 - e0, n1 - n0)
    clear = np.min(np.linalg.norm(cand[:, None, :] - obstacles_m[None, :, :], axis=-1), axis=1)
    score = np.minimum(clear, cap) - 1e-3 * np.hypot(cand[:, 0] - rep.x, cand[:, 1] - rep.y)
    k = int(np.argmax(score))
    return float(cand[k, 0]), float(cand[k, 1])


def _draw_zones(
    ax: Axes, run, states: dict[str, str], labels: set[str], fontsize: float, obstacles_m=None, boxed=False
) -> None:
    obstacles_m = np.zeros((0, 2)) if obstacles_m is None else np.asarray(obstacles_m, float).reshape(-1, 2)
    for z in run.zones:
        st = states[z.id]
        xy = np.asarray(z.polygon.exterior.coords) * KM
        ax.add_patch(MplPolygon(xy, closed=True, facecolor=ZONE_COLOURS[st], edgecolor="none", zorder=1))
        if st == "missed":
            ax.add_patch(
                MplPolygon(
                    xy, closed=True, facecolor="none", edgecolor="#f4b6ae", hatch="///", lw=0, zorder=1.1
                )
            )
        ax.add_patch(
            MplPolygon(
                xy,
                closed=True,
                facecolor="none",
                edgecolor="#3a3a3a",
                lw=1.0 if z.defended else 0.7,
                ls="-" if z.defended else (0, (4, 2)),
                zorder=1.2,
            )
        )
        if z.id in labels:
            le, ln = _label_point(z.polygon, obstacles_m)
            ax.text(
                le * KM,
                ln * KM,
                z.id,
                fontsize=fontsize,
                ha="center",
                va="center",
                color="white" if st == "missed" else "#1a1a1a",
                zorder=6,
                clip_on=True,
                bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 1.0} if boxed else None,
            )


def _draw_layers(
    ax: Axes, run, threats, preds, early, paths, *, lw: float = 1.0, ms: float = 1.0, lead_s=None
) -> None:
    """Truth paths, tracks, radars, predictions (``preds`` last, ``early`` made ``lead_s``
    before impact) and truth impact and launch points, in km."""
    truth = run.truth
    for i in range(truth.n_threats):
        p = _truth_path(truth, i) * KM
        ax.plot(p[:, 0], p[:, 1], color=C_THREAT_TRUTH, lw=0.8, zorder=2, label="threat round (truth path)")
    for row in range(truth.n_threats, len(truth.ids)):
        p = _truth_path(truth, row) * KM
        ax.plot(
            p[:, 0],
            p[:, 1],
            color=C_TRAFFIC_TRUTH,
            lw=1.0,
            ls=(0, (5, 3)),
            zorder=2,
            label="air traffic (truth)",
        )
    for _, (p, cls) in sorted(paths.items()):
        bal = bool(is_ballistic([cls])[0])
        ax.plot(
            p[:, 0] * KM,
            p[:, 1] * KM,
            color=C_BALLISTIC if bal else C_OTHER,
            lw=1.5 * lw,
            alpha=0.8,
            zorder=3,
            solid_capstyle="round",
            label="confirmed track, ballistic" if bal else "confirmed track, not ballistic",
        )
    for r in run.radars:
        e, n = r.position_enu_m[0:2] * KM
        ax.plot(
            e, n, ls="none", marker="s", ms=8 * ms, mfc=C_RADAR, mec="white", mew=1.2, zorder=8, label="radar"
        )
    for pr in early.values():
        _ellipse(
            ax,
            pr["impact_enu"],
            pr["impact_cov"],
            fc=C_BALLISTIC,
            alpha=0.10,
            ec="none",
            zorder=4,
        )
        _ellipse(
            ax,
            pr["impact_enu"],
            pr["impact_cov"],
            fc="none",
            ec=C_BALLISTIC,
            lw=0.9 * lw,
            ls=(0, (3, 2)),
            zorder=4,
            label=f"predicted impact {lead_s:g} s before, 95 % ellipse",
        )
    for pr in preds.values():
        _ellipse(ax, pr["impact_enu"], pr["impact_cov"], fc="none", ec=C_BALLISTIC, lw=1.2 * lw, zorder=5)
        ax.plot(
            pr["impact_enu"][0] * KM,
            pr["impact_enu"][1] * KM,
            ls="none",
            marker="o",
            ms=11 * ms,
            mfc="none",
            mec=C_BALLISTIC,
            mew=1.5,
            zorder=6,
            label="predicted impact, last (ring), 95 % ellipse",
        )
        _ellipse(ax, pr["origin_enu"], pr["origin_cov"], fc=C_ORIGIN, alpha=0.08, ec="none", zorder=4)
        _ellipse(ax, pr["origin_enu"], pr["origin_cov"], fc="none", ec=C_ORIGIN, lw=lw, zorder=4)
        ax.plot(
            pr["origin_enu"][0] * KM,
            pr["origin_enu"][1] * KM,
            ls="none",
            marker="D",
            ms=6 * ms,
            mfc="none",
            mec=C_ORIGIN,
            mew=1.4,
            zorder=5,
            label="estimated origin, last, 95 % ellipse",
        )
    for th in threats:
        ax.plot(
            th.impact_en[0] * KM,
            th.impact_en[1] * KM,
            ls="none",
            marker="x",
            ms=6 * ms,
            mew=1.6,
            color="black",
            zorder=7,
            label="truth impact",
        )
        ax.plot(
            th.launch_en[0] * KM,
            th.launch_en[1] * KM,
            ls="none",
            marker="^",
            ms=6 * ms,
            mfc="black",
            mec="white",
            mew=0.6,
            zorder=7,
            label="truth launch point",
        )


def _axes_style(ax: Axes, title: str, fontsize: float = 10) -> None:
    ax.set_title(title, fontsize=fontsize + 1, loc="left")
    ax.set_xlabel("east of site origin (km)", fontsize=fontsize)
    ax.set_ylabel("north of site origin (km)", fontsize=fontsize)
    ax.tick_params(labelsize=fontsize - 1)
    ax.grid(True, color="#cccccc", lw=0.5, zorder=0)
    ax.set_axisbelow(True)
    ax.set_facecolor("white")


def _apply_extras(registry: dict, axes: dict[str, Axes], run, extras: dict | None) -> None:
    for name, value in (extras or {}).items():
        if name in registry:
            registry[name](axes, run, value)
        elif callable(value):
            value(axes, run)
        else:
            known = ", ".join(sorted(registry)) or "none yet"
            raise ValueError(f"unknown figure layer {name!r} (known layers: {known}; or pass a callable)")


def _legend_entries(axes: list[Axes]) -> tuple[list, list[str]]:
    handles, labels, seen = [], [], set()
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab.startswith("_") or lab in seen:
                continue
            seen.add(lab)
            handles.append(h)
            labels.append(lab)
    return handles, labels


# --------------------------------------------------------------------------------------------
# the map
# --------------------------------------------------------------------------------------------


def map_figure(
    run, score, extras: dict | None = None, *, early_lead_s: float | None = 10.0
) -> tuple[Figure, dict[str, Axes]]:
    """The plan-view map of a run as a figure and its axes (east/north km about the site
    origin): ``zones`` (the zones warned or hit, with the impacts), ``overview`` (everything)
    and ``launch`` (the launch area; absent when nothing was launched or predicted).

    ``early_lead_s``: also draw each track's impact prediction made that many seconds before
    its impact (dashed 95 % ellipse; None: only the last prediction)."""
    truth = run.truth
    states = zone_states(run, score)
    threats = _threats(run, score)
    preds = _predictions(run)
    early = _predictions(run, early_lead_s) if early_lead_s is not None else {}
    paths = _track_paths(run)

    fig = _new_figure(MAP_SIZE_IN)
    zo = fig.add_axes((0.345, 0.155, 0.635, 0.775))
    ov = fig.add_axes((0.045, 0.575, 0.26, 0.355))
    la = fig.add_axes((0.045, 0.155, 0.26, 0.335))
    axes = {"zones": zo, "overview": ov, "launch": la}

    zone_pts = [np.asarray(z.polygon.exterior.coords)[:, 0:2] for z in run.zones]
    radar_pts = [r.position_enu_m[None, 0:2] for r in run.radars]
    impacts = [th.impact_en[None] for th in threats] + [pr["impact_enu"][None, 0:2] for pr in preds.values()]
    origins = [th.launch_en[None] for th in threats]
    origins += [_ellipse_extent(pr["origin_enu"], pr["origin_cov"]) for pr in preds.values()]
    paths_truth = [_truth_path(truth, r) for r in range(len(truth.ids))]

    # views: everything; the zones that matter (warned or hit, else all) with the impacts;
    # the launch points and estimated origins
    ov_box = _box(np.vstack([np.zeros((1, 2)), *zone_pts, *radar_pts, *paths_truth, *origins]), 0.06, 2000.0)
    # (a far-off prediction, e.g. of a track briefly taken for a round, stays in the overview)
    busy = [np.asarray(z.polygon.exterior.coords)[:, 0:2] for z in run.zones if states[z.id] != "quiet"]
    busy = (busy or zone_pts) + [th.impact_en[None] for th in threats]
    zo_box = _box(np.vstack(busy or impacts or radar_pts or [np.zeros((1, 2))]), 0.04, 1500.0)

    _set_view(zo, zo_box)
    _set_view(ov, ov_box)
    if origins:
        _set_view(la, _box(np.vstack(origins), 0.1, 600.0))
    # each zone is named in the first panel that shows it: zones, launch area, overview
    named = _shown(zo, run.zones)
    obstacles = np.vstack([np.zeros((0, 2)), *impacts, *radar_pts])
    _draw_zones(zo, run, states, labels=named, fontsize=9.5, obstacles_m=obstacles)
    _draw_layers(zo, run, threats, preds, early, paths, lw=1.2, ms=1.0, lead_s=early_lead_s)
    _axes_style(zo, "zones warned or hit: warnings, impacts and impact predictions")
    if origins:
        shown = _shown(la, run.zones) - named
        named |= shown
        _draw_zones(la, run, states, labels=shown, fontsize=8, obstacles_m=np.vstack(origins), boxed=True)
        _draw_layers(la, run, threats, preds, {}, paths, lw=1.0, ms=0.9)
        _axes_style(la, "launch area: launch points and estimated origins", fontsize=9)
    else:
        la.set_axis_off()
        la.text(0.5, 0.5, "no launches", ha="center", va="center", transform=la.transAxes, color="#777777")
    _draw_zones(ov, run, states, labels={z.id for z in run.zones} - named, fontsize=7.5)
    _draw_layers(ov, run, threats, preds, {}, paths, lw=0.8, ms=0.7)
    _axes_style(ov, "whole scenario", fontsize=9)
    _mark_view(ov, zo, "zones")
    if origins:
        _mark_view(ov, la, "launch area")

    _apply_extras(MAP_LAYERS, axes, run, extras)

    handles, labels = _legend_entries([zo, ov, la])
    zone_handles = [
        Patch(
            fc=ZONE_COLOURS[s],
            ec="#f4b6ae" if s == "missed" else "#3a3a3a",
            hatch="///" if s == "missed" else None,
            label=ZONE_LABELS[s],
        )
        for s in ZONE_COLOURS
    ]
    zone_handles.append(
        Line2D([], [], color="#3a3a3a", lw=0.7, ls=(0, (4, 2)), label="undefended zone (outline)")
    )
    fig.legend(
        handles=zone_handles + handles,
        labels=[h.get_label() for h in zone_handles] + labels,
        loc="lower center",
        ncol=5,
        fontsize=9.5,
        frameon=False,
        bbox_to_anchor=(0.5, 0.005),
        handlelength=2.6,
        columnspacing=1.6,
    )
    fig.suptitle(_map_title(run, score), fontsize=13, x=0.045, ha="left", y=0.985)
    return fig, axes


def _shown(ax: Axes, zones) -> set[str]:
    """Ids of the zones whose representative point lies in ``ax``'s view (km)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    view = shapely.box(x0 / KM, y0 / KM, x1 / KM, y1 / KM)
    return {z.id for z in zones if view.contains(z.polygon.representative_point())}


def _mark_view(ax: Axes, view: Axes, text: str) -> None:
    """Outline on ``ax`` the area shown by ``view`` (same data units), with a caption."""
    x0, x1 = view.get_xlim()
    y0, y1 = view.get_ylim()
    ax.add_patch(
        Rectangle((x0, y0), x1 - x0, y1 - y0, fc="none", ec="black", lw=0.9, ls=(0, (3, 2)), zorder=9)
    )
    ax.annotate(text, (x0, y1), xytext=(1, 2), textcoords="offset points", fontsize=7.5, zorder=9)


def _map_title(run, score) -> str:
    lead = score.lead_time_s.get("median") if score.lead_time_s else None
    lead_txt = f", median lead {lead:.1f} s" if lead is not None else ""
    return (
        f"{run.scenario.name}: {run.truth.n_threats} rounds, {score.impacts_in_zones} fell in zones, "
        f"{score.missed_warnings} missed warnings, {score.over_warnings} over-warnings "
        f"of {score.warning_cycles} warning cycles{lead_txt}"
    )


def map_png(run, score, path, extras: dict | None = None, *, early_lead_s: float | None = 10.0) -> Path:
    """Write the plan-view map of a run (``run``: a SimRun, ``score``: its WarnScore) to
    ``path`` as a PNG, 1800 x 1000 pixels; returns the path."""
    fig, _ = map_figure(run, score, extras, early_lead_s=early_lead_s)
    fig.savefig(path, dpi=DPI)
    return Path(path)


# --------------------------------------------------------------------------------------------
# the timeline
# --------------------------------------------------------------------------------------------


def timeline_figure(run, score, extras: dict | None = None) -> tuple[Figure, dict[str, Axes]]:
    """The timeline of a run as a figure and its axes ``main`` (time in s across, one
    row per threat round, then one per zone that was warned or hit)."""
    threats = _threats(run, score)
    zone_ids = [z.id for z in run.zones]
    cycles = warning_intervals(run.events, zone_ids)
    states = zone_states(run, score)
    rows_z = [z for z in zone_ids if cycles[z] or states[z] == "missed"]
    extends = [e for e in run.events if isinstance(e, ZoneWarned) and e.extends]

    n_rows = len(threats) + len(rows_z)
    height = 2.5 + 0.32 * max(n_rows, 3)
    fig = _new_figure((TIMELINE_WIDTH_IN, height))
    bottom, top = 1.6 / height, 1 - 0.5 / height
    ax = fig.add_axes((0.15, bottom, 0.82, top - bottom))
    axes = {"main": ax}

    # y: threats from the top, a gap, then the zones
    y_th = {th.id: -k for k, th in enumerate(threats)}
    gap = 1.0 if threats and rows_z else 0.0
    y_z = {z: -(len(threats) + gap + k) for k, z in enumerate(rows_z)}

    t_end = [th.t_impact for th in threats]
    t_end += [b for z in rows_z for _, b in cycles[z] if np.isfinite(b)]
    t_last = min(max(t_end, default=run.scenario.duration_s), run.scenario.duration_s)
    t_max = t_last * 1.2 + 2.0  # room for the impact notes

    for th in threats:
        y = y_th[th.id]
        ax.plot(
            [th.t_launch, th.t_impact],
            [y, y],
            color=C_THREAT_TRUTH,
            lw=1.2,
            zorder=2,
            label="round in flight",
        )
        lead = th.rec.get("lead_time_s")
        if lead is not None:
            ax.barh(
                y,
                lead,
                left=th.t_impact - lead,
                height=0.42,
                color=ZONE_COLOURS["warned_hit"],
                alpha=0.35,
                lw=0,
                zorder=1,
                label="warned before impact (lead time)",
            )
        ax.plot(
            th.t_launch, y, ls="none", marker="^", ms=7, mfc="black", mec="white", zorder=4, label="launch"
        )
        if th.t_first_plot is not None:
            ax.plot(
                th.t_first_plot, y, ls="none", marker="o", ms=5, color="#555555", zorder=4, label="first plot"
            )
        if th.t_confirm is not None:
            ax.plot(
                th.t_confirm,
                y,
                ls="none",
                marker="D",
                ms=6,
                mfc=C_BALLISTIC,
                mec="white",
                zorder=5,
                label="track confirmed",
            )
        if th.destroyed:
            ax.plot(
                th.t_impact,
                y,
                ls="none",
                marker="*",
                ms=12,
                color=C_KILL,
                mec="black",
                mew=0.6,
                zorder=5,
                label="destroyed in flight",
            )
        else:
            ax.plot(th.t_impact, y, ls="none", marker="X", ms=8, color="black", zorder=5, label="impact")
        ax.annotate(
            _impact_note(th),
            (th.t_impact, y),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=ZONE_COLOURS["missed"] if th.rec.get("missed") else "#222222",
            zorder=6,
        )

    hits_by_zone: dict[str, list[_Threat]] = {}
    for th in threats:
        for z in th.rec.get("zones_hit", []):
            hits_by_zone.setdefault(z, []).append(th)
    for z in rows_z:
        y = y_z[z]
        for a, b in cycles[z]:
            b_draw = b if np.isfinite(b) else t_max
            hit = any(a <= th.t_impact < b + 1e-9 for th in hits_by_zone.get(z, []))
            st = "warned_hit" if hit else "over"
            ax.barh(
                y,
                b_draw - a,
                left=a,
                height=0.56,
                color=ZONE_COLOURS[st],
                ec="#3a3a3a",
                lw=0.6,
                zorder=2,
                label=(
                    "zone warning until all-clear: a round fell in it"
                    if hit
                    else "zone warning until all-clear: nothing fell in it (over-warning)"
                ),
            )
        ext = [e.t for e in extends if e.zone == z]
        if ext:
            ax.plot(
                ext,
                [y] * len(ext),
                ls="none",
                marker="|",
                ms=9,
                mew=1.0,
                color="#333333",
                zorder=3,
                label="warning extended (another track)",
            )
        for th in hits_by_zone.get(z, []):
            missed = z in th.rec.get("missed", [])
            ax.plot(
                th.t_impact,
                y,
                ls="none",
                marker="X",
                ms=8,
                color=ZONE_COLOURS["missed"] if missed else "black",
                mec="white",
                mew=0.5,
                zorder=5,
                label="impact, not warned (missed)" if missed else "impact",
            )
        if not cycles[z]:
            ax.text(
                t_max, y, "never warned ", ha="right", va="center", fontsize=8, color=ZONE_COLOURS["missed"]
            )

    ticks = [(y_th[th.id], f"{th.id} ({th.munition})") for th in threats]
    ticks += [(y_z[z], f"zone {z}") for z in rows_z]
    ax.set_yticks([t for t, _ in ticks], [lab for _, lab in ticks], fontsize=9)
    if threats and rows_z:
        ysep = -(len(threats) - 0.5 + gap / 2)
        ax.axhline(ysep, color="#999999", lw=0.8)
    lo = min([*y_th.values(), *y_z.values()], default=0) - 0.7
    ax.set_ylim(lo, 0.7)
    ax.set_xlim(0.0, t_max)
    ax.set_xlabel("time since start of run (s)", fontsize=10)
    ax.tick_params(axis="x", labelsize=9)
    ax.grid(True, axis="x", color="#dddddd", lw=0.6, zorder=0)
    ax.set_axisbelow(True)

    _apply_extras(TIMELINE_LAYERS, axes, run, extras)

    handles, labels = _legend_entries([ax])
    ax.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.75 / (height * (top - bottom))),
        ncol=4,
        fontsize=9,
        frameon=False,
        borderaxespad=0.0,
        columnspacing=2.0,
    )
    fig.suptitle(f"{run.scenario.name}: timeline of rounds and zone warnings", fontsize=12, x=0.13, ha="left")
    return fig, axes


def _impact_note(th: _Threat) -> str:
    rec = th.rec
    if th.destroyed:
        return "destroyed in flight" + (
            f" (bound for {', '.join(rec['would_hit'])})" if rec.get("would_hit") else ""
        )
    zones = rec.get("zones_hit") or []
    if not zones:
        return "open ground"
    parts = []
    for z in zones:
        parts.append(f"{z}: not warned" if z in rec.get("missed", []) else z)
    lead = rec.get("lead_time_s")
    return ", ".join(parts) + (f"  (lead {lead:.1f} s)" if lead is not None else "")


def timeline_png(run, score, path, extras: dict | None = None) -> Path:
    """Write the timeline of a run (``run``: a SimRun, ``score``: its WarnScore) to ``path`` as
    a PNG, 1400 pixels wide; returns the path."""
    fig, _ = timeline_figure(run, score, extras)
    fig.savefig(path, dpi=DPI)
    return Path(path)


def tradeoff_png(agg: dict, path, title: str = "", chosen: float | None = None) -> Path:
    """The warning threshold trade-off of a Monte Carlo study (``study.aggregate``): missed
    warnings and over-warnings per impact against the threshold (log scale), with the
    lead-time ratio on a second axis; ``chosen`` (the engine's threshold) is marked."""
    rows = agg["tradeoff"]
    th = np.array([r["threshold"] for r in rows])
    fig = _new_figure((9.0, 6.0))
    ax = fig.add_subplot(1, 1, 1)
    ax.semilogx(
        th,
        [r["over_warnings_per_impact"] for r in rows],
        "o-",
        color="#f0a04b",
        label="over-warnings per impact",
    )
    ax.semilogx(
        th, [r["missed_warnings"] for r in rows], "s-", color="#b2182b", label="missed warnings (total)"
    )
    if chosen is not None:
        ax.axvline(chosen, color="#555555", lw=1.0, ls="-.", label=f"default threshold {chosen:g}")
    ax.set_xlabel("warning threshold: P(impact in zone grown by the lethal radius)")
    ax.set_ylabel("count")
    ax.grid(True, which="both", color="#dddddd", lw=0.6)
    ax2 = ax.twinx()
    lead = [np.nan if r["lead_time_ratio_median"] is None else r["lead_time_ratio_median"] for r in rows]
    ax2.semilogx(th, lead, "d--", color="#2166ac", label="lead time / physical maximum (median over runs)")
    p5 = [np.nan if r.get("lead_time_ratio_p5") is None else r["lead_time_ratio_p5"] for r in rows]
    ax2.semilogx(th, p5, "v:", color="#2166ac", label="lead time / physical maximum (5th percentile)")
    ax2.set_ylim(0.0, 1.05)
    ax2.set_ylabel("lead-time ratio")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    # below the axes: inside, it would cover the curves
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=9)
    ax.set_title(title or "warning threshold trade-off", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=DPI)
    return path


# --------------------------------------------------------------------------------------------
# engagement layers: effector envelopes, intercepts, counter-battery cues
# --------------------------------------------------------------------------------------------

#: colours of the engagement layers
C_EFFECTOR = "#6a3d9a"
C_KILL = "#1a9850"
C_MISS = "#d01c8b"
C_CUE = "#b35806"


def _engage_map(axes: dict[str, Axes], run, value) -> None:
    """Each effector with its envelope (maximum range solid, minimum dotted), each shot's
    intercept point (star: killed, x: missed or not yet assessed) and each counter-battery
    cue's last position with its CEP circle."""
    site = run.scenario.site
    outcome = {e.shot: e.killed for e in run.events if e.kind == "intercept_assessed"}
    shots = [e for e in run.events if e.kind == "engaged"]
    cues = {}
    for e in run.events:
        if e.kind == "counter_battery_cue":
            cues[e.cue] = e
    for name in ("zones", "overview"):
        ax = axes[name]
        for spec in run.scenario.effectors:
            en = site.to_enu(spec.lat, spec.lon, spec.alt_m)[0:2] * KM
            ax.plot(*en, ls="none", marker="P", ms=9, mfc=C_EFFECTOR, mec="white", zorder=9, label="effector")
            for r, ls in ((spec.max_range_m, "-"), (spec.min_range_m, ":")):
                ax.add_patch(
                    Ellipse(
                        en,
                        2 * r * KM,
                        2 * r * KM,
                        fc="none",
                        ec=C_EFFECTOR,
                        ls=ls,
                        lw=1.1,
                        zorder=3,
                        label="effector envelope (max range)" if ls == "-" else None,
                    )
                )
        for e in shots:
            en = site.to_enu(e.lat, e.lon, e.alt_m)[0:2] * KM
            if outcome.get(e.shot):
                ax.plot(
                    *en,
                    ls="none",
                    marker="*",
                    ms=13,
                    mfc=C_KILL,
                    mec="black",
                    mew=0.5,
                    zorder=10,
                    label="intercept: round destroyed",
                )
            else:
                ax.plot(
                    *en,
                    ls="none",
                    marker="x",
                    ms=8,
                    mew=2,
                    color=C_MISS,
                    zorder=10,
                    label="intercept point: missed",
                )
    for name in ("overview", "launch"):
        ax = axes.get(name)
        if ax is None or not ax.axison:
            continue
        for e in cues.values():
            en = site.to_enu(e.lat, e.lon, e.alt_m)[0:2] * KM
            ax.plot(
                *en,
                ls="none",
                marker="s",
                ms=8,
                mfc="none",
                mec=C_CUE,
                mew=2,
                zorder=11,
                label="counter-battery cue (CEP circle)",
            )
            ax.add_patch(
                Ellipse(en, 2 * e.cep_m * KM, 2 * e.cep_m * KM, fc="none", ec=C_CUE, lw=1.5, zorder=11)
            )
            if name == "launch":
                ax.annotate(
                    f"{e.cue}: {e.n_launches} launches, CEP {e.cep_m:.0f} m",
                    en,
                    xytext=(8, 8),
                    textcoords="offset points",
                    fontsize=8,
                    color=C_CUE,
                    zorder=12,
                )


def _engage_timeline(axes: dict[str, Axes], run, value) -> None:
    """Each shot on its round's row: fire time (purple triangle) joined to the intercept time
    (star: killed, x: missed)."""
    ax = axes["main"]
    rows = {}
    for lab, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=False):
        rows[lab.get_text().split(" ")[0]] = y
    _, _, truth_row, track = run.plots.arrays()
    owners = track_owners(truth_row, track, {e.track for e in run.events if e.kind == "engaged"})
    outcome = {e.shot: e.killed for e in run.events if e.kind == "intercept_assessed"}
    for e in run.events:
        if e.kind != "engaged":
            continue
        row = owners.get(e.track, -1)
        if row < 0 or row >= run.truth.n_threats or run.truth.ids[row] not in rows:
            continue
        y = rows[run.truth.ids[row]] + 0.22
        ax.plot([e.t_fire, e.t_intercept], [y, y], color=C_EFFECTOR, lw=1.0, zorder=6)
        ax.plot(e.t_fire, y, ls="none", marker=">", ms=6, color=C_EFFECTOR, zorder=6, label="engaged (fire)")
        if outcome.get(e.shot):
            ax.plot(
                e.t_intercept,
                y,
                ls="none",
                marker="*",
                ms=10,
                color=C_KILL,
                zorder=7,
                label="intercept: killed",
            )
        else:
            ax.plot(
                e.t_intercept,
                y,
                ls="none",
                marker="x",
                ms=6,
                mew=1.5,
                color=C_MISS,
                zorder=7,
                label="intercept: missed",
            )


MAP_LAYERS["engage"] = _engage_map
TIMELINE_LAYERS["engage"] = _engage_timeline
