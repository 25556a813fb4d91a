"""Validation on real recordings: the engine's impact and origin predictions against the
measured impact and launch points of live-fire shots.

A shot folder holds ``plots.jsonl`` (the recording), ``sensors.yaml`` and ``truth.json``
(``impact.enu_m`` and ``launch.enu_m`` in metres east/north/up of the first sensor, as in
``../shared/data/caex/README.md``). :func:`replay_shot` feeds the first ``fraction`` of the
plots to the engine exactly as ``counterram track`` does and scores the last prediction of
the shot's track: the horizontal distance from the predicted to the measured impact point
(and launch point).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .engine import Engine
from .replay import batches, radars_for, recording_env, site_for
from .scenario import load_sensors
from .sensing.plots import read_plots


@dataclass(frozen=True)
class ShotResult:
    """One shot replayed: plots used, the scored track, its last impact and origin errors
    (horizontal metres), the predicted ranges, and the measured range to impact."""

    shot: str
    fraction: float
    plots_used: int
    track: int | None
    ipp_error_m: float
    poo_error_m: float
    impact_range_m: float
    t_last_plot_s: float


def shot_dirs(root: Path) -> list[Path]:
    """Shot folders under ``root`` (those with plots, sensors and truth), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    need = ("plots.jsonl", "sensors.yaml", "truth.json")
    return sorted(p for p in root.iterdir() if all((p / n).exists() for n in need))


def replay_shot(shot: Path, fraction: float = 1.0) -> ShotResult:
    """Replay the first ``fraction`` of a shot's plots (by time) and score the last
    prediction of the track that took most of them."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction: expected a number in (0, 1], got {fraction}")
    shot = Path(shot)
    specs = load_sensors(shot / "sensors.yaml")
    plots, errors = read_plots(shot / "plots.jsonl", [s.id for s in specs])
    if errors:
        raise ValueError(f"{shot / 'plots.jsonl'}: {len(errors)} bad lines, the first: {errors[0]}")
    plots = plots.sorted_by_time()
    n = max(1, int(round(fraction * len(plots))))
    plots = plots.take(np.arange(n))
    truth = json.loads((shot / "truth.json").read_text(encoding="utf-8"))
    site = site_for(specs)
    engine = Engine(recording_env(site, specs[0].alt_m), radars_for(specs, site, plots))
    took: dict[int, int] = {}
    for b in batches(plots):
        res = engine.step(b)
        for tid in res.report.plot_track[res.report.plot_track >= 0].tolist():
            took[tid] = took.get(tid, 0) + 1
    # the shot's track: the predicted track that took the most plots
    c = engine.pred.c
    predicted = [t for t in took if engine.pred.rows([t])[0] >= 0]
    impact = np.asarray(truth["impact"]["enu_m"], float)
    launch = np.asarray(truth["launch"]["enu_m"], float)
    if not predicted:
        return ShotResult(shot.name, fraction, n, None, np.nan, np.nan, float(np.hypot(*impact[:2])), 0.0)
    tid = max(predicted, key=lambda t: took[t])
    r = engine.pred.rows([tid])[0]
    # the recording's frame is the first sensor's ENU; the engine's site is the same point
    return ShotResult(
        shot=shot.name,
        fraction=fraction,
        plots_used=n,
        track=int(tid),
        ipp_error_m=float(np.hypot(*(c["impact_enu"][r, 0:2] - impact[0:2]))),
        poo_error_m=float(np.hypot(*(c["origin_enu"][r, 0:2] - launch[0:2]))),
        impact_range_m=float(np.hypot(*impact[0:2])),
        t_last_plot_s=float(plots.t_s[-1]),
    )
