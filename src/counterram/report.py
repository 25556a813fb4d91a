"""Reports: terminal tables, JSON Lines and summary files (figures arrive with the warn issue)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from .geo import Site
from .physics.aim import max_range
from .physics.flight import FlightEnv
from .physics.munitions import DRAG_LAWS, Munition
from .scenario import Scenario
from .truth import Truth, zone_of

#: the environment for catalog figures: ISA, calm, sea level, 45 degrees north
CATALOG_SITE = Site(45.0, 0.0, 0.0)


def catalog_rows(munitions: Iterable[Munition]) -> list[dict]:
    env = FlightEnv(CATALOG_SITE, 0.0, DRAG_LAWS)
    rows = []
    for m in munitions:
        r = max_range(env, m)
        rows.append(
            {
                "munition": m.name,
                "kind": m.kind,
                "mass_kg": m.mass_kg,
                "speed_mps": m.muzzle_speed_mps,
                "model_max_range_m": round(r.max_range_m, 1),
                "best_elevation_deg": round(r.best_elevation_deg, 2),
                "time_of_flight_s": round(r.time_of_flight_s, 2),
                "apex_height_m": round(r.apex_height_m, 1),
                "public_max_range_m": m.max_range_m,
                "public_source": m.max_range_source,
                "error_pct": round(100.0 * (r.max_range_m / m.max_range_m - 1.0), 2),
            }
        )
    return rows


def _geo(site: Site, enu) -> tuple[float, float, float]:
    lat, lon, alt = site.to_geodetic(np.asarray(enu, float))
    return float(lat), float(lon), float(alt)


def truth_records(scn: Scenario, truth: Truth, sample_dt_s: float = 1.0) -> list[dict]:
    """One JSON-able record per truth object (threat rounds first, then traffic)."""
    site = scn.site
    zones = zone_of(scn, truth.end_enu_m) if len(truth.ids) else []
    recs = []
    for i, oid in enumerate(truth.ids):
        t0, t1 = float(truth.start_t_s[i]), float(truth.end_t_s[i])
        ts = np.arange(t0, t1, sample_dt_s)
        pos, _ = truth.state_at(ts, np.full(ts.size, i))
        la, lo, al = _geo(site, truth.start_enu_m[i])
        lb, lob, alb = _geo(site, truth.end_enu_m[i])
        rec = {
            "id": oid,
            "kind": truth.kinds[i],
            "threat": bool(truth.is_threat[i]),
            "munition": truth.munitions[i],
            "launch" if truth.is_threat[i] else "start": {
                "t": round(t0, 3),
                "lat": round(la, 7),
                "lon": round(lo, 7),
                "alt_m": round(al, 2),
            },
            "impact" if truth.is_threat[i] else "end": {
                "t": round(t1, 3),
                "lat": round(lb, 7),
                "lon": round(lob, 7),
                "alt_m": round(alb, 2),
                "zone": zones[i] if truth.is_threat[i] else None,
            },
        }
        if truth.is_threat[i]:
            rec.update(
                time_of_flight_s=round(t1 - t0, 3),
                apogee_m=round(float(truth.apogee_m[i]), 1),
                az_deg=round(float(truth.az_deg[i]), 4),
                el_deg=round(float(truth.el_deg[i]), 4),
            )
        rec["path"] = {"t0": round(t0, 3), "dt_s": sample_dt_s, "enu_m": np.round(pos, 2).tolist()}
        recs.append(rec)
    return recs


def write_truth_jsonl(path: Path, scn: Scenario, truth: Truth) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for rec in truth_records(scn, truth):
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")


def console() -> Console:
    """A console that keeps tables readable when the output is a file or a pipe."""
    return Console(width=None if sys.stdout.isatty() else 150)


def print_truth_table(scn: Scenario, truth: Truth, con: Console | None = None) -> None:
    console = con or globals()["console"]()
    site = scn.site
    zones = zone_of(scn, truth.end_enu_m[: truth.n_threats]) if truth.n_threats else []
    names = {z.id: z.name or z.id for z in scn.zones}
    t = Table(title=f"{scn.name}: threats flown ({truth.n_threats} rounds)")
    for col in (
        "round",
        "munition",
        "launch t s",
        "launch lat, lon",
        "impact lat, lon",
        "zone",
        "flight s",
        "apogee m",
        "range m",
    ):
        t.add_column(col)
    for i in range(truth.n_threats):
        la, lo, _ = _geo(site, truth.start_enu_m[i])
        lb, lob, _ = _geo(site, truth.end_enu_m[i])
        rng = float(np.hypot(*(truth.end_enu_m[i, :2] - truth.start_enu_m[i, :2])))
        t.add_row(
            truth.ids[i],
            truth.munitions[i] or "",
            f"{truth.start_t_s[i]:.1f}",
            f"{la:.5f}, {lo:.5f}",
            f"{lb:.5f}, {lob:.5f}",
            names.get(zones[i], "open ground") if zones[i] else "open ground",
            f"{truth.end_t_s[i] - truth.start_t_s[i]:.1f}",
            f"{truth.apogee_m[i]:.0f}",
            f"{rng:.0f}",
        )
    console.print(t)
    if len(truth.paths):
        tt = Table(title="air traffic")
        for col in ("id", "kind", "start t s", "end t s", "legs"):
            tt.add_column(col)
        for j, p in enumerate(truth.paths):
            i = truth.n_threats + j
            tt.add_row(
                truth.ids[i],
                truth.kinds[i],
                f"{p.start_time_s:.0f}",
                f"{p.end_time_s:.0f}",
                str(len(p.points_enu_m) - 1),
            )
        console.print(tt)


def track_records(view, ids, site: Site) -> list[dict]:
    """One ``tracks.jsonl`` record per confirmed (or landed) track in ``ids`` (a TrackView)."""
    sel = np.flatnonzero(np.isin(view.id, ids))
    if sel.size == 0:
        return []
    lat, lon, alt = site.to_geodetic(view.x[sel, 0:3])
    lat, lon, alt = np.atleast_1d(lat), np.atleast_1d(lon), np.atleast_1d(alt)
    sd = np.sqrt(np.trace(view.P[sel, 0:3, 0:3], axis1=1, axis2=2))
    out = []
    for k, i in enumerate(sel):
        out.append(
            {
                "t": round(float(view.t[i]), 4),
                "track": int(view.id[i]),
                "class": str(view.cls[i]),
                "p_ballistic": round(float(view.p_ballistic[i]), 4),
                "status": "landed" if view.status[i] == 2 else "confirmed",
                "lat": round(float(lat[k]), 7),
                "lon": round(float(lon[k]), 7),
                "alt_m": round(float(alt[k]), 2),
                "enu_m": np.round(view.x[i, 0:3], 2).tolist(),
                "vel_mps": np.round(view.x[i, 3:6], 2).tolist(),
                "sigma_pos_m": round(float(sd[k]), 2),
                "kappa": round(float(view.x[i, 6]), 4),
                "plots": int(view.owned[i]),
            }
        )
    return out


def _fmt(v, spec=".1f", none="-"):
    return none if v is None else format(v, spec)


def print_tracking(scn: Scenario, sim, score, con: Console) -> None:
    """Per object: first plot, confirmation and track; then the totals."""
    t = Table(title=f"{scn.name}: sensing and tracking")
    for col in ("object", "kind", "plots", "first plot t s", "confirmed t s", "track", "tracks", "on track"):
        t.add_column(col)
    for o in score.per_object:
        t.add_row(
            o["object"],
            o["kind"],
            str(o["plots"]),
            _fmt(o["first_plot_t"]),
            _fmt(o["confirmed_t"]),
            "-" if o["track"] is None else str(o["track"]),
            str(o["tracks"]),
            str(o["plots_on_track"]),
        )
    con.print(t)
    con.print(
        f"tracks confirmed {score.tracks_confirmed}, false {score.false_tracks}, "
        f"breaks {score.track_breaks}, GOSPA mean {score.gospa_mean_m:.1f} m (c = 100 m, p = 2)"
    )


def summary_dict(score) -> dict:
    """The tracking keys of summary.json."""
    return {
        "tracks_confirmed": score.tracks_confirmed,
        "false_tracks": score.false_tracks,
        "track_breaks": score.track_breaks,
        "gospa_mean_m": round(score.gospa_mean_m, 2),
        "objects": score.per_object,
    }


def timeline_rows(sim) -> list[tuple[float, str, str]]:
    """The run's story in time order: (t s, what, detail) for launches, first plots,
    confirmations, warnings per zone, all-clears and impacts."""
    rows: list[tuple[float, str, str]] = []
    cued: set[str] = set()
    for e in sim.events:
        k = e.kind
        if k == "truth_launch":
            rows.append((e.t, "launch", f"{e.object} ({e.munition})"))
        elif k == "truth_impact" and e.destroyed:
            rows.append((e.t, "destroyed", f"{e.object} destroyed in flight"))
        elif k == "truth_impact":
            rows.append((e.t, "impact", f"{e.object} in {e.zone or 'open ground'}"))
        elif k == "track_confirmed":
            rows.append((e.t, "confirmed", f"track {e.track} ({e.cls}, {e.speed_mps:.0f} m/s)"))
        elif k == "track_classified":
            rows.append((e.t, "classified", f"track {e.track} -> {e.cls}"))
        elif k == "zone_warned" and not e.extends:  # more tracks on a warned zone: in the store
            what = "WARNING"
            rows.append(
                (
                    e.t,
                    what,
                    f"{e.zone} (siren {e.siren}) tracks {e.tracks} p={e.probability:.2f} "
                    f"impact in {e.lead_time_s:.1f} s",
                )
            )
        elif k == "all_clear":
            rows.append((e.t, "all clear", f"{e.zone} (siren {e.siren})"))
        elif k == "engaged":
            what = "interceptors" if e.rounds <= 2 else "rounds"
            rows.append(
                (
                    e.t,
                    "ENGAGE",
                    f"track {e.track} by {e.effector}: {e.rounds} {what}, intercept at "
                    f"t={e.t_intercept:.1f} s, {e.range_m:.0f} m, pk {e.pk:.2f}",
                )
            )
        elif k == "intercept_assessed":
            rows.append((e.t, "killed" if e.killed else "missed", f"track {e.track} (shot {e.shot})"))
        elif k == "threat_let_go":
            rows.append((e.t, "let go", f"track {e.track} ({e.reason.replace('_', ' ')})"))
        elif k == "counter_battery_cue" and e.cue not in cued:
            cued.add(e.cue)
            rows.append((e.t, "cue", f"{e.cue}: firing site {e.lat:.4f}, {e.lon:.4f}, CEP {e.cep_m:.0f} m"))
    return sorted(rows, key=lambda r: r[0])


def print_timeline(sim, tscore, con: Console) -> None:
    """Launch, first plot, confirmation, warning per zone, all-clear and impact, in order."""
    rows = timeline_rows(sim)
    for o in tscore.per_object:
        if o["first_plot_t"] is not None and o["kind"] not in ("aircraft", "helicopter", "bird"):
            rows.append((o["first_plot_t"], "first plot", o["object"]))
    rows.sort(key=lambda r: r[0])
    t = Table(title=f"{sim.scenario.name}: timeline")
    t.add_column("t s", justify="right")
    t.add_column("event")
    t.add_column("detail")
    style = {
        "WARNING": "bold red",
        "impact": "bold",
        "all clear": "green",
        "launch": "yellow",
        "ENGAGE": "bold magenta",
        "killed": "bold green",
        "destroyed": "bold green",
    }
    for ts, what, detail in rows:
        t.add_row(f"{ts:.1f}", f"[{style[what]}]{what}[/]" if what in style else what, detail)
    con.print(t)


def print_warn_score(sim, ws, con: Console) -> None:
    """Per impact: zones hit, warned, lead time against the physical maximum, prediction
    errors; then the totals."""
    t = Table(title=f"{sim.scenario.name}: warning and prediction score")
    for col in (
        "object",
        "zones hit",
        "warned",
        "lead s",
        "own/max s",
        "ratio",
        "IPP t-20",
        "t-10",
        "t-5",
        "last m",
        "CRLB t-10",
        "POO m",
    ):
        t.add_column(col, justify="left" if col in ("object", "zones hit", "warned") else "right")
    for p in ws.per_impact:
        missed = p["missed"]
        warned = ", ".join(p["warned"]) or "-"
        if missed:
            warned += f" [bold red]MISSED {', '.join(missed)}[/]"
        if p.get("destroyed"):
            bound = ", ".join(p["would_hit"]) or "open ground"
            t.add_row(p["object"], f"[green]destroyed[/] at {p['t_destroyed']:.1f} s (bound for {bound})")
            continue
        t.add_row(
            p["object"],
            ", ".join(p["zones_hit"]) or "open ground",
            warned,
            _fmt(p["lead_time_s"]),
            f"{_fmt(p['own_lead_time_s'])}/{_fmt(p['max_lead_time_s'])}",
            _fmt(p["lead_time_ratio"], ".2f"),
            _fmt(p["ipp_t-20_m"], ".0f"),
            _fmt(p["ipp_t-10_m"], ".0f"),
            _fmt(p["ipp_t-5_m"], ".0f"),
            _fmt(p["ipp_last_m"], ".0f"),
            _fmt(p.get("crlb_t-10_m"), ".0f"),
            _fmt(p["poo_m"], ".0f"),
        )
    con.print(t)
    lt = ws.lead_time_s
    con.print(
        f"impacts in zones {ws.impacts_in_zones}, missed warnings {ws.missed_warnings}, "
        f"over-warnings {ws.over_warnings} of {ws.warning_cycles} warning cycles, "
        f"lead time median {_fmt(lt['median'])} s (min {_fmt(lt['min'])} s), "
        f"lead/physical max median {_fmt(ws.lead_time_ratio_median, '.2f')}, "
        f"IPP RMSE/CRLB at t-10 {_fmt(ws.ipp_rmse_over_crlb, '.2f')}, "
        f"non-ballistic warnings {ws.non_ballistic_warnings}"
    )


def print_study(name: str, agg: dict, con: Console) -> None:
    """The Monte Carlo study: totals, spreads and the warning trade-off curve."""

    def spread(d, spec=".2f"):
        if not d or d.get("median") is None:
            return "-"
        return f"{d['median']:{spec}} (5-95 %: {d['p5']:{spec}} to {d['p95']:{spec}})"

    t = Table(title=f"{name}: Monte Carlo over {agg['runs']} runs")
    t.add_column("measure")
    t.add_column("value", justify="right")
    rows = [
        ("impacts in zones", str(agg["impacts_in_zones"])),
        ("missed warnings", f"{agg['missed_warnings']} (in {agg['runs_with_missed_warnings']} runs)"),
        ("over-warnings per impact", spread(agg["over_warnings_per_impact"])),
        ("lead time median, s", spread(agg["lead_time_s_median"], ".1f")),
        ("lead time / physical max", spread(agg["lead_time_ratio_median"])),
        ("IPP RMSE / CRLB at t-10", spread(agg["ipp_rmse_over_crlb"])),
        ("IPP error at t-10, m (median)", spread(agg["ipp_error_m_t-10"], ".0f")),
        ("POO error, m (median)", spread(agg["poo_error_m_median"], ".0f")),
        ("non-ballistic warnings", str(agg["non_ballistic_warnings"])),
        ("false tracks", str(agg["false_tracks"])),
    ]
    g = agg.get("engagement")
    if g and g["shots_drawn"]:
        rows += [
            ("engaged / destroyed / leakers", f"{g['engaged']} / {g['destroyed']} / {g['leakers']}"),
            ("let go / wasted engagements", f"{g['let_go']} / {g['wasted']}"),
            ("rounds / interceptors fired", f"{g['rounds_fired']} / {g['interceptors_fired']}"),
            (
                "kills of drawn shots",
                f"{g['kills']} of {g['shots_drawn']} ({g['kill_rate']:.3f}; "
                f"expected {g['expected_kill_rate']:.3f}, "
                f"95 % interval {g['kill_ci95'][0]:.0f}-{g['kill_ci95'][1]:.0f} kills)",
            ),
            ("counter-battery cue error, m", spread(g["cue_error_m_median"], ".0f")),
        ]
    for r in rows:
        t.add_row(*r)
    con.print(t)
    c = Table(title="warning threshold trade-off (same flights and tracks, warnings replayed)")
    for col in (
        "threshold",
        "missed",
        "over-warnings",
        "per impact",
        "lead ratio median",
        "lead ratio p5",
        "min lead s (p5 / min)",
    ):
        c.add_column(col, justify="right")
    for r in agg["tradeoff"]:
        c.add_row(
            f"{r['threshold']:g}",
            str(r["missed_warnings"]),
            str(r["over_warnings"]),
            f"{r['over_warnings_per_impact']:.2f}",
            _fmt(r["lead_time_ratio_median"], ".3f"),
            _fmt(r.get("lead_time_ratio_p5"), ".3f"),
            f"{_fmt(r.get('lead_time_s_min_p5'), '.1f')} / {_fmt(r.get('lead_time_s_min'), '.1f')}",
        )
    con.print(c)


def print_engage_score(sim, es: dict, con: Console) -> None:
    """Engagements: what was engaged, destroyed, leaked, let go, and what it cost."""
    t = Table(title=f"{sim.scenario.name}: engagement and counter-battery score")
    for col in (
        "engaged",
        "destroyed",
        "leakers",
        "let go",
        "wasted",
        "rounds",
        "interceptors",
        "cues",
        "cue error m",
    ):
        t.add_column(col, justify="right")
    t.add_row(
        str(es["engaged"]),
        str(es["destroyed"]),
        str(es["leakers"]),
        str(es["let_go"]),
        str(es["wasted"]),
        str(es["rounds_fired"]),
        str(es["interceptors_fired"]),
        str(es["cues"]),
        _fmt(es["cue_error_m"]["median"], ".0f"),
    )
    con.print(t)
