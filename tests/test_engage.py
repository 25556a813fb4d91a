"""Engagement: effector models, windows against closed forms, threat evaluation, assignment
under scarcity, ammunition and reload, shoot-look-shoot, and the scenario's effector records."""

import numpy as np
import pytest
import shapely
from scipy.optimize import brentq

from counterram.engage import (
    EffectorGeometry,
    Engager,
    angle_between_rad,
    engagement_windows,
    gun_pk_per_burst,
    gun_range_m,
    gun_time_of_flight_s,
    launcher_time_of_flight_s,
    salvo_pk,
)
from counterram.events import Engaged, InterceptAssessed, ThreatLetGo
from counterram.geo import Site
from counterram.scenario import EngageSpec, GunSpec, LauncherSpec, ScenarioError, parse_scenario
from counterram.warn import ZoneGeometry

SITE = Site(33.3, 44.4, 40.0)
G = np.array([0.0, 0.0, -9.80665])


def gun(**kw) -> EffectorGeometry:
    spec = GunSpec(id="g", kind="gun", lat=SITE.lat_deg, lon=SITE.lon_deg, alt_m=SITE.alt_m, **kw)
    return EffectorGeometry.from_spec(spec, SITE)


def launcher(**kw) -> EffectorGeometry:
    spec = LauncherSpec(id="l", kind="launcher", lat=SITE.lat_deg, lon=SITE.lon_deg, alt_m=SITE.alt_m, **kw)
    return EffectorGeometry.from_spec(spec, SITE)


def line(p0, v, t0=0.0, t1=20.0, dt=0.5):
    """A straight-line (no gravity) flight sampled every dt: times (K,), positions (1, K, 3)."""
    t = np.arange(t0, t1 + 1e-9, dt)
    return t, (np.asarray(p0, float) + np.asarray(v, float) * (t - t0)[:, None])[None]


def parabola(p0, v0, t0=0.0, t1=80.0, dt=0.5):
    """A vacuum flight sampled every dt until it meets u = 0; times (K,), positions (1, K, 3)."""
    t = np.arange(t0, t1 + 1e-9, dt)
    s = (t - t0)[:, None]
    p = np.asarray(p0, float) + np.asarray(v0, float) * s + 0.5 * G * s**2
    keep = p[:, 2] >= 0.0
    return t[keep], p[keep][None]


def zones(*values, defended=True):
    sq = shapely.Polygon([(0, 0), (1, 0), (1, 1)])
    return [ZoneGeometry(f"z{i}", "", f"siren-z{i}", defended, v, sq) for i, v in enumerate(values)]


# ---------------------------------------------------------------------------------------------
# Pure models
# ---------------------------------------------------------------------------------------------


def test_gun_time_of_flight_integrates_the_exponential_speed_law():
    v0, L = 1100.0, 1850.0
    s = np.linspace(0.0, 2000.0, 9)
    t = gun_time_of_flight_s(s, v0, L)
    # dt/ds = 1 / v(s) = exp(s/L) / v0, integrated numerically
    grid = np.linspace(0.0, 2000.0, 200_001)
    num = np.concatenate(
        [[0.0], np.cumsum(0.5 * np.diff(grid) * (np.exp(grid[1:] / L) + np.exp(grid[:-1] / L)))]
    )
    assert np.allclose(t, np.interp(s, grid, num) / v0, rtol=1e-8, atol=1e-12)
    assert np.allclose(gun_range_m(t, v0, L), s)
    # short range: close to s / v0; at 1.5 km about 2.1 s
    assert gun_time_of_flight_s(10.0, v0, L) == pytest.approx(10.0 / v0, rel=3e-3)
    assert 2.0 < gun_time_of_flight_s(1500.0, v0, L) < 2.2


def test_pk_falls_with_range_and_salvos_combine():
    assert gun_pk_per_burst(0.0, 0.8, 1000.0) == pytest.approx(0.8)
    assert gun_pk_per_burst(1000.0, 0.8, 1000.0) == pytest.approx(0.4)
    r = np.linspace(0, 3000, 31)
    assert np.all(np.diff(gun_pk_per_burst(r, 0.8, 1000.0)) < 0)
    assert salvo_pk(0.68, 2) == pytest.approx(0.8976)
    assert launcher_time_of_flight_s(7000.0, 3.0, 700.0) == pytest.approx(13.0)
    assert angle_between_rad([1, 0, 0], [0, 1, 0]) == pytest.approx(np.pi / 2)


# ---------------------------------------------------------------------------------------------
# Windows against closed forms
# ---------------------------------------------------------------------------------------------

P0, V = np.array([-3000.0, 200.0, 400.0]), np.array([300.0, 0.0, 0.0])


def crossing_t(r):
    """When the straight line P0 + V t is at range r from the origin (inbound)."""
    return (-np.sqrt(r**2 - P0[1] ** 2 - P0[2] ** 2) - P0[0]) / V[0]


def test_straight_line_window_opens_and_closes_at_the_range_crossings():
    eff = gun(min_range_m=500.0)
    for dt in (0.5, 0.1):
        t, p = line(P0, V, dt=dt)
        w = engagement_windows(eff, 0.0, 0.0, t, p)
        assert w.feasible[0]
        assert w.open_t_s[0] == pytest.approx(crossing_t(1500.0), abs=1e-9)
        assert w.close_t_s[0] == pytest.approx(crossing_t(500.0), abs=1e-9)
        # the intercept is at the opening, on the line, at maximum range
        assert w.intercept_t_s[0] == w.open_t_s[0]
        assert np.allclose(w.intercept_enu_m[0], P0 + V * w.open_t_s[0], atol=1e-6)
        assert w.range_m[0] == pytest.approx(1500.0, abs=1e-6)
        assert w.fire_t_s[0] == pytest.approx(w.open_t_s[0] - gun_time_of_flight_s(1500.0, 1100.0, 1850.0))
        assert w.pk[0] == pytest.approx(gun_pk_per_burst(1500.0, 0.8, 1000.0))


def test_straight_line_intercept_when_the_gun_is_late_solves_fire_plus_flight():
    eff = gun(min_range_m=500.0)
    t_now = 5.0  # the target is about to enter; the gun must still slew from its stow

    def gap(tq):  # t - tof(r(t)) - (t_now + slew(t)) = 0 at the intercept
        pos = P0 + V * tq
        r = np.linalg.norm(pos)
        slew = angle_between_rad(eff.stow, pos / r) / np.radians(115.0) + 0.5
        return tq - gun_time_of_flight_s(r, 1100.0, 1850.0) - t_now - slew

    expect = brentq(gap, 5.0, 9.0, xtol=1e-13)
    results = []
    for dt in (0.5, 0.25, 1.0):
        t, p = line(P0, V, dt=dt)
        w = engagement_windows(eff, t_now, 0.0, t, p)
        results.append(w.intercept_t_s[0])
        assert w.intercept_t_s[0] == pytest.approx(expect, abs=1e-8)
        assert w.fire_t_s[0] == pytest.approx(t_now + w.slew_s[0], abs=1e-8)
        r = np.linalg.norm(w.intercept_enu_m[0])
        assert w.fire_t_s[0] + gun_time_of_flight_s(r, 1100.0, 1850.0) == pytest.approx(w.intercept_t_s[0])
    assert np.ptp(results) < 1e-8
    # a gun already laid on the target fires at once: t_now + tof(r(t)) = t
    t, p = line(P0, V)
    laid = brentq(
        lambda tq: tq - gun_time_of_flight_s(np.linalg.norm(P0 + V * tq), 1100.0, 1850.0) - t_now, 5, 9
    )
    w2 = engagement_windows(eff, t_now, 0.0, t, p, pointing=(P0 + V * laid) / np.linalg.norm(P0 + V * laid))
    assert w2.slew_s[0] == 0.0
    assert w2.intercept_t_s[0] == pytest.approx(laid, abs=1e-8) and laid < expect
    assert w2.fire_t_s[0] == pytest.approx(t_now, abs=1e-8)


def test_ready_time_delays_the_fire_time():
    eff = gun(min_range_m=500.0)
    t, p = line(P0, V)
    w = engagement_windows(eff, 0.0, 6.0, t, p)
    assert w.fire_t_s[0] == pytest.approx(6.0 + w.slew_s[0], abs=1e-8)
    assert w.intercept_t_s[0] > crossing_t(1500.0)


def test_vacuum_parabola_launcher_intercept_from_the_quartic():
    eff = launcher()
    p0, v0 = np.array([18000.0, 1000.0, 0.0]), np.array([-400.0, 0.0, 250.0])
    t, p = parabola(p0, v0)
    t_now, delay, speed = 10.0, 3.0, 700.0
    w = engagement_windows(eff, t_now, 0.0, t, p)
    # |p(t)|^2 = (speed (t - t_now - delay))^2: a quartic in t
    px = [np.polynomial.Polynomial([p0[c], v0[c], 0.5 * G[c]]) for c in range(3)]
    r2 = px[0] ** 2 + px[1] ** 2 + px[2] ** 2
    quart = r2 - (speed * np.polynomial.Polynomial([-(t_now + delay), 1.0])) ** 2
    roots = quart.roots()
    real = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    expect = real[real > t_now + delay][0]
    assert w.intercept_t_s[0] == pytest.approx(expect, abs=1e-7)
    assert w.fire_t_s[0] == pytest.approx(t_now, abs=1e-7)
    assert w.range_m[0] == pytest.approx(speed * (expect - t_now - delay), abs=1e-4)
    assert w.pk[0] == pytest.approx(1 - (1 - 0.68) ** 2)
    # the window closes where the rocket comes within the 4 km minimum range: |p|^2 = 4000^2
    roots = (r2 - 4000.0**2).roots()
    real = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    assert w.close_t_s[0] == pytest.approx(real[real > expect][0], abs=1e-7)


def test_no_window_outside_the_envelope_or_after_impact():
    eff = gun(min_range_m=500.0)
    # passes 3 km away: never inside 1.5 km
    t, p = line([-5000.0, 3000.0, 400.0], V)
    assert not engagement_windows(eff, 0.0, 0.0, t, p).feasible[0]
    # below the minimum elevation: skims along at 20 m height (under 3 deg beyond 400 m)
    t, p = line([-3000.0, 500.0, 20.0], V)
    w = engagement_windows(eff, 0.0, 0.0, t, p)
    assert not w.feasible[0] or np.degrees(np.arcsin(20.0 / w.range_m[0])) >= 3.0 - 1e-9
    # impact (the end of the path) before the window opens
    t, p = line(P0, V, t1=5.0)
    assert not engagement_windows(eff, 0.0, 0.0, t, p).feasible[0]
    t, p = line(P0, V)
    assert not engagement_windows(eff, 0.0, 0.0, t, p, t_impact_s=[5.2]).feasible[0]
    # the path is long past: nothing before now
    assert not engagement_windows(eff, 30.0, 0.0, t, p).feasible[0]
    # a launcher never engages inside its 4 km minimum range
    assert not engagement_windows(launcher(), 0.0, 0.0, t, p).feasible[0]


def test_windows_are_vectorised_over_tracks():
    eff = gun(min_range_m=500.0)
    t, p1 = line(P0, V)
    _, p2 = line([-5000.0, 3000.0, 400.0], V)
    _, p3 = line(P0 + [0, 100, 0], V)
    w = engagement_windows(eff, 0.0, 0.0, t, np.concatenate([p1, p2, p3]))
    assert w.feasible.tolist() == [True, False, True]
    one = engagement_windows(eff, 0.0, 0.0, t, p3)
    assert w.intercept_t_s[2] == pytest.approx(one.intercept_t_s[0], abs=1e-12)
    assert np.isnan(w.intercept_t_s[1]) and np.isnan(w.pk[1])


# ---------------------------------------------------------------------------------------------
# The engager
# ---------------------------------------------------------------------------------------------


def updates(eng, t0, t1, *args, dt=1.0, **kw):
    """Plan at every update from t0 to t1 (inclusive), as the engine would; all the events."""
    out = []
    for tn in np.arange(t0, t1 + 1e-9, dt):
        out += eng.plan(float(tn), *args, **kw)
    return out


def engaged(events):
    return [e for e in events if isinstance(e, Engaged)]


def let_go(events):
    return [e for e in events if isinstance(e, ThreatLetGo)]


def test_non_ballistic_tracks_are_never_engaged():
    eng = Engager([gun(min_range_m=500.0)], SITE)
    t, p = line(P0, V)
    for label in ("aircraft", "helicopter", "bird", "unknown", "clutter"):
        for tn in np.arange(0.0, 10.0, 0.5):
            events = eng.plan(tn, [7], [label], t, p, [[1.0]], zones(10.0))
            assert events == []
    assert eng.shots == [] and eng.left[0] == 1550
    # the same track as a rocket is engaged
    assert len(engaged(updates(eng, 0.0, 4.0, [7], ["rocket"], t, p, [[1.0]], zones(10.0)))) == 1


def test_rounds_bound_for_open_ground_are_let_go_once():
    eng = Engager([gun(min_range_m=500.0)], SITE, EngageSpec(threshold=0.1))
    t, p = line(P0, V)
    ev = updates(
        eng,
        0.0,
        4.0,
        [1, 2],
        ["mortar", "rocket"],
        t,
        np.concatenate([p, p]),
        [[0.05, 0.9], [0.5, 0.0]],
        [*zones(10.0), *zones(5.0, defended=False)],
    )
    # track 1: 0.05 on the defended zone (0.9 on an undefended one): let go; track 2 engaged
    assert [(e.track, e.reason) for e in let_go(ev)] == [(1, "open_ground")]
    assert let_go(ev)[0].p_defended == pytest.approx(0.05)
    assert [e.track for e in engaged(ev)] == [2]
    ev = eng.plan(5.0, [1], ["mortar"], t, p, [[0.05, 0.9]], [*zones(10.0), *zones(5.0, defended=False)])
    assert ev == []


def test_one_interceptor_two_threats_the_more_valuable_zone_is_engaged():
    t1, pa = parabola([20000.0, 3000.0, 0.0], [-350.0, 0.0, 350.0])
    t2, pb = parabola([21000.0, -3000.0, 0.0], [-350.0, 0.0, 352.0])
    k = min(t1.size, t2.size)
    paths = np.concatenate([pa[:, :k], pb[:, :k]])
    # track 11 more urgent, bound for the low-value zone; track 12 for the high-value one
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    for low_first in (True, False):
        order = [0, 1] if low_first else [1, 0]
        eng = Engager([launcher(interceptors_loaded=1, spare_loads=0)], SITE)
        ev = eng.plan(
            10.0,
            np.array([11, 12])[order],
            ["rocket"] * 2,
            t1[:k],
            paths[order],
            probs[order],
            zones(2.0, 10.0),
        )
        hits = engaged(ev)
        assert [e.track for e in hits] == [12]
        assert hits[0].rounds == 1 and hits[0].remaining == 0
        assert hits[0].pk == pytest.approx(0.68)
        assert [(e.track, e.reason) for e in let_go(ev)] == [(11, "no_ammunition")]
    # none left: none engaged, both recorded
    eng = Engager([launcher(interceptors_loaded=0, spare_loads=0)], SITE)
    ev = eng.plan(10.0, [11, 12], ["rocket"] * 2, t1[:k], paths, probs, zones(2.0, 10.0))
    assert engaged(ev) == []
    assert sorted((e.track, e.reason) for e in let_go(ev)) == [(11, "no_ammunition"), (12, "no_ammunition")]
    assert engaged(eng.plan(20.0, [11, 12], ["rocket"] * 2, t1[:k], paths, probs, zones(2.0, 10.0))) == []


def test_doctrine_two_fires_two_interceptors_and_the_launcher_stays_finite():
    t, p = parabola([20000.0, 3000.0, 0.0], [-350.0, 0.0, 350.0])
    eng = Engager([launcher(interceptors_loaded=5, spare_loads=0)], SITE)
    fired = []
    for tid in range(1, 6):
        ev = eng.plan(10.0 + 3.0 * tid, [tid], ["rocket"], t, p, [[1.0]], zones(5.0))
        fired += [(e.rounds, e.remaining) for e in engaged(ev)]
    assert fired == [(2, 3), (2, 1), (1, 0)]
    assert eng.left[0] == 0


def test_gun_ammunition_falls_by_rate_times_burst_and_reloads():
    eff = gun(min_range_m=500.0, magazine_rounds=300, reload_s=30.0, spare_loads=1)
    assert eff.shot_size == 150  # 4,500 rounds/min x 2 s
    eng = Engager([eff], SITE)
    z = zones(10.0)

    def attack(tid, t0):
        """Updates every second; every shot kills (resolved when due, as a simulation does)."""
        t, p = line(P0, V, t0=t0, t1=t0 + 20.0)
        ev = []
        for tn in np.arange(t0, t0 + 10.0):
            for shot in eng.due(tn):
                eng.resolve(shot, True, shot.t_intercept_s)
            ev += eng.plan(tn, [tid], ["mortar"], t, p, [[1.0]], z)
        return engaged(ev)

    a = attack(1, 0.0)
    assert [(e.rounds, e.remaining) for e in a] == [(150, 150)]
    b = attack(2, 20.0)
    assert [(e.rounds, e.remaining) for e in b] == [(150, 0)]
    reload_done = b[0].t_fire + 2.0 + 30.0
    assert eng.state()[0]["reload_until"] == pytest.approx(reload_done)
    assert attack(3, 40.0) == []  # still reloading through the whole window
    c = attack(4, 60.0)  # reloaded from the one spare magazine
    assert [(e.rounds, e.remaining) for e in c] == [(150, 150)]
    assert eng.state()[0]["spare_loads"] == 0
    assert [(e.rounds, e.remaining) for e in attack(5, 80.0)] == [(150, 0)]
    # out for good: the next threat is let go for want of ammunition
    t, p = line(P0, V, t0=100.0, t1=120.0)
    ev = updates(eng, 100.0, 110.0, [6], ["mortar"], t, p, [[1.0]], z)
    assert engaged(ev) == [] and [e.reason for e in let_go(ev)] == ["no_ammunition"]


def test_shoot_look_shoot_after_a_miss():
    eng = Engager([gun(min_range_m=500.0)], SITE, EngageSpec(assess_s=1.0))
    t, p = line(P0, V)
    z = zones(10.0)
    first = engaged(updates(eng, 0.0, 3.0, [3], ["rocket"], t, p, [[1.0]], z))
    # laid on the target while waiting, the gun fires as it enters the envelope
    assert len(first) == 1 and first[0].t_intercept == pytest.approx(crossing_t(1500.0))
    assert eng.due(first[0].t_intercept - 0.01) == []
    (shot,) = eng.due(first[0].t_intercept)
    rng = np.random.default_rng(5)
    draws = rng.random(3)  # seeded draws: the first is a miss against pk 0.17
    assert draws[0] >= shot.pk
    out = eng.resolve(shot, bool(draws[0] < shot.pk), shot.t_intercept_s)
    assert isinstance(out[0], InterceptAssessed) and out[0].killed is False and out[0].basis == "drawn"
    # while the result is being assessed: no second engagement
    assert engaged(eng.plan(shot.t_intercept_s + 0.5, [3], ["rocket"], t, p, [[1.0]], z)) == []
    second = engaged(eng.plan(shot.t_intercept_s + 1.0, [3], ["rocket"], t, p, [[1.0]], z))
    assert len(second) == 1
    assert second[0].t_intercept > first[0].t_intercept + 1.0
    assert second[0].range_m < first[0].range_m and second[0].pk > first[0].pk
    assert second[0].t_intercept <= crossing_t(500.0)
    # killed: never engaged again
    (shot2,) = eng.due(np.inf)
    eng.resolve(shot2, True, shot2.t_intercept_s)
    assert eng.plan(9.0, [3], ["rocket"], t, p, [[1.0]], z) == []


def test_live_mode_a_track_still_updated_after_the_assessment_is_a_miss():
    eng = Engager([gun(min_range_m=500.0)], SITE, EngageSpec(assess_s=1.0))
    t, p = line(P0, V)
    z = zones(10.0)
    (first,) = engaged(updates(eng, 0.0, 3.0, [3], ["rocket"], t, p, [[1.0]], z))
    # not refreshed by a plot: no verdict yet
    assert eng.plan(first.t_intercept + 1.0, [3], ["rocket"], t, p, [[1.0]], z, updated=[False]) == []
    ev = eng.plan(first.t_intercept + 1.0, [3], ["rocket"], t, p, [[1.0]], z)
    assessed = [e for e in ev if isinstance(e, InterceptAssessed)]
    assert [(e.killed, e.basis) for e in assessed] == [(False, "track_continued")]
    assert len(engaged(ev)) == 1
    # the track then vanishes after its second intercept: taken as a kill
    (shot,) = eng.pending.values()
    out = eng.track_ended(3, shot.t_intercept_s + 0.5)
    assert [(e.killed, e.basis) for e in out] == [(True, "track_lost")]
    assert eng.plan(20.0, [3], ["rocket"], t, p, [[1.0]], z) == []


def test_a_later_window_is_planned_not_committed():
    eng = Engager([gun(min_range_m=500.0)], SITE, EngageSpec(commit_s=1.0))
    t, p = line(P0 - [3000.0, 0.0, 0.0], V, t1=30.0)  # enters the envelope 10 s later
    ev = eng.plan(0.0, [4], ["artillery"], t, p, [[1.0]], zones(1.0))
    assert engaged(ev) == [] and let_go(ev) == []
    assert len(eng.planned) == 1 and eng.planned[0].t_fire_s > 10.0
    assert eng.left[0] == 1550
    # re-planned each update; committed once the fire time is within commit_s
    for tn in np.arange(1.0, 14.0, 1.0):
        ev = eng.plan(tn, [4], ["artillery"], t, p, [[1.0]], zones(1.0))
        if engaged(ev):
            break
    assert engaged(ev)[0].t_fire - tn <= 1.0 and engaged(ev)[0].t_fire >= tn


def test_engaged_event_carries_the_intercept_point_in_wgs84():
    eng = Engager([gun(min_range_m=500.0)], SITE)
    t, p = line(P0, V)
    (e,) = engaged(updates(eng, 0.0, 4.0, [3], ["rocket"], t, p, [[1.0]], zones(10.0)))
    back = SITE.to_enu(e.lat, e.lon, e.alt_m)
    assert np.allclose(back, P0 + V * e.t_intercept, atol=1e-3)
    assert e.effector == "g" and e.cls == "rocket" and e.rounds == 150
    assert set(e.to_dict()) >= {"kind", "t", "track", "t_fire", "t_intercept", "pk", "rounds"}


def test_two_guns_share_two_threats():
    g1 = gun(min_range_m=500.0)
    spec2 = GunSpec(
        id="g2", kind="gun", lat=SITE.lat_deg + 0.01, lon=SITE.lon_deg, alt_m=SITE.alt_m, min_range_m=500.0
    )
    g2 = EffectorGeometry.from_spec(spec2, SITE)
    eng = Engager([g1, g2], SITE)
    t, pa = line(P0, V)
    _, pb = line(P0 + g2.enu_m * [1, 1, 0], V)
    ev = updates(
        eng, 0.0, 4.0, [1, 2], ["rocket"] * 2, t, np.concatenate([pa, pb]), [[1.0], [1.0]], zones(10.0)
    )
    assert sorted((e.track, e.effector) for e in engaged(ev)) == [(1, "g"), (2, "g2")]


# ---------------------------------------------------------------------------------------------
# Scenario records
# ---------------------------------------------------------------------------------------------

SCN = """\
name: t
origin: {lat: 33.3, lon: 44.4}
ground_alt_m: 30
effectors:
  - id: g
    kind: gun
    lat: 33.3
    lon: 44.4
    min_range_m: 300
    max_range_m: 1200
  - id: l
    kind: launcher
    lat: 33.31
    lon: 44.4
    doctrine: 1
"""


def test_scenario_effectors_load_with_defaults():
    scn = parse_scenario(SCN)
    g, launch = scn.effectors
    assert isinstance(g, GunSpec) and isinstance(launch, LauncherSpec)
    assert g.max_range_m == 1200 and g.muzzle_speed_mps == 1100.0 and g.magazine_rounds == 1550
    assert g.rounds_per_burst == 150 and g.loaded == 1550
    assert launch.min_range_m == 4000 and launch.max_range_m == 70000 and launch.loaded == 20
    assert scn.engage.threshold == 0.1
    eng = Engager.from_scenario(scn)
    assert [f.id for f in eng.effectors] == ["g", "l"] and eng.effectors[1].shot_size == 1


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("max_range_m: 1200", "max_range_m: 200"),
            "scenarios/x.yaml:10: effectors[0].max_range_m: must be greater than min_range_m (300.0), got 200.0",
        ),
        (
            ("max_range_m: 1200", "max_range_m: -5"),
            "scenarios/x.yaml:10: effectors[0].max_range_m: expected a value > 0.0, got -5",
        ),
        (
            ("doctrine: 1", "doctrine: 3"),
            "scenarios/x.yaml:15: effectors[1].doctrine: expected one of 1 or 2, got 3",
        ),
        (
            ("doctrine: 1", "doctrine: 1\n    colour: red"),
            "scenarios/x.yaml:16: effectors[1].colour: unknown key 'colour'; expected one of: id, kind, lat, lon, alt_m, min_range_m",
        ),
        (
            ("kind: launcher", "kind: tank"),
            "scenarios/x.yaml:12: effectors[1].kind: expected one of 'gun', 'launcher', got 'tank'",
        ),
        (("    kind: launcher\n", ""), "scenarios/x.yaml:11: effectors[1]: missing required field 'kind'"),
        (
            ("doctrine: 1", "pk_per_interceptor: 1.5"),
            "scenarios/x.yaml:15: effectors[1].pk_per_interceptor: expected a value <= 1.0, got 1.5",
        ),
        (
            ("doctrine: 1", "interceptors_loaded: 21"),
            "scenarios/x.yaml:15: effectors[1].interceptors_loaded: 21 loaded but a full load holds 20",
        ),
        (
            ("max_range_m: 1200", "max_range_m: 1200\n    rate_of_fire_rpm: 0"),
            "scenarios/x.yaml:11: effectors[0].rate_of_fire_rpm: expected a value > 0.0, got 0",
        ),
    ],
)
def test_bad_effectors_name_file_line_field(edit, expected):
    old, new = edit
    assert old in SCN
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(SCN.replace(old, new, 1), "scenarios/x.yaml")
    assert expected in str(exc.value), str(exc.value)


def test_engage_and_respond_blocks_are_strict():
    with pytest.raises(ScenarioError, match=r"x.yaml:16: engage.treshold: unknown key 'treshold'"):
        parse_scenario(SCN + "engage: {treshold: 0.2}\n", "x.yaml")
    scn = parse_scenario(SCN + "engage: {threshold: 0.3}\nrespond: {group_distance_m: 800}\n")
    assert scn.engage.threshold == 0.3 and scn.respond.group_distance_m == 800
