"""Classification benchmark: the confusion matrix of the tracker's class labels.

What it measures
----------------
The engine labels every confirmed track (:func:`counterram.tracking.classify.label`):
ballistic or not from the log likelihood ratio of a ballistic EKF against a constant-velocity
filter, then a sub-class - mortar / rocket / artillery from the launch speed of the track's
ballistic back-flight (:func:`counterram.predict.ballistic_class`), aircraft / helicopter /
clutter from the fastest speed seen. This script flies known objects through a radar and
tabulates their true kind against the label of the track that followed them.

Radar: the default scenario's (``load_scenario(None).sensors``: lcmr-1, rotating, revisit
1 s, sigmas 10 m / 0.3 deg / 0.3 deg / 1 m/s, SNR-based Pd, 2 false alarms per scan, 20 km),
over the default scenario's site, ground and wind (calm).

Threat runs: for each catalog munition (``counterram.physics.munitions.CATALOG``) and each
seed, one scenario with six rounds, launched together at t = 2 s: shot ranges of 35 %, 65 %
and 90 % of the munition's public maximum range, each on the low and the high trajectory.
Each round is aimed at a point 1.5 km from the radar and launched from beyond it on the same
bearing (it flies inward, toward the radar); the six bearings are 60 deg apart, rotated by a
seeded offset, so the rounds do not share airspace. Traffic runs: the default scenario itself
(its two salvos of 107 mm rockets, the helicopter out of LZ Washington and the airliner on
approach to BIAP) with its own seeds. Every run draws its bearings and radar noise from
``default_rng([SEED, munition index, run number])``.

Each run is stepped through ``Engine.step`` batch by batch (8 sectors a scan, as
``counterram.sim.run_scenario`` feeds it; the runner is not used so that the labels can be
read after every step). After every step the labels of the confirmed and landed tracks
(``Engine.tracks().cls``) are recorded. A track's true object is the truth object that gave
most of the plots it took (used or attributed); a track whose plots are mostly false alarms
is a false track. Per confirmed track:

- label at confirmation: its label in the step it was confirmed;
- final label: its label the last time it was seen (landed, dropped, or at the run's end);
- label changes: how many times its label changed from one step to the next while it was
  confirmed or landed (``unknown`` counts as a label), and how many of those were between two
  definite labels (a reclassification, e.g. rocket -> artillery) or crossed the ballistic /
  non-ballistic line (a round turning into an aircraft, or the reverse);
- wrong side: whether it was ever labelled on the wrong side of the ballistic line (a round
  as aircraft / helicopter / clutter; traffic or a false track as mortar / rocket / artillery:
  such a track is predicted and may warn), and for how long.

Runs about 1-2 minutes on one core (NumPy is held to one thread).

How to run
----------
::

    .venv/bin/python bench/classify.py                 # tables
    .venv/bin/python bench/classify.py --seeds 5       # more rounds per cell
    .venv/bin/python bench/classify.py --tracks        # one line per track as well
    .venv/bin/python bench/classify.py --json          # the counts as one JSON object
"""

from __future__ import annotations

import one_thread  # noqa: F401  (first: one BLAS thread, set before NumPy loads)

# isort: split

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from counterram.engine import Engine
from counterram.events import TrackClassified
from counterram.physics.munitions import CATALOG
from counterram.scenario import Point, Scenario, Threat, load_scenario
from counterram.sensing.simulate import simulate_plots
from counterram.sim import build_radars
from counterram.tracking.classify import BALLISTIC_CLASSES
from counterram.tracking.tracker import CONFIRMED, LANDED
from counterram.truth import flight_env, fly_truth

SEED = 2020
RANGE_FRACTIONS = (0.35, 0.65, 0.9)
TRAJECTORIES = ("low", "high")
AIM_FROM_RADAR_M = 1500.0
LAUNCH_T_S = 2.0
TAIL_S = 12.0  # run on after the last impact: the landed tracks are held 10 s
SECTORS_PER_SCAN = 8  # as counterram.sim.run_scenario

KINDS = ("mortar", "rocket", "artillery", "helicopter", "aircraft")
LABELS = ("mortar", "rocket", "artillery", "aircraft", "helicopter", "clutter", "unknown")


# --------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------


def munition_scenario(base: Scenario, name: str, rng: np.random.Generator) -> Scenario:
    """Six rounds of ``name``: 3 shot ranges x low / high trajectory, on bearings 60 deg apart,
    each flying inward to a point AIM_FROM_RADAR_M from the radar."""
    site = base.site
    radar = base.sensors[0]
    centre = site.to_enu(radar.lat, radar.lon, base.ground_alt_m)
    offset = rng.uniform(0.0, 60.0)
    threats = []
    k = 0
    for frac in RANGE_FRACTIONS:
        for traj in TRAJECTORIES:
            b = np.radians(offset + 60.0 * k)
            u = np.array([np.sin(b), np.cos(b), 0.0])
            shot_m = frac * CATALOG[name].max_range_m
            aim = centre + AIM_FROM_RADAR_M * u
            launch = centre + (AIM_FROM_RADAR_M + shot_m) * u
            (alat, alon, _), (llat, llon, _) = site.to_geodetic(aim), site.to_geodetic(launch)
            threats.append(
                Threat(
                    id=f"{name}@{frac:.2f}/{traj}",
                    munition=name,
                    launch=Point(lat=float(llat), lon=float(llon)),
                    aim=Point(lat=float(alat), lon=float(alon)),
                    trajectory=traj,
                    launch_time_s=LAUNCH_T_S,
                )
            )
            k += 1
    return Scenario(
        name=f"classify-{name}",
        duration_s=600.0,  # replaced by the last impact + TAIL_S once flown
        origin=base.origin,
        ground_alt_m=base.ground_alt_m,
        wind=base.wind,
        sensors=base.sensors,
        threats=threats,
    )


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------


@dataclass
class TrackRecord:
    run: str
    track: int
    obj: str  # truth object id ("false" for a track of false alarms)
    kind: str  # true kind, or "false"
    munition: str  # munition name, the traffic kind, or "false"
    el_deg: float  # launch elevation (NaN: traffic)
    t_confirm: float
    at_confirm: str
    final: str
    labels: list[str] = field(default_factory=list)  # label in every step it was seen
    times: list[float] = field(default_factory=list)  # the engine's time at those steps
    classified_events: int = 0

    @property
    def changes(self) -> int:
        return sum(a != b for a, b in zip(self.labels, self.labels[1:], strict=False))

    @property
    def definite_changes(self) -> int:
        """Changes from one definite label to another (not from or to 'unknown')."""
        return sum(
            a != b and "unknown" not in (a, b) for a, b in zip(self.labels, self.labels[1:], strict=False)
        )

    def _wrong(self) -> np.ndarray:
        """Steps labelled on the wrong side of the ballistic line: a round (or a false track)
        labelled aircraft / helicopter / clutter, or traffic labelled mortar / rocket / artillery."""
        lab = np.array(self.labels, object)
        bal = np.isin(lab, BALLISTIC_CLASSES)
        other = ~bal & (lab != "unknown")
        return other if self.kind in BALLISTIC_CLASSES else bal

    @property
    def wrong_side(self) -> bool:
        return bool(self._wrong().any())

    @property
    def wrong_side_s(self) -> float:
        """Seconds (engine time) spent with a wrong-side label."""
        dt = np.diff(np.array(self.times))
        return float(dt[self._wrong()[:-1]].sum())

    @property
    def crossings(self) -> int:
        """Changes between a ballistic and a non-ballistic definite label."""
        bal = [lab in BALLISTIC_CLASSES for lab in self.labels if lab != "unknown"]
        return sum(a != b for a, b in zip(bal, bal[1:], strict=False))


@dataclass
class RunResult:
    tracks: list[TrackRecord]
    untracked: list[tuple[str, str]]  # (object id, munition or kind) with no confirmed track
    in_coverage: int


def run_one(scn: Scenario, run_name: str, rng: np.random.Generator) -> RunResult:
    truth = fly_truth(scn, rng)
    t_end = float(np.nanmax(truth.end_t_s)) + TAIL_S
    if truth.n_threats == len(truth.ids):  # threats only: stop once the last one has landed
        t_end = min(t_end, scn.duration_s)
    else:
        t_end = scn.duration_s
    radars = build_radars(scn)
    batches = simulate_plots(truth, radars, rng, 0.0, t_end, SECTORS_PER_SCAN)
    engine = Engine(flight_env(scn), radars)
    owner_counts: dict[int, Counter] = {}
    labels: dict[int, list[str]] = {}
    times: dict[int, list[float]] = {}
    t_confirm: dict[int, float] = {}
    n_classified: Counter = Counter()
    serial_row = np.zeros(0, np.int64)  # truth row of every accepted plot, by serial
    plotted = np.zeros(len(truth.ids), bool)
    for b in batches:
        res = engine.step(b.plots)
        rep = res.report
        rows = b.truth_row[rep.order]
        plotted[rows[rows >= 0]] = True
        if rep.serial.size:
            need = int(rep.serial.max()) + 1
            if need > serial_row.size:
                serial_row = np.concatenate([serial_row, np.full(need - serial_row.size, -1, np.int64)])
            serial_row[rep.serial] = rows
        took = rep.plot_track >= 0
        pairs = list(zip(rep.plot_track[took].tolist(), rows[took].tolist(), strict=True))
        pairs += [(tid, int(serial_row[s])) for tid, s in rep.initiated]
        for tid, row in pairs:
            owner_counts.setdefault(tid, Counter())[row] += 1
        for e in res.events:
            if isinstance(e, TrackClassified):
                n_classified[e.track] += 1
        view = engine.tracks()
        for tid, cls, st, tc in zip(
            view.id.tolist(), view.cls.tolist(), view.status.tolist(), view.t_confirm.tolist(), strict=True
        ):
            if st in (CONFIRMED, LANDED):
                labels.setdefault(tid, []).append(str(cls))
                times.setdefault(tid, []).append(engine.t_now)
                t_confirm.setdefault(tid, tc)
    out = []
    tracked_rows = set()
    for tid, labs in labels.items():
        counts = owner_counts.get(tid, Counter())
        row = max(counts, key=counts.get) if counts else -1
        if row >= 0:
            tracked_rows.add(row)
            kind = truth.kinds[row]
            mun = truth.munitions[row] or kind
            el = float(truth.el_deg[row]) if row < truth.n_threats else float("nan")
            obj = truth.ids[row]
        else:
            kind = mun = obj = "false"
            el = float("nan")
        out.append(
            TrackRecord(
                run_name,
                tid,
                obj,
                kind,
                mun,
                el,
                t_confirm[tid],
                labs[0],
                labs[-1],
                labs,
                times[tid],
                n_classified[tid],
            )
        )
    untracked = [
        (truth.ids[r], truth.munitions[r] or truth.kinds[r])
        for r in range(len(truth.ids))
        if r not in tracked_rows and plotted[r]
    ]
    return RunResult(out, untracked, int(plotted.sum()))


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def confusion(tracks: list[TrackRecord], key: str, rows: list[str], which: str) -> dict[str, Counter]:
    out = {r: Counter() for r in rows}
    for tr in tracks:
        r = getattr(tr, key)
        out.setdefault(r, Counter())[getattr(tr, which)] += 1
    return out


def print_confusion(title: str, table: dict[str, Counter]) -> None:
    width = max(12, max(len(r) for r in table) + 1)
    head = f"{'':<{width}}" + "".join(f"{lab:>11}" for lab in LABELS) + f"{'n':>6}"
    print(title)
    print(head)
    print("-" * len(head))
    for r, c in table.items():
        n = sum(c.values())
        if n == 0:
            continue
        print(f"{r:<{width}}" + "".join(f"{c.get(lab, 0) or '.':>11}" for lab in LABELS) + f"{n:>6}")
    print()


def change_stats(tracks: list[TrackRecord], key: str, rows: list[str]) -> list[dict]:
    out = []
    for r in rows:
        sel = [t for t in tracks if getattr(t, key) == r]
        if not sel:
            continue
        ch = np.array([t.changes for t in sel])
        out.append(
            {
                key: r,
                "tracks": len(sel),
                "changed": int((ch > 0).sum()),
                "changes_mean": float(ch.mean()),
                "changes_max": int(ch.max()),
                "reclassified": int(sum(t.definite_changes > 0 for t in sel)),
                "crossed": int(sum(t.crossings > 0 for t in sel)),
                "wrong_side": int(sum(t.wrong_side for t in sel)),
                "wrong_side_s_max": float(max(t.wrong_side_s for t in sel)),
                "classified_events_mean": float(np.mean([t.classified_events for t in sel])),
                "correct_at_confirm": int(sum(t.at_confirm == t.kind for t in sel)),
                "unknown_at_confirm": int(sum(t.at_confirm == "unknown" for t in sel)),
                "correct_final": int(sum(t.final == t.kind for t in sel)),
            }
        )
    return out


def print_changes(stats: list[dict], key: str) -> None:
    width = max(12, max(len(s[key]) for s in stats) + 1)
    head = (
        f"{'':<{width}}{'tracks':>7}{'changed':>8}{'mean':>6}{'max':>5}{'reclass':>8}{'crossed':>8}"
        f"{'wrong':>6}{'max s':>6}{'events':>7}{'ok@conf':>8}{'unk@conf':>9}{'ok final':>9}"
    )
    print(head)
    print("-" * len(head))
    for s in stats:
        print(
            f"{s[key]:<{width}}{s['tracks']:>7}{s['changed']:>8}{s['changes_mean']:>6.1f}"
            f"{s['changes_max']:>5}{s['reclassified']:>8}{s['crossed']:>8}"
            f"{s['wrong_side']:>6}{s['wrong_side_s_max']:>6.0f}"
            f"{s['classified_events_mean']:>7.1f}{s['correct_at_confirm']:>8}"
            f"{s['unknown_at_confirm']:>9}{s['correct_final']:>9}"
        )
    print()
    print(
        "changed: tracks whose label changed at least once while confirmed or landed; mean / max:\n"
        "changes per track; reclass: tracks with a change between two definite labels (not unknown);\n"
        "crossed: tracks whose definite label crossed the ballistic / non-ballistic line; wrong / max s:\n"
        "tracks ever labelled on the wrong side of that line (a round as aircraft / helicopter / clutter,\n"
        "traffic or a false track as mortar / rocket / artillery) and the longest such spell, seconds;\n"
        "events: TrackClassified events per track; ok@conf / unk@conf: label at confirmation equal to\n"
        "the true kind / 'unknown'; ok final: final label equal to the true kind."
    )
    print()


def compress(labels: list[str]) -> str:
    out = [labels[0]]
    for lab in labels[1:]:
        if lab != out[-1]:
            out.append(lab)
    return " > ".join(out)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="runs per munition (6 rounds each)")
    ap.add_argument("--traffic-seeds", type=int, default=5, help="runs of the default scenario")
    ap.add_argument("--munitions", nargs="+", default=list(CATALOG), choices=list(CATALOG))
    ap.add_argument("--tracks", action="store_true", help="print one line per track")
    ap.add_argument("--json", action="store_true", help="print the counts as JSON instead of tables")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    base = load_scenario(None)
    tracks: list[TrackRecord] = []
    untracked: list[tuple[str, str, str]] = []
    jobs = [(name, s) for s in range(args.seeds) for name in args.munitions]
    jobs += [("default", s) for s in range(args.traffic_seeds)]
    names = [*CATALOG, "default"]
    for name, s in jobs:
        # a run's seed depends on its munition and number only, not on which others run
        rng = np.random.default_rng([SEED, names.index(name), s])
        scn = base if name == "default" else munition_scenario(base, name, rng)
        run_name = f"{name}#{s}"
        res = run_one(scn, run_name, rng)
        for tr in res.tracks:
            if name == "default" and tr.kind in BALLISTIC_CLASSES:
                tr.munition += " (default scn)"
        tracks += res.tracks
        untracked += [(run_name, o, m) for o, m in res.untracked]
        print(
            f"{run_name}: {len(res.tracks)} confirmed tracks, {res.in_coverage} objects plotted, "
            f"{time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
    wall = time.perf_counter() - t0

    mun_rows = list(args.munitions) + ["rocket-107mm (default scn)", "helicopter", "aircraft", "false"]
    kind_rows = list(KINDS) + ["false"]
    result = {
        "seeds": args.seeds,
        "traffic_seeds": args.traffic_seeds,
        "wall_s": wall,
        "final_by_kind": {k: dict(v) for k, v in confusion(tracks, "kind", kind_rows, "final").items()},
        "final_by_munition": {
            k: dict(v) for k, v in confusion(tracks, "munition", mun_rows, "final").items()
        },
        "confirm_by_kind": {
            k: dict(v) for k, v in confusion(tracks, "kind", kind_rows, "at_confirm").items()
        },
        "changes_by_kind": change_stats(tracks, "kind", kind_rows),
        "changes_by_munition": change_stats(tracks, "munition", mun_rows),
        "untracked": untracked,
        "tracks": len(tracks),
    }
    if args.json:
        print(json.dumps(result))
        return 0

    print(
        f"\n{len(tracks)} confirmed tracks in {len(jobs)} runs ({args.seeds} per munition, "
        f"{args.traffic_seeds} of the default scenario), {wall:.0f} s\n"
    )
    print_confusion("Final label, by true kind", confusion(tracks, "kind", kind_rows, "final"))
    print_confusion("Final label, by munition", confusion(tracks, "munition", mun_rows, "final"))
    print_confusion("Label at confirmation, by true kind", confusion(tracks, "kind", kind_rows, "at_confirm"))
    print_confusion(
        "Label at confirmation, by munition", confusion(tracks, "munition", mun_rows, "at_confirm")
    )
    print("Label changes, by true kind")
    print_changes(change_stats(tracks, "kind", kind_rows), "kind")
    print("Label changes, by munition")
    print_changes(change_stats(tracks, "munition", mun_rows), "munition")
    if untracked:
        print("Objects plotted but never followed by a confirmed track:")
        for run_name, obj, m in untracked:
            print(f"  {run_name}: {obj} ({m})")
        print()
    if args.tracks:
        print("Tracks (run, track, object, launch elevation, label history):")
        for tr in tracks:
            el = "" if np.isnan(tr.el_deg) else f" el {tr.el_deg:4.1f}"
            print(f"  {tr.run:<18} {tr.track:>4} {tr.obj:<26}{el:>8}  {compress(tr.labels)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
