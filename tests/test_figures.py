"""Figures of a simulated run: the map and the timeline of the default scenario.

The checks read the written PNGs back: their size, and the colour of the pixels inside zones
(and warning bars) whose outcome the score gives independently of the figure code.
"""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest
import shapely
from matplotlib.colors import to_rgb

from counterram import figures
from counterram.metrics import warning_intervals
from counterram.scenario import load_scenario
from counterram.sim import run_scenario, score_warn

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_score():
    run = run_scenario(load_scenario(None))
    return run, score_warn(run)


def _outcomes(run, score):
    """Zone ids by outcome, straight from the score and the events (not from figures)."""
    warned_hit = {z for rec in score.per_impact for z in rec["warned"]}
    hit = {z for rec in score.per_impact for z in rec["zones_hit"]}
    cycles = warning_intervals(run.events, [z.id for z in run.zones])
    over = {z for z, c in cycles.items() if c and z not in hit}
    quiet = {z.id for z in run.zones if not cycles[z.id] and z.id not in hit}
    return warned_hit, over, quiet


def _png_pixels(path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(path)
    return np.round(img[..., :3] * 255).astype(int)


def _mode_colour(img, xy_px):
    """Most common colour of the image at display points (N, 2) (origin bottom left)."""
    h = img.shape[0]
    cols = np.round(xy_px[:, 0]).astype(int)
    rows = h - 1 - np.round(xy_px[:, 1]).astype(int)
    ok = (cols >= 0) & (cols < img.shape[1]) & (rows >= 0) & (rows < h)
    assert ok.sum() >= 20, "zone interior not on the picture"
    px = img[rows[ok], cols[ok]]
    vals, counts = np.unique(px, axis=0, return_counts=True)
    return vals[np.argmax(counts)], counts.max() / ok.sum()


def _interior_km(poly, n=15):
    """A grid of points well inside a zone polygon (metres in), in km."""
    e0, n0, e1, n1 = poly.bounds
    inner = poly.buffer(-0.1 * min(e1 - e0, n1 - n0))
    ge, gn = np.meshgrid(np.linspace(e0, e1, n), np.linspace(n0, n1, n))
    pts = np.c_[ge.ravel(), gn.ravel()]
    return pts[shapely.contains_xy(inner, pts[:, 0], pts[:, 1])] * 1e-3


def _assert_colour(actual, name):
    expected = np.round(np.array(to_rgb(figures.ZONE_COLOURS[name])) * 255).astype(int)
    assert np.abs(actual - expected).max() <= 3, f"{actual} is not the {name} colour {expected}"


def test_map_png_zone_colours(run_score, tmp_path):
    run, score = run_score
    warned_hit, over, quiet = _outcomes(run, score)
    # the default scenario has all three outcomes, so the checks below mean something
    assert "embassy" in warned_hit and "republican-palace" in warned_hit
    assert over and quiet
    assert figures.zone_states(run, score)["embassy"] == "warned_hit"

    fig, axes = figures.map_figure(run, score)
    fig.canvas.draw()
    zones = {z.id: z for z in run.zones}
    probes = []  # (axes, zone id, expected outcome)
    for zid in sorted(warned_hit):
        probes.append((axes["zones"], zid, "warned_hit"))
    for zid in sorted(over):
        probes.append((axes["zones"], zid, "over"))
    for zid in sorted(quiet):  # quiet zones lie outside the zoom: read them on the overview
        probes.append((axes["overview"], zid, "quiet"))
    pixels = [(ax.transData.transform(_interior_km(zones[zid].polygon)), zid, st) for ax, zid, st in probes]
    path = tmp_path / "map_fig.png"
    fig.savefig(path, dpi=figures.DPI)
    img = _png_pixels(path)
    assert img.shape[:2] == (1000, 1800)
    for px, zid, st in pixels:
        colour, share = _mode_colour(img, px)
        _assert_colour(colour, st)
        assert share > 0.5, f"zone {zid}: only {share:.0%} of its interior shows its fill"

    # the writer itself
    out = figures.map_png(run, score, tmp_path / "map.png")
    assert _png_pixels(out).shape[:2] == (1000, 1800)


def test_timeline_png_warning_bars(run_score, tmp_path):
    run, score = run_score
    warned_hit, over, _ = _outcomes(run, score)
    cycles = warning_intervals(run.events, [z.id for z in run.zones])
    fig, axes = figures.timeline_figure(run, score)
    ax = axes["main"]
    fig.canvas.draw()
    rows = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    # one row per round and per warned zone
    assert {f"zone {z}" for z, c in cycles.items() if c} <= set(rows)
    assert sum(1 for k in rows if not k.startswith("zone ")) == run.truth.n_threats
    probes = []
    hit_zone = "embassy"
    a, b = cycles[hit_zone][0]  # the first salvo's cycle: its rounds fell in the embassy
    assert hit_zone in warned_hit and any(a <= r["t_impact"] < b for r in score.per_impact)
    over_zone = sorted(over)[0]
    c, d = cycles[over_zone][0]
    for zid, (t0, t1), st in ((hit_zone, (a, b), "warned_hit"), (over_zone, (c, d), "over")):
        ts = np.linspace(t0, t1, 40)[2:-2]
        probes.append((ax.transData.transform(np.c_[ts, np.full(ts.size, rows[f"zone {zid}"])]), zid, st))
    w, h = fig.get_size_inches() * figures.DPI
    path = tmp_path / "timeline_fig.png"
    fig.savefig(path, dpi=figures.DPI)
    img = _png_pixels(path)
    assert img.shape[:2] == (round(h), round(w))
    for px, zid, st in probes:
        colour, share = _mode_colour(img, px)
        _assert_colour(colour, st)
        assert share > 0.7, zid

    out = figures.timeline_png(run, score, tmp_path / "timeline.png")
    img = _png_pixels(out)
    assert img.shape[1] == round(figures.TIMELINE_WIDTH_IN * figures.DPI)


def test_extras_layers(run_score, tmp_path):
    run, score = run_score
    with pytest.raises(ValueError, match="unknown figure layer 'effectors'"):
        figures.map_png(run, score, tmp_path / "x.png", extras={"effectors": [1]})
    seen = []

    def layer(axes, r):
        seen.append(sorted(axes))
        axes["zones"].plot([0.0], [0.0], "r*", label="my layer")

    fig, axes = figures.map_figure(run, score, extras={"mine": layer})
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert seen == [["launch", "overview", "zones"]]
    assert "my layer" in labels
    fig, _ = figures.timeline_figure(run, score, extras={"mine": lambda axes, r: seen.append(sorted(axes))})
    assert seen[-1] == ["main"]
