"""Flight physics against closed forms, conservation laws, convergence order and a second solver."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from counterram.geo import Site
from counterram.physics.aim import AimError, fly_munitions, ground_range_m, solve_aim
from counterram.physics.flight import (
    BallisticDynamics,
    DragLaws,
    FlightEnv,
    Wind,
    ballistic_acceleration,
    ballistic_jacobian,
    fly_ballistic_to_ground,
    integrate_to_ground,
    launch_direction,
    propagate_ballistic,
)
from counterram.physics.munitions import CATALOG, DRAG_LAWS

SITE = Site(33.2985, 44.3958, 31.8)
# every catalog law replaced by a constant Cd = 0.3 (smooth drag, for convergence orders)
CONSTANT_CD = DragLaws(
    names=DRAG_LAWS.names, mach=((0.0, 6.0),) * len(DRAG_LAWS.names), cd=((0.3, 0.3),) * len(DRAG_LAWS.names)
)


def env(**kw):
    return FlightEnv(SITE, SITE.alt_m, kw.pop("laws", DRAG_LAWS), **kw)


@pytest.mark.parametrize("el_deg", [15.0, 30.0, 45.0, 60.0, 80.0])
def test_vacuum_flat_earth_matches_closed_forms(el_deg):
    e = env(earth="flat", drag=False)
    m = CATALOG["mortar-120mm"]
    el = np.radians(el_deg)
    res = fly_munitions(e, [m], [0.0, 0.0, 0.0], 0.0, el)
    g, v = SITE.g0_mps2, m.muzzle_speed_mps
    range_m = v**2 * np.sin(2 * el) / g
    apex_m = (v * np.sin(el)) ** 2 / (2 * g)
    tof_s = 2 * v * np.sin(el) / g
    assert res.y_end[0, 1] == pytest.approx(range_m, rel=1e-6)
    assert res.y_end[0, 0] == pytest.approx(0.0, abs=1e-6)  # azimuth 0: straight north
    assert res.apex_height_m[0] - SITE.alt_m == pytest.approx(apex_m, rel=1e-6)
    assert res.t_end_s[0] == pytest.approx(tof_s, rel=1e-6)


def test_vacuum_round_earth_matches_keplerian_range_at_20_km():
    """Free flight in inverse-square gravity, launch and impact at the same radius r:

    tan(psi / 2) = nu sin(g) cos(g) / (1 - nu cos^2 g),   nu = v^2 r / (G M),  range = R psi
    """
    e = env(drag=False)
    speed, el = 460.0, np.radians(45.0)
    start = np.array([0.0, 0.0, 0.0])
    y0 = np.concatenate([start, launch_direction(0.0, el) * speed])[None, :]
    dyn = BallisticDynamics(e, 0)
    res = integrate_to_ground(dyn, e, np.concatenate([y0, [[0.0]]], axis=1), rtol=1e-12, atol=1e-9)
    gm = SITE.g0_mps2 * SITE.radius_m**2
    r = SITE.radius_m + SITE.alt_m
    nu = speed**2 * r / gm
    psi = 2 * np.arctan(nu * np.sin(el) * np.cos(el) / (1 - nu * np.cos(el) ** 2))
    kepler_m = SITE.radius_m * psi
    got = ground_range_m(e, start, res.y_end[0, 0:3])
    assert got == pytest.approx(kepler_m, abs=0.5)
    flat = speed**2 * np.sin(2 * el) / SITE.g0_mps2
    assert got - flat > 30.0  # the curvature matters at this range: ~37 m longer than flat


def test_fixed_step_error_shrinks_at_least_at_fifth_order():
    """Dormand-Prince 5(4) with fixed steps: halving the step divides the error by >= ~2^5.

    (Smooth drag, constant Cd; the steps are long enough that the error stays above the
    floor set by the 10 m atmosphere table.)
    """
    e = env(laws=CONSTANT_CD)
    m = CATALOG["mortar-60mm"]
    kw = dict(launch_enu_m=[0.0, 0.0, 0.0], az_rad=0.3, el_rad=np.radians(50.0))
    ref = fly_munitions(e, [m], **kw, rtol=1e-13, atol=1e-11).y_end[0, :3]
    err = [
        np.linalg.norm(fly_munitions(e, [m], **kw, fixed_step_s=h, max_step_s=10.0).y_end[0, :3] - ref)
        for h in (5.0, 2.5, 1.25)
    ]
    ratios = np.array(err[:-1]) / np.array(err[1:])
    assert np.all(ratios > 0.7 * 2**5), (err, ratios)


def test_rk4_propagation_error_shrinks_at_fourth_order():
    e = env(laws=CONSTANT_CD)
    x = np.array([[0.0, 0.0, 500.0, 150.0, 80.0, 200.0, np.log(1e-4)]])
    ref = propagate_ballistic(e, x, 8.0, 0, max_step_s=0.01)
    err = [
        np.linalg.norm(propagate_ballistic(e, x, 8.0, 0, max_step_s=h)[0, :3] - ref[0, :3])
        for h in (2.0, 1.0, 0.5)
    ]
    ratios = np.array(err[:-1]) / np.array(err[1:])
    assert np.all(ratios > 12.0) and np.all(ratios < 20.0), (err, ratios)


def _energy(e, y):
    """Specific mechanical energy |v|^2/2 - g0 R^2 / |r - c| (J/kg)."""
    d = y[..., 0:3] - SITE.centre_enu_m
    return 0.5 * np.sum(y[..., 3:6] ** 2, axis=-1) - SITE.g0_mps2 * SITE.radius_m**2 / np.linalg.norm(
        d, axis=-1
    )


def test_energy_falls_with_drag_and_is_conserved_in_vacuum():
    muns = [CATALOG[n] for n in ("mortar-81mm", "mortar-120mm", "shell-155mm")]
    el = np.radians([45.0, 60.0, 40.0])
    drag = fly_munitions(env(), muns, [0.0, 0.0, 0.0], 0.5, el, sample_dt_s=0.1)
    vac = fly_munitions(env(drag=False), muns, [0.0, 0.0, 0.0], 0.5, el, sample_dt_s=0.1)
    for i in range(len(muns)):
        ed = _energy(None, drag.samples[i][~np.isnan(drag.samples[i, :, 0])])
        ev = _energy(None, vac.samples[i][~np.isnan(vac.samples[i, :, 0])])
        assert np.all(np.diff(ed) < 0.0)
        assert ed[-1] < ed[0] * 1.0 - 1000.0 or ed[0] - ed[-1] > 1000.0
        assert np.max(np.abs(ev - ev[0])) < 1e-3  # J/kg, out of ~6e7


def test_boosting_rocket_gains_energy_then_loses_it():
    m = CATALOG["rocket-122mm"]
    res = fly_munitions(env(), [m], [0.0, 0.0, 0.0], 0.0, np.radians(45.0), sample_dt_s=0.05)
    s = res.samples[0][~np.isnan(res.samples[0, :, 0])]
    e = _energy(None, s)
    k_burn = int(m.burn_s / 0.05)
    assert np.all(np.diff(e[1:k_burn]) > 0)
    assert np.all(np.diff(e[k_burn + 1 :]) < 0)


@pytest.mark.parametrize("name", ["mortar-60mm", "mortar-81mm", "mortar-120mm", "shell-155mm"])
def test_head_wind_shortens_and_tail_wind_lengthens_range(name):
    m = CATALOG[name]
    ranges = {}
    for label, north in (("calm", 0.0), ("tail", 10.0), ("head", -10.0)):
        e = env(wind=Wind(east_mps=(0.0,), north_mps=(north,)))
        res = fly_munitions(e, [m], [0.0, 0.0, 0.0], 0.0, np.radians(45.0))
        ranges[label] = res.y_end[0, 1]
    assert ranges["head"] < ranges["calm"] - 10.0
    assert ranges["tail"] > ranges["calm"] + 10.0


@pytest.mark.parametrize("name", ["rocket-107mm", "rocket-122mm"])
def test_boosting_rocket_turns_into_the_wind_unlike_a_shell(name):
    """A fin-stabilised rocket weathercocks: thrust along the air-relative velocity turns it
    upwind while it burns (a crosswind blowing toward the west moves the impact east), the
    opposite of a shell's downwind drift. The same weathercocking makes a tail wind pitch a
    rocket up, so unlike guns and mortars its range-wind effect depends on elevation."""
    e = env(wind=Wind(east_mps=(-8.0,), north_mps=(0.0,)))
    rocket = fly_munitions(e, [CATALOG[name]], [0.0, 0.0, 0.0], 0.0, np.radians(30.0))
    shell = fly_munitions(e, [CATALOG["shell-155mm"]], [0.0, 0.0, 0.0], 0.0, np.radians(30.0))
    assert rocket.y_end[0, 0] > 10.0  # upwind (east)
    assert shell.y_end[0, 0] < -10.0  # downwind (west)


def test_crosswind_drifts_downwind_and_profile_interpolates():
    m = CATALOG["mortar-120mm"]
    prof = Wind(height_m=(0.0, 1000.0), east_mps=(0.0, 20.0), north_mps=(0.0, 0.0))
    assert prof.at(np.array([500.0]))[0][0] == pytest.approx(10.0)
    res = fly_munitions(env(wind=prof), [m], [0.0, 0.0, 0.0], 0.0, np.radians(60.0))
    assert res.y_end[0, 0] > 20.0  # blown east


def test_batch_gives_the_same_flights_as_one_at_a_time():
    rng = np.random.default_rng(7)
    names = list(CATALOG)
    muns = [CATALOG[names[i]] for i in rng.integers(0, len(names), 12)]
    az = rng.uniform(0, 2 * np.pi, 12)
    el = np.radians(rng.uniform(20, 70, 12))
    e = env()
    batch = fly_munitions(e, muns, [0.0, 0.0, 0.0], az, el)
    for i in range(12):
        one = fly_munitions(e, [muns[i]], [0.0, 0.0, 0.0], az[i], el[i])
        assert np.allclose(one.y_end[0], batch.y_end[i], rtol=0, atol=1e-9)
        assert one.t_end_s[0] == pytest.approx(batch.t_end_s[i], abs=1e-12)


def test_agrees_with_scipy_solve_ivp_on_the_same_equations():
    """A second integrator (scipy's RK45 with a ground event) on the same acceleration model."""
    e = env()
    x0 = np.array([0.0, 0.0, 0.0, 120.0, 200.0, 250.0, np.log(1.2e-4)])
    law = DRAG_LAWS.index("G7")

    def rhs(t, x):
        a = ballistic_acceleration(e, x[None, 0:3], x[None, 3:6], np.exp(x[6]), law)[0]
        return np.concatenate([x[3:6], a, [0.0]])

    def ground(t, x):
        return SITE.sphere_height_m(x[0:3]) - e.ground_alt_m

    ground.terminal, ground.direction = True, -1
    sol = solve_ivp(rhs, (0.0, 300.0), x0, events=ground, rtol=1e-11, atol=1e-9, first_step=1e-3)
    mine = fly_ballistic_to_ground(e, x0[None, :], law, rtol=1e-11, atol=1e-9)
    # solve_ivp stops on the osculating sphere; ours corrects to the exact WGS-84 height
    assert mine.t_end_s[0] == pytest.approx(sol.t_events[0][0], abs=2e-3)
    assert np.linalg.norm(mine.y_end[0, :2] - sol.y_events[0][0][:2]) < 0.5


def test_backward_flight_returns_to_the_launch_point():
    e = env()
    x0 = np.array([[0.0, 0.0, 0.0, 150.0, -90.0, 260.0, np.log(1e-4)]])
    fwd = fly_ballistic_to_ground(e, x0, 0)
    back = fly_ballistic_to_ground(e, fwd.y_end[:, :7], 0, backward=True)
    assert np.linalg.norm(back.y_end[0, :3] - x0[0, :3]) < 0.05
    assert back.t_end_s[0] == pytest.approx(-fwd.t_end_s[0], abs=1e-4)


def test_jacobian_matches_finite_differences():
    e = env(wind=Wind(height_m=(0.0, 2000.0), east_mps=(2.0, 15.0), north_mps=(-1.0, 4.0)))
    rng = np.random.default_rng(3)
    n = 20
    r = np.c_[rng.uniform(-5000, 5000, (n, 2)), rng.uniform(100, 4000, n)]
    v = rng.uniform(-300, 300, (n, 3))
    kappa = np.log(rng.uniform(5e-5, 5e-4, n))
    law = DRAG_LAWS.index("G7")
    da_dr, da_dv, da_dk = ballistic_jacobian(e, r, v, kappa, law)
    f = lambda rr, vv, kk: ballistic_acceleration(e, rr, vv, np.exp(kk), law)  # noqa: E731
    for j in range(3):
        dr = np.zeros(3)
        dr[j] = 0.01
        fd_r = (f(r + dr, v, kappa) - f(r - dr, v, kappa)) / 0.02
        dv = np.zeros(3)
        dv[j] = 1e-4
        fd_v = (f(r, v + dv, kappa) - f(r, v - dv, kappa)) / 2e-4
        assert np.allclose(da_dr[:, :, j], fd_r, rtol=1e-3, atol=1e-9)
        assert np.allclose(da_dv[:, :, j], fd_v, rtol=1e-4, atol=1e-9)
    fd_k = (f(r, v, kappa + 1e-6) - f(r, v, kappa - 1e-6)) / 2e-6
    assert np.allclose(da_dk, fd_k, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("step_s", "rtol"), [(0.05, 1e-3), (1.0, 2e-2)])
def test_state_transition_matrix_matches_finite_differences(step_s, rtol):
    """The Taylor-step transition matrix against central differences of the RK4 flow, with
    fine steps and with the tracker's own 1 s step (subsonic mortar state)."""
    e = env()
    x = np.array([[100.0, -50.0, 800.0, 180.0, 60.0, 150.0, np.log(1.5e-4)]])
    _, phi = propagate_ballistic(e, x, 3.0, 0, stm=True, max_step_s=step_s)
    fd = np.zeros((7, 7))
    steps = np.array([0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 1e-4])
    for j in range(7):
        dx = np.zeros((1, 7))
        dx[0, j] = steps[j]
        fd[:, j] = (
            propagate_ballistic(e, x + dx, 3.0, 0, max_step_s=0.01)
            - propagate_ballistic(e, x - dx, 3.0, 0, max_step_s=0.01)
        )[0] / (2 * steps[j])
    scale = np.maximum(np.abs(fd), 1e-3)
    assert np.max(np.abs(phi[0] - fd) / scale) < rtol


def test_batched_propagation_equals_each_row_alone():
    """Rows needing 1, 2, 4 and 8 sub-steps (and a backward one) propagated together give,
    bit for bit, what each gives alone: rows never mix, whatever the batch."""
    e = env()
    rng = np.random.default_rng(5)
    n = 12
    x = np.c_[
        rng.uniform(-3000, 3000, (n, 2)),
        rng.uniform(300, 2500, n),
        rng.normal(0, 150, (n, 3)),
        np.log(rng.uniform(2e-4, 2e-3, n)),
    ]
    dt = np.array([0.2, 0.9, 1.5, 3.0, 7.5, -2.5, 0.05, 4.0, 1.0, 2.2, 0.6, 6.1])
    xb, pb = propagate_ballistic(e, x, dt, 0, stm=True, max_step_s=1.0, max_substeps=8)
    for i in range(n):
        xi, pi = propagate_ballistic(e, x[i : i + 1], dt[i], 0, stm=True, max_step_s=1.0, max_substeps=8)
        assert np.array_equal(xb[i], xi[0]) and np.array_equal(pb[i], pi[0])


@pytest.mark.parametrize("high", [False, True])
def test_aim_solver_lands_within_a_metre(high):
    rng = np.random.default_rng(11 + high)
    e = env(wind=Wind(east_mps=(3.0,), north_mps=(-2.0,)))
    names = ["mortar-81mm", "mortar-120mm", "rocket-107mm", "rocket-122mm", "shell-155mm"]
    muns = [CATALOG[n] for n in names]
    dist = np.array([4000.0, 6000.0, 6500.0, 15_000.0, 12_000.0]) * rng.uniform(0.5, 0.95, 5)
    ang = rng.uniform(0, 2 * np.pi, 5)
    launch = np.zeros((5, 3))
    aim = np.stack([dist * np.sin(ang), dist * np.cos(ang), np.zeros(5)], axis=1)
    sol = solve_aim(e, muns, launch, aim, high=high)
    res = fly_munitions(e, muns, launch, sol.az_rad, sol.el_rad)
    miss = np.hypot(*(res.y_end[:, :2] - aim[:, :2]).T)
    assert np.all(miss < 1.0), miss
    el = np.degrees(sol.el_rad)
    assert np.all(el > 45.0) if high else np.all(el < 50.0)


def test_aim_solver_says_when_out_of_range():
    with pytest.raises(AimError, match=r"beyond the mortar-81mm maximum range of \d+ m"):
        solve_aim(env(), [CATALOG["mortar-81mm"]], [0.0, 0.0, 0.0], [0.0, 9000.0, 0.0])
