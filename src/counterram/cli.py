"""The command line: ``counterram run | track | events | schema | catalog``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="counterram: a counter-rocket, artillery and mortar (C-RAM) engine. "
    "Sense, track, predict, warn and engage - in simulation and live.",
)


def _fail(msg: str) -> None:
    typer.echo(msg, err=True)
    raise typer.Exit(code=2)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


@app.command()
def run(
    scenario: Annotated[
        str | None,
        typer.Argument(help="Scenario YAML file, or a packaged scenario name. Default: baghdad-green-zone."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("out"),
    seed: Annotated[int | None, typer.Option(help="Seed of the run (default: the scenario's).")] = None,
    plots_out: Annotated[
        Path | None, typer.Option(help="Also write every simulated plot (JSON Lines).")
    ] = None,
    runs: Annotated[
        int,
        typer.Option(
            min=1,
            help="Monte Carlo: this many seeded runs with launch points, aim points and radar noise "
            "varied (docs/warning.md); writes OUT/study.json instead of a single run's files.",
        ),
    ] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Processes for --runs (default: 1).")] = 1,
    figures: Annotated[bool, typer.Option(help="Write map.png and timeline.png.")] = True,
) -> None:
    """Fly, sense, track, predict, warn and engage a scenario, and score it against truth.

    Prints each threat's flight, its tracking, a timeline (launch, first plot, confirmation,
    warning per zone, engagements, all-clear, impact or destruction, counter-battery cues)
    and the score tables, and writes OUT/truth.jsonl,
    OUT/summary.json, the event store OUT/events.sqlite (mirrored to OUT/events.jsonl),
    OUT/map.png and OUT/timeline.png. With --runs N: a seeded Monte Carlo study with a
    progress bar, written to OUT/study.json (and OUT/tradeoff.png).
    """
    import numpy as np

    from .scenario import ScenarioError, load_scenario

    try:
        scn = load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
    seed = scn.seed if seed is None else seed
    out.mkdir(parents=True, exist_ok=True)
    if runs > 1:
        _study(scn, runs, seed, workers, out, figures)
        return

    from .report import (
        console,
        print_engage_score,
        print_timeline,
        print_tracking,
        print_truth_table,
        print_warn_score,
        summary_dict,
        write_truth_jsonl,
    )
    from .sensing.plots import write_plots
    from .sim import run_scenario, score_engage, score_run, score_warn, warn_summary
    from .store import EventStore
    from .truth import fly_truth

    rng = np.random.default_rng(seed)
    truth = fly_truth(scn, rng)
    write_truth_jsonl(out / "truth.jsonl", scn, truth)
    con = console()
    print_truth_table(scn, truth, con)
    summary = {"scenario": scn.name, "seed": seed, "threats": truth.n_threats}
    if scn.sensors:
        for stale in ("events.sqlite", "events.sqlite-wal", "events.sqlite-shm", "events.jsonl"):
            (out / stale).unlink(missing_ok=True)  # a run's store holds that run's events only
        with EventStore(out) as store:
            sim = run_scenario(scn, rng, truth=truth, keep_batches=plots_out is not None, sink=store.append)
        score = score_run(sim)
        print_tracking(scn, sim, score, con)
        ws = score_warn(sim, score)
        es = score_engage(sim)
        print_timeline(sim, score, con)
        print_warn_score(sim, ws, con)
        print_engage_score(sim, es, con)
        summary.update(summary_dict(score))
        summary.update(warn_summary(ws))
        summary.update(es)
        summary["impacts"] = ws.per_impact
        if plots_out is not None:
            n = write_plots(plots_out, sim.batches, [r.id for r in sim.radars])
            typer.echo(f"wrote {plots_out} ({n} plots)")
        if figures:
            from .figures import map_png, timeline_png

            layers = {"engage": True} if scn.effectors else None
            map_png(sim, ws, out / "map.png", layers)
            timeline_png(sim, ws, out / "timeline.png", layers)
            typer.echo(f"wrote {out / 'map.png'} and {out / 'timeline.png'}")
        typer.echo(f"wrote the event store {out / 'events.sqlite'} (and {out / 'events.jsonl'})")
    else:
        typer.echo("no sensors in the scenario: flight only")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"wrote {out / 'truth.jsonl'} and {out / 'summary.json'}")


def _study(scn, runs: int, seed: int, workers: int, out: Path, figures: bool) -> None:
    """``counterram run --runs N``: the Monte Carlo study."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .report import console, print_study
    from .study import aggregate, run_study

    if not scn.sensors:
        _fail(f"scenario {scn.name!r} has no sensors: a study needs something to track with")
    con = console()
    results = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("missed {task.fields[missed]}"),
        TimeRemainingColumn(),
        console=con,
    ) as bar:
        task = bar.add_task(f"{scn.name}: Monte Carlo", total=runs, missed=0)

        def tick(r):
            results.append(r)
            bar.update(task, advance=1, missed=sum(x.summary["missed_warnings"] for x in results))

        run_study(scn, runs, seed, workers=workers, progress=tick)
    agg = aggregate(results)
    per_run = [{"run": r.k, **r.summary} for r in results]
    study = {"scenario": scn.name, "seed": seed, **agg, "per_run": per_run}
    (out / "study.json").write_text(json.dumps(study, indent=2) + "\n", encoding="utf-8")
    print_study(scn.name, agg, con)
    if figures:
        from .figures import tradeoff_png
        from .warn import WarnParams

        tradeoff_png(
            agg, out / "tradeoff.png", title=f"{scn.name}: {runs} runs", chosen=WarnParams().threshold
        )
        typer.echo(f"wrote {out / 'tradeoff.png'}")
    typer.echo(f"wrote {out / 'study.json'}")


@app.command()
def track(
    plots: Annotated[Path, typer.Argument(help="Plot recording, JSON Lines (one plot a line).")],
    sensors: Annotated[Path, typer.Option(help="Sensors YAML file (sensors: list of radars).")],
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("out"),
    ground_alt_m: Annotated[
        float | None, typer.Option(help="Ground height above the ellipsoid, m (default: the first sensor's).")
    ] = None,
    batch_s: Annotated[
        float, typer.Option(help="Group plots into steps of this many seconds (0: one step per timestamp).")
    ] = 0.0,
) -> None:
    """Run the engine on a recording: writes OUT/tracks.jsonl, OUT/predictions.jsonl and the
    event store (OUT/events.sqlite, mirrored to OUT/events.jsonl).

    tracks.jsonl has one line per confirmed track per update; predictions.jsonl one line per
    ballistic track per prediction (impact and origin with their east/north covariance). The
    site origin is the first sensor. Bad plot lines are reported (file:line) and skipped;
    every good line is used.
    """
    from .engine import Engine
    from .replay import batches, radars_for, recording_env, site_for
    from .report import track_records
    from .scenario import ScenarioError, load_sensors
    from .sensing.plots import read_plots
    from .store import EventStore

    try:
        specs = load_sensors(sensors)
    except ScenarioError as exc:
        _fail(str(exc))
    if not plots.exists():
        _fail(f"{plots}: no such file")
    batch, errors = read_plots(plots, [s.id for s in specs])
    for e in errors[:20]:
        typer.echo(str(e), err=True)
    if len(errors) > 20:
        typer.echo(f"... and {len(errors) - 20} more bad lines", err=True)
    site = site_for(specs)
    env = recording_env(site, specs[0].alt_m if ground_alt_m is None else ground_alt_m)
    engine = Engine(env, radars_for(specs, site, batch))
    out.mkdir(parents=True, exist_ok=True)
    n_rec = n_pred = 0
    with (
        open(out / "tracks.jsonl", "w", encoding="utf-8") as ft,
        open(out / "predictions.jsonl", "w", encoding="utf-8") as fp,
        EventStore(out) as store,
    ):
        for b in batches(batch, batch_s):
            res = engine.step(b)
            store.append(res.events)
            view = engine.tracks()
            for rec in track_records(view, res.report.updated, site):
                ft.write(json.dumps(rec, separators=(",", ":")) + "\n")
                n_rec += 1
            for rec in engine.prediction_records(res.predicted):
                fp.write(json.dumps(rec, separators=(",", ":")) + "\n")
                n_pred += 1
    view = engine.tracks()
    typer.echo(
        f"{len(batch)} plots ({len(errors)} bad lines skipped), {engine.tracker.next_id - 1} tracks started, "
        f"{len(view)} confirmed or landed now; wrote {out / 'tracks.jsonl'} ({n_rec} lines), "
        f"{out / 'predictions.jsonl'} ({n_pred} lines) and the event store {out / 'events.sqlite'}"
    )


@app.command()
def events(
    directory: Annotated[Path, typer.Argument(help="A run's output directory (with events.sqlite).")],
    kind: Annotated[str | None, typer.Option(help="Only events of this kind (e.g. zone_warned).")] = None,
    zone: Annotated[str | None, typer.Option(help="Only events about this zone id.")] = None,
    track: Annotated[int | None, typer.Option(help="Only events about this track id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines instead of a table.")] = False,
) -> None:
    """List the events of a run from its event store."""
    from .store import events_command

    raise typer.Exit(events_command(directory, kind, zone, as_json, track=track))


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scenario file."""
    from .scenario import scenario_json_schema

    typer.echo(json.dumps(scenario_json_schema(), indent=2))


@app.command()
def catalog(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The munition catalog: each round's model maximum range beside its public figure.

    Ranges are computed with the flight model in the ISA, calm air, launch and impact at sea
    level at 45 degrees latitude, searching elevation for the longest range.
    """
    from .physics.munitions import CATALOG
    from .report import catalog_rows

    rows = catalog_rows(CATALOG.values())
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="counterram munition catalog (model vs public maximum range)")
    for col in ("munition", "kind", "mass kg", "speed m/s", "model range m", "public m", "error", "best el"):
        t.add_column(col, justify="right" if col not in ("munition", "kind") else "left")
    for r in rows:
        t.add_row(
            r["munition"],
            r["kind"],
            f"{r['mass_kg']:.2f}",
            f"{r['speed_mps']:.0f}",
            f"{r['model_max_range_m']:.0f}",
            f"{r['public_max_range_m']:.0f}",
            f"{r['error_pct']:+.1f} %",
            f"{r['best_elevation_deg']:.1f}",
        )
    Console().print(t)


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
