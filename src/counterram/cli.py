"""The command line: ``counterram run | catalog | schema`` (more commands arrive with their issues)."""

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
    seed: Annotated[
        int | None, typer.Option(help="Seed for salvo scatter (default: the scenario's).")
    ] = None,
) -> None:
    """Fly every threat of a scenario and report launch, impact, flight time and apogee.

    Writes OUT/truth.jsonl (one line per object: threat rounds and air traffic).
    """
    import numpy as np

    from .report import print_truth_table, write_truth_jsonl
    from .scenario import ScenarioError, load_scenario
    from .truth import fly_truth

    try:
        scn = load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
    rng = np.random.default_rng(scn.seed if seed is None else seed)
    truth = fly_truth(scn, rng)
    out.mkdir(parents=True, exist_ok=True)
    write_truth_jsonl(out / "truth.jsonl", scn, truth)
    print_truth_table(scn, truth)
    typer.echo(f"wrote {out / 'truth.jsonl'}")


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
