"""Engagements end to end: the default scenario's gun, a defended base with a gun and an
interceptor launcher, the kill draws against their probabilities, and the scoring."""

from pathlib import Path

import numpy as np
import pytest

from counterram.events import Engaged, InterceptAssessed
from counterram.metrics import score_engagements, track_owners
from counterram.scenario import load_scenario
from counterram.sim import run_scenario, score_engage
from counterram.study import StudyParams, aggregate, one_run

BASE = Path(__file__).parent / "data" / "defended-base.yaml"


@pytest.fixture(scope="module")
def base_run():
    scn = load_scenario(BASE)
    return scn, run_scenario(scn)


def _owners(run):
    _, _, truth_row, track = run.plots.arrays()
    return track_owners(truth_row, track, {int(t) for t in np.unique(track[track >= 0])})


def test_engagements_stay_inside_envelopes_and_before_impact(base_run):
    scn, run = base_run
    spec = {e.id: e for e in scn.effectors}
    owners = _owners(run)
    shots = [e for e in run.events if isinstance(e, Engaged)]
    assert {e.effector for e in shots} == {"gun", "dome"}  # both effectors fought
    for e in shots:
        s = spec[e.effector]
        assert s.min_range_m <= e.range_m <= s.max_range_m
        assert e.t_fire >= e.t - 1e-9 and e.t_intercept > e.t_fire
        row = owners[e.track]
        assert 0 <= row < run.truth.n_threats  # never a false track or the helicopter
        assert e.t_intercept < run.truth.end_t_s[row]  # never after the round lands


def test_no_non_ballistic_track_is_ever_engaged(base_run):
    _, run = base_run
    owners = _owners(run)
    helo = run.truth.ids.index("helo")
    helo_tracks = {t for t, row in owners.items() if row == helo}
    assert helo_tracks  # the helicopter was tracked
    assert not {e.track for e in run.events if isinstance(e, Engaged)} & helo_tracks


def test_destroyed_rounds_stop_and_their_tracks_end(base_run):
    _, run = base_run
    t, _, truth_row, track = run.plots.arrays()
    killed = np.flatnonzero(np.isfinite(run.destroyed_t_s))
    assert killed.size >= 5
    for row in killed:
        assert not np.any((truth_row == row) & (t > run.destroyed_t_s[row] + 1e-9))
    dropped = {e.track for e in run.events if e.kind == "track_dropped" and e.reason == "destroyed"}
    kills = {e.track for e in run.events if isinstance(e, InterceptAssessed) and e.killed}
    assert dropped == kills
    impacts = {e.object: e for e in run.events if e.kind == "truth_impact"}
    for row in killed:
        assert impacts[run.truth.ids[row]].destroyed


def test_launcher_interceptors_are_finite(base_run):
    scn, run = base_run
    dome = next(e for e in scn.effectors if e.id == "dome")
    fired = sum(e.rounds for e in run.events if isinstance(e, Engaged) and e.effector == "dome")
    assert fired <= dome.capacity  # no reload inside the run (reload_s 600 s)
    assert all(
        e.rounds == dome.doctrine for e in run.events if isinstance(e, Engaged) and e.effector == "dome"
    )


def test_kill_rate_matches_the_kill_probabilities():
    """Seeded Monte Carlo over the defended base: the kills of the drawn shots against the
    Poisson-binomial expectation sum(pk), within its 95 % interval."""
    scn = load_scenario(BASE)
    p = StudyParams(launch_shift_m=300.0, aim_shift_m=100.0, thresholds=())
    res = [one_run(scn, 5, k, p) for k in range(4)]
    g = aggregate(res, ())["engagement"]
    assert g["shots_drawn"] >= 40
    assert abs(g["kill_z"]) <= 1.96, g
    assert g["kill_ci95"][0] <= g["kills"] <= g["kill_ci95"][1]


def test_default_scenario_engages_the_compound_rounds_and_lets_the_others_fall():
    scn = load_scenario(None)
    run = run_scenario(scn)
    owners = _owners(run)
    engaged_rows = {owners[e.track] for e in run.events if isinstance(e, Engaged)}
    ids = run.truth.ids
    assert engaged_rows and all(ids[r].startswith("s1.") for r in engaged_rows)
    let_go = {owners[e.track] for e in run.events if e.kind == "threat_let_go"}
    assert {ids[r] for r in let_go} >= {f"s2.{k}" for k in range(1, 6)}
    s = score_engage(run)
    assert s["wasted"] == 0 and s["let_go"] == 5
    assert s["rounds_fired"] == 150 * sum(1 for e in run.events if isinstance(e, Engaged))


def test_engagement_scores_on_a_known_case():
    """Three rounds: one bound for the defended zone and destroyed (two shots), one bound
    for it that leaks (none left), one bound for open ground, let go; a shot at a false
    track is wasted."""
    from counterram.events import CounterBatteryCue
    from counterram.geo import Site

    site = Site(32.0, 45.0, 0.0)
    threats = [
        {
            "object": "a",
            "tracks": [1],
            "would_hit": ["base"],
            "destroyed": True,
            "launch_en": np.array([0.0, 5000.0]),
        },
        {
            "object": "b",
            "tracks": [2],
            "would_hit": ["base"],
            "destroyed": False,
            "launch_en": np.array([0.0, 5000.0]),
        },
        {
            "object": "c",
            "tracks": [3],
            "would_hit": [],
            "destroyed": False,
            "launch_en": np.array([100.0, 5000.0]),
        },
    ]

    def shot(k, track, eff, n, pk):
        return Engaged(1.0, track, "mortar", eff, k, 1.0, 2.0, 32.0, 45.0, 100.0, 900.0, pk, n, 0)

    lat, lon, alt = site.to_geodetic(np.array([50.0, 5000.0, 0.0]))
    events = [
        shot(1, 1, "gun", 150, 0.5),
        shot(2, 1, "dome", 2, 0.9),
        shot(3, 9, "gun", 150, 0.4),  # false track 9: wasted
        InterceptAssessed(2.0, 1, "gun", 1, False, "drawn"),
        InterceptAssessed(2.0, 1, "dome", 2, True, "drawn"),
        InterceptAssessed(2.0, 9, "gun", 3, False, "drawn"),
        CounterBatteryCue(
            3.0, "cb-1", [1, 2, 3], float(lat), float(lon), float(alt), 40.0, [[1, 0], [0, 1]], 0.0, 1.0, 3
        ),
    ]
    s = score_engagements(threats=threats, events=events, defended={"base"}, launchers={"dome"}, site=site)
    assert (s["engaged"], s["destroyed"], s["leakers"], s["let_go"], s["wasted"]) == (1, 1, 1, 1, 1)
    assert (s["rounds_fired"], s["interceptors_fired"]) == (300, 2)
    assert (s["shots_drawn"], s["kills"]) == (3, 1)
    assert s["pk_sum"] == pytest.approx(1.8) and s["pk_var_sum"] == pytest.approx(0.25 + 0.09 + 0.24)
    # the cue against the mean truth launch point of its three rounds (33.3, 5000)
    assert s["cue_error_m"]["median"] == pytest.approx(np.hypot(50.0 - 100.0 / 3, 0.0), abs=0.05)
