"""Predict and warn on the default scenario, end to end: warnings against truth, the replay
of warnings at other thresholds, a small seeded Monte Carlo and the `counterram run` files."""

import json
import subprocess
import sys

import numpy as np
import pytest

from counterram.scenario import load_scenario
from counterram.sim import run_scenario, score_run, score_warn
from counterram.store import read_events
from counterram.study import StudyParams, aggregate, one_run, perturb_scenario, replay_warnings


@pytest.fixture(scope="module")
def default_run():
    scn = load_scenario(None)
    run = run_scenario(scn)
    ts = score_run(run)
    return run, ts, score_warn(run, ts)


def test_default_scenario_every_impact_in_a_zone_is_warned_early(default_run):
    run, _, ws = default_run
    # the eight rounds are all bound for Green Zone sectors; the gun may destroy some
    destroyed = [p for p in ws.per_impact if p.get("destroyed")]
    assert all(p["would_hit"] for p in destroyed)
    assert ws.impacts_in_zones + len(destroyed) == 8
    assert ws.missed_warnings == 0
    for p in ws.per_impact:
        if p.get("destroyed"):
            continue
        assert set(p["zones_hit"]) <= set(p["warned"])
        assert p["lead_time_s"] >= 15.0
    # the bar: median lead time at least 80 % of the physical maximum (measured 0.97)
    assert ws.lead_time_ratio_median >= 0.8
    # at 10 s before impact the predicted impact is within tens of metres of the truth
    assert ws.ipp_error_m["t-10"] < 60.0


def test_default_scenario_traffic_never_warns(default_run):
    run, ts, ws = default_run
    assert ws.non_ballistic_warnings == 0
    traffic_tracks = {o["track"] for o in ts.per_object if o["kind"] in ("helicopter", "aircraft")}
    assert None not in traffic_tracks and len(traffic_tracks) == 2
    for e in run.events:
        if e.kind == "zone_warned":
            assert not set(e.tracks) & traffic_tracks


def test_warning_lifecycle_in_the_run_has_no_flapping(default_run):
    run, _, _ = default_run
    seen = set()
    for e in sorted(run.events, key=lambda e: e.t):
        if e.kind == "zone_warned":
            new = [t for t in e.tracks if (e.zone, t) not in seen]
            assert new, f"zone {e.zone} re-warned by the same tracks {e.tracks}"
            seen.update((e.zone, t) for t in e.tracks)
    # every warning cycle ends with an all-clear after its last round landed
    cycles = [e for e in run.events if e.kind == "zone_warned" and not e.extends]
    clears = [e for e in run.events if e.kind == "all_clear"]
    assert len(cycles) == len(clears)


def test_replay_at_the_engine_threshold_gives_the_engine_warnings(default_run):
    run, _, _ = default_run
    th = run.engine.config.warn.threshold
    key = lambda evs: sorted((round(e.t, 6), e.zone, tuple(e.tracks)) for e in evs if e.kind == "zone_warned")  # noqa: E731
    assert key(replay_warnings(run, th)) == key(run.events)
    # a higher threshold warns a subset of the (zone, track) pairs
    hi = {(e.zone, t) for e in replay_warnings(run, 0.5) if e.kind == "zone_warned" for t in e.tracks}
    lo = {(e.zone, t) for e in run.events if e.kind == "zone_warned" for t in e.tracks}
    assert hi < lo


def test_perturbed_scenario_moves_points_within_bounds():
    scn = load_scenario(None)
    p = StudyParams(launch_shift_m=1000.0, aim_shift_m=400.0, noise_scale=(0.75, 1.5))
    s = perturb_scenario(scn, np.random.default_rng(3), p)
    site = scn.site
    for a, b in zip(scn.threats, s.threats, strict=True):
        aim0 = site.to_enu(a.aim.lat, a.aim.lon, 0.0)
        aim1 = site.to_enu(b.aim.lat, b.aim.lon, 0.0)
        assert 0.0 < np.hypot(*(aim1 - aim0)[0:2]) <= 400.0 + 1e-6
        la0 = site.to_enu(a.launch.lat, a.launch.lon, 0.0)
        la1 = site.to_enu(b.launch.lat, b.launch.lon, 0.0)
        assert np.hypot(*(la1 - la0)[0:2]) <= 1000.0 + 1e-6 + np.hypot(*(aim1 - aim0)[0:2])
    f = s.sensors[0].sigma_range_m / scn.sensors[0].sigma_range_m
    assert 0.75 <= f <= 1.5
    assert s.sensors[0].sigma_az_deg / scn.sensors[0].sigma_az_deg == pytest.approx(f)


def test_small_monte_carlo_is_seeded_and_misses_nothing():
    """Three runs of the study (the 200-run study is `counterram run --runs 200`, see
    docs/warning.md): no missed warning, and run k is reproducible alone."""
    scn = load_scenario(None)
    p = StudyParams(thresholds=(0.02, 0.5))
    res = [one_run(scn, 7, k, p) for k in range(3)]
    agg = aggregate(res, p.thresholds)
    assert agg["missed_warnings"] == 0
    assert agg["impacts_in_zones"] > 0
    again = one_run(scn, 7, 1, p)
    assert again.summary == res[1].summary
    # raising the threshold never adds over-warnings in the replay
    by = {r["threshold"]: r for r in agg["tradeoff"]}
    assert by[0.5]["over_warnings"] <= by[0.02]["over_warnings"]


@pytest.mark.parametrize("k", [19, 131])
def test_study_runs_where_the_airliner_looked_ballistic_warn_nothing(k):
    """Runs 19 and 131 of the 200-run study (seed 2020): with P(ballistic) >= 0.9 as the
    label threshold the airliner, on approach with a noisy radar, was labelled mortar 3.6 s
    after its first plot and warned the Republican Palace sector (8 warnings in each run).
    The threshold is now 0.99 (docs/tracking.md); the same runs warn for rounds only."""
    scn = load_scenario(None)
    res = one_run(scn, 2020, k, StudyParams(thresholds=()))
    assert res.summary["non_ballistic_warnings"] == 0
    assert res.summary["missed_warnings"] == 0 and res.summary["impacts_in_zones"] > 0


def test_run_command_writes_summary_events_and_figures(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "counterram", "run", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "timeline" in out.stdout and "warning and prediction score" in out.stdout
    s = json.loads((tmp_path / "summary.json").read_text())
    for key in (
        "impacts_in_zones",
        "missed_warnings",
        "over_warnings",
        "lead_time_s",
        "lead_time_ratio_median",
        "ipp_error_m",
        "poo_error_m",
        "ipp_rmse_over_crlb",
        "non_ballistic_warnings",
    ):
        assert key in s, key
    assert set(s["lead_time_s"]) == {"median", "min"}
    assert set(s["ipp_error_m"]) == {"t-20", "t-10", "t-5", "last"}
    assert s["missed_warnings"] == 0 and s["impacts_in_zones"] + s["destroyed"] == 8
    for key in ("engaged", "destroyed", "leakers", "let_go", "wasted", "rounds_fired", "interceptors_fired"):
        assert isinstance(s[key], int), key
    assert s["cue_error_m"]["median"] < 150.0
    evs = read_events(tmp_path)
    kinds = {e["kind"] for e in evs}
    assert {"truth_launch", "truth_impact", "track_confirmed", "impact_predicted", "zone_warned"} <= kinds
    assert {"origin_estimated", "all_clear"} <= kinds
    # the store is in time order as the run made it (truth events interleaved)
    launches = [e["t"] for e in evs if e["kind"] == "truth_launch"]
    assert launches == sorted(launches)
    for png in ("map.png", "timeline.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
