"""The radar simulator: noise, detection, false alarms, coverage, timing and batching.

Truth comes from real scenarios (YAML text through ``parse_scenario`` and ``fly_truth``);
expected measurements come from a second implementation (pymap3d's geodetic -> AER, and
distances in the site frame), statistics are checked against chi-square, binomial and
Poisson bounds at 99.9 %.
"""

import time

import numpy as np
import pymap3d
import pytest
import yaml
from scipy import stats

from counterram.scenario import parse_scenario
from counterram.sensing.plots import PlotBatch
from counterram.sensing.radar import RadarGeometry, RadarSpec
from counterram.sensing.simulate import ScanBatch, plots_to_enu, simulate_plots
from counterram.truth import fly_truth

ORIGIN = {"lat": 33.3, "lon": 44.4, "alt_m": 40.0}
RADAR = {"id": "r1", "lat": 33.29, "lon": 44.41, "alt_m": 45.0}  # 1.5 km from the origin


def radar_spec(**kw) -> RadarSpec:
    return RadarSpec(**{**RADAR, **kw})


def hover(oid: str, az_deg: float, el_deg: float, range_m: float, drift_m: float = 120.0, speed_mps=1.0):
    """A helicopter at (az, el, range) from RADAR, drifting sideways (range and elevation kept)."""
    ends = []
    for az in (az_deg, az_deg + np.degrees(drift_m / (range_m * np.cos(np.radians(el_deg))))):
        lat, lon, alt = pymap3d.aer2geodetic(az, el_deg, range_m, RADAR["lat"], RADAR["lon"], RADAR["alt_m"])
        ends.append({"lat": float(lat), "lon": float(lon), "alt_m": float(alt), "speed_mps": speed_mps})
    return {"id": oid, "kind": "helicopter", "rcs_m2": 0.01, "waypoints": ends}  # the SNR reference target


def radial(oid: str, az_deg: float, el_deg: float, r0_m: float, r1_m: float, speed_mps: float):
    """A helicopter flying straight along azimuth ``az_deg`` from range r0 to r1 at constant height."""
    h = r0_m * np.sin(np.radians(el_deg))
    pts = []
    for r in (r0_m, r1_m):
        el = np.degrees(np.arcsin(h / r))
        lat, lon, alt = pymap3d.aer2geodetic(az_deg, el, r, RADAR["lat"], RADAR["lon"], RADAR["alt_m"])
        pts.append({"lat": float(lat), "lon": float(lon), "alt_m": float(alt), "speed_mps": speed_mps})
    return {"id": oid, "kind": "helicopter", "waypoints": pts}


def scenario(traffic=(), threats=()):
    doc = {"name": "radar-test", "origin": ORIGIN, "ground_alt_m": 36.0}
    doc["traffic"] = list(traffic)
    doc["threats"] = list(threats)
    return parse_scenario(yaml.safe_dump(doc, sort_keys=False))


def run(scn, specs, seed, t0, t1, **kw):
    truth = fly_truth(scn)
    radars = [RadarGeometry.build(s, scn.site) for s in specs]
    batches = simulate_plots(truth, radars, np.random.default_rng(seed), t0, t1, **kw)
    plots = PlotBatch.concat([b.plots for b in batches])
    rows = np.concatenate([b.truth_row for b in batches]) if batches else np.zeros(0, int)
    return truth, radars, batches, plots, rows


def aer_of(scn, pos_enu_m, spec: RadarSpec):
    """(az rad, el rad, slant range m) of site-ENU points from a radar, by pymap3d."""
    lat, lon, alt = scn.site.to_geodetic(pos_enu_m)
    az, el, srange = pymap3d.geodetic2aer(lat, lon, alt, spec.lat, spec.lon, spec.alt_m)
    return np.radians(az), np.radians(el), np.asarray(srange)


def wrap_pi(x):
    return np.mod(x + np.pi, 2 * np.pi) - np.pi


def assert_noise(err, sigma, what):
    """Zero mean and variance sigma^2: sum(err^2)/sigma^2 ~ chi2(n), both at 99.9 %."""
    n = err.size
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], n)
    q = float(np.sum((err / sigma) ** 2))
    assert lo < q < hi, f"{what}: sum of squares {q:.0f} outside chi2({n}) 99.9 % [{lo:.0f}, {hi:.0f}]"
    assert abs(np.std(err) / sigma - 1.0) < 0.03, f"{what}: std {np.std(err)} vs sigma {sigma}"
    z = abs(err.mean()) / (sigma / np.sqrt(n))
    assert z < 3.29, f"{what}: mean {err.mean()} is {z:.1f} standard errors from 0"


def assert_binomial(k, n, p, what):
    lo, hi = stats.binom.interval(0.999, n, p)
    assert lo <= k <= hi, f"{what}: {k}/{n} = {k / n:.4f} outside the 99.9 % interval of p = {p:.4f}"


# --------------------------------------------------------------------------------------------


def test_measurement_noise_matches_sigmas():
    traffic = [hover(f"h{i}", 30.0 * i, 3.0 + 1.5 * i, 2000.0 + 600.0 * i) for i in range(12)]
    scn = scenario(traffic)
    spec = radar_spec(sigma_range_m=10.0, sigma_az_deg=0.2, sigma_el_deg=0.3, sigma_rdot_mps=2.0, pd=1.0)
    spec = spec.model_copy(update={"revisit_s": 0.1})
    truth, radars, _, plots, rows = run(scn, [spec], 1, 0.0, 100.0)
    assert np.all(rows >= 0)
    assert np.bincount(rows, minlength=12).min() >= 999  # every object, every scan (pd = 1)
    pos, vel = truth.state_at(plots.t_s, rows)
    az, el, srange = aer_of(scn, pos, spec)
    los = pos - radars[0].position_enu_m
    rng_site = np.linalg.norm(los, axis=1)
    np.testing.assert_allclose(srange, rng_site, rtol=1e-9)  # pymap3d and the site frame agree
    rdot = np.einsum("ij,ij->i", los, vel) / rng_site
    assert_noise(plots.range_m - rng_site, 10.0, "range")
    assert_noise(wrap_pi(plots.az_rad - az), np.radians(0.2), "azimuth")
    assert_noise(plots.el_rad - el, np.radians(0.3), "elevation")
    assert_noise(plots.rdot_mps - rdot, 2.0, "range rate")
    assert np.all((plots.az_rad >= 0) & (plots.az_rad < 2 * np.pi))
    assert np.all(np.isnan(plots.snr_db))  # no SNR model
    # without sigma_rdot_mps there is no range rate
    _, _, _, plots2, _ = run(scn, [spec.model_copy(update={"sigma_rdot_mps": None})], 2, 0.0, 5.0)
    assert len(plots2) > 0 and np.all(np.isnan(plots2.rdot_mps))


def test_detection_fraction_is_pd():
    traffic = [hover(f"h{i}", 36.0 * i, 5.0, 4000.0 + 300.0 * i) for i in range(10)]
    spec = radar_spec(pd=0.7, rotating=False, revisit_s=0.1)
    _, _, batches, plots, rows = run(scenario(traffic), [spec], 3, 0.0, 100.0)
    # non-rotating: scans at phase + k T, exactly 1000 of them in [0, 100) for every object
    assert np.unique(plots.t_s).size <= 1000
    counts = np.bincount(rows, minlength=10)
    assert counts.max() <= 1000
    assert_binomial(int(counts.sum()), 10 * 1000, 0.7, "detections")
    for c in counts:  # and each object on its own
        assert_binomial(int(c), 1000, 0.7, "detections of one object")


def test_swerling_pd_falls_with_range():
    near = [hover(f"n{i}", 60.0 * i, 5.0, 5000.0) for i in range(6)]
    far = [hover(f"f{i}", 60.0 * i + 30.0, 3.0, 12_000.0) for i in range(6)]
    spec = radar_spec(snr_ref_db=13.0, ref_range_m=10_000.0, pfa=1e-6, rotating=False, revisit_s=0.1)
    truth, radars, _, plots, rows = run(scenario(near + far), [spec], 4, 0.0, 100.0)

    def pd_at(r_m):
        snr = 13.0 - 40.0 * np.log10(r_m / 10_000.0)
        return 1e-6 ** (1.0 / (1.0 + 10.0 ** (snr / 10.0)))

    p_near, p_far = pd_at(5000.0), pd_at(12_000.0)
    assert p_near > 0.95 and p_far < 0.3  # 25 dB vs 9.8 dB
    n_near = int(np.sum(rows < 6))
    n_far = int(np.sum(rows >= 6))
    assert_binomial(n_near, 6000, p_near, "near")
    assert_binomial(n_far, 6000, p_far, "far")
    # the reported SNR is the model SNR at the true range, without noise
    pos, _ = truth.state_at(plots.t_s, rows)
    r_true = np.linalg.norm(pos - radars[0].position_enu_m, axis=1)
    np.testing.assert_allclose(plots.snr_db, 13.0 - 40.0 * np.log10(r_true / 10_000.0), atol=1e-9)


def test_false_alarms_poisson_and_uniform_in_volume():
    spec = radar_spec(min_range_m=500.0, max_range_m=10_000.0, false_alarms_per_scan=20.0, sigma_rdot_mps=1.0)
    _, radars, batches, plots, rows = run(scenario(), [spec], 5, 0.0, 500.0)
    assert np.all(rows == -1)
    n = len(plots)
    # full sector, uniform azimuth: false alarms are a Poisson process of rate lambda / T
    lo, hi = stats.poisson.interval(0.999, 20.0 * 500)
    assert lo <= n <= hi
    assert radars[0].in_coverage(plots_to_enu(plots, radars)).all()
    p_far = 1.0 - (5000.0**3 - 500.0**3) / (10_000.0**3 - 500.0**3)
    assert_binomial(int(np.sum(plots.range_m > 5000.0)), n, p_far, "beyond half range")
    assert plots.range_m.min() >= 500.0 and plots.range_m.max() <= 10_000.0
    sin_mid = np.sin(np.radians(85.0)) / 2  # sin(el) uniform on [0, sin 85 deg]
    assert_binomial(int(np.sum(np.sin(plots.el_rad) < sin_mid)), n, 0.5, "low half of sin(el)")
    assert_binomial(int(np.sum(plots.az_rad < np.pi)), n, 0.5, "east half")
    assert np.all(np.abs(plots.rdot_mps) <= 300.0) and np.std(plots.rdot_mps) > 150.0
    assert np.all(np.isnan(plots.snr_db))


def test_false_alarms_stay_in_sector_and_above_mask():
    mask = [[0.0, 0.0], [60.0, 0.0], [90.0, 30.0], [120.0, 0.0]]
    spec = radar_spec(
        sector_deg=(30.0, 200.0),
        el_mask=mask,
        min_el_deg=2.0,
        max_el_deg=60.0,
        max_range_m=8000.0,
        false_alarms_per_scan=40.0,
        snr_ref_db=15.0,
    )
    _, radars, _, plots, _ = run(scenario(), [spec], 6, 0.0, 300.0)
    assert len(plots) > 10_000
    assert radars[0].in_coverage(plots_to_enu(plots, radars)).all()
    az_deg = np.degrees(plots.az_rad)
    assert az_deg.min() >= 30.0 and az_deg.max() <= 200.0
    # uniform in volume: the share in 60..120 deg (under the mask bump) is its share of solid angle
    grid = np.radians(np.linspace(30.0, 200.0, 170_001))
    solid = np.sin(np.radians(60.0)) - np.sin(radars[0].min_elevation_rad(grid))
    band = (grid >= np.radians(60.0)) & (grid <= np.radians(120.0))
    p_band = solid[band].sum() / solid.sum()
    assert_binomial(int(np.sum((az_deg >= 60.0) & (az_deg <= 120.0))), len(plots), p_band, "masked band")
    # a false alarm's SNR is a threshold crossing: at least -ln(pfa) in power
    assert np.all(plots.snr_db >= 10.0 * np.log10(-np.log(1e-6)))


def test_no_plot_outside_coverage():
    mask = [[0.0, 0.0], [80.0, 0.0], [90.0, 6.0], [100.0, 0.0]]
    spec = radar_spec(
        min_range_m=300.0,
        max_range_m=8000.0,
        sector_deg=(0.0, 180.0),
        el_mask=mask,
        min_el_deg=1.0,
        max_el_deg=80.0,
        pd=1.0,
        revisit_s=0.5,
        sigma_range_m=1e-6,
        sigma_az_deg=1e-9,
        sigma_el_deg=1e-9,
    )
    traffic = [
        hover("in", 45.0, 10.0, 5000.0),
        hover("below-mask", 90.0, 4.0, 5000.0),
        hover("outside-sector", 270.0, 10.0, 5000.0),
        hover("beyond-range", 45.0, 5.0, 9000.0),
        hover("too-high", 135.0, 84.0, 3000.0),
        hover("too-close", 45.0, 20.0, 200.0, drift_m=20.0, speed_mps=0.1),
        radial("crossing", 45.0, 5.0, 7000.0, 9000.0, 20.0),
    ]
    scn = scenario(traffic)
    truth, radars, _, plots, rows = run(scn, [spec], 7, 0.0, 100.0)
    seen = {truth.ids[r] for r in np.unique(rows)}
    assert seen == {"in", "crossing"}
    assert radars[0].in_coverage(plots_to_enu(plots, radars)).all()
    assert plots.range_m.max() <= 8000.0
    cross = rows == truth.ids.index("crossing")
    assert 7980.0 < plots.range_m[cross].max() <= 8000.0  # seen right up to the edge, not past it
    assert np.sum(rows == truth.ids.index("in")) == 200  # every scan of [0, 100) at T = 0.5 s


@pytest.mark.parametrize("rotating", [True, False])
def test_rotating_radar_times_plots_by_azimuth(rotating):
    traffic = [
        hover("north", 1.0, 5.0, 5000.0),
        hover("east", 90.0, 5.0, 5000.0),
        hover("west", 270.0, 5.0, 5000.0),
    ]
    scn = scenario(traffic)
    spec = radar_spec(pd=1.0, revisit_s=2.0, rotating=rotating, latency_s=0.2)
    truth, radars, _, plots, rows = run(scn, [spec], 8, 0.0, 20.0, scan_phase_s=[0.37])
    since_scan = np.mod(plots.t_s - 0.37, 2.0)  # scans start at 0.37 + 2 k
    if not rotating:  # every plot at a scan start
        np.testing.assert_allclose(np.minimum(since_scan, 2.0 - since_scan), 0.0, atol=1e-9)
        assert len(plots) == 30
        return
    east = rows == truth.ids.index("east")
    assert east.sum() == 10
    np.testing.assert_allclose(since_scan[east], 2.0 / 4, atol=2e-3)  # a quarter turn after north
    np.testing.assert_allclose(since_scan[rows == truth.ids.index("west")], 2.0 * 3 / 4, atol=2e-3)
    np.testing.assert_allclose(since_scan[rows == truth.ids.index("north")], 2.0 / 360, atol=2e-3)
    # precisely: time since scan start = T * azimuth / 360 deg, with the azimuth taken at the scan
    # start; the target (1 m/s across the beam at 5 km) turns by at most 1 m/s * T / 5 km meanwhile
    pos, _ = truth.state_at(plots.t_s, rows)
    az, _, _ = aer_of(scn, pos, spec)
    turn_rad = 1.0 * 2.0 / 5000.0
    np.testing.assert_allclose(since_scan, 2.0 * az / (2 * np.pi), atol=2.0 * turn_rad / (2 * np.pi))
    assert not np.allclose(since_scan, 2.0 * az / (2 * np.pi), atol=1e-7)  # but it does turn


MORTARS = {
    "id": "m",
    "munition": "mortar-81mm",
    "launch": {"lat": 33.31, "lon": 44.43},
    "launch_time_s": 2.3,
    "azimuth_deg": 250.0,
    "elevation_deg": 55.0,
    "salvo": {"rounds": 3, "interval_s": 7.7},
}


def test_round_trip_and_slow_reference():
    scn = scenario([hover("h", 200.0, 6.0, 6000.0, drift_m=600.0, speed_mps=10.0)], [MORTARS])
    tiny = {"sigma_range_m": 1e-9, "sigma_az_deg": 1e-12, "sigma_el_deg": 1e-12}
    spec = radar_spec(pd=1.0, revisit_s=1.0, **tiny)
    truth, radars, _, plots, rows = run(scn, [spec], 9, 0.0, 60.0, scan_phase_s=[0.6])
    assert set(np.unique(rows)) == {0, 1, 2, 3}
    # positions back from noiseless plots are the truth at the plot times
    pos, _ = truth.state_at(plots.t_s, rows)
    enu = plots_to_enu(plots, radars)
    err = np.linalg.norm(enu - pos, axis=1) / plots.range_m
    assert err.max() < 1e-6
    # a slow reference: one (scan, object) at a time, azimuth from pymap3d
    radar = radars[0]
    expected = []
    for k in range(61):
        s = 0.6 - 1.0 + k
        for row in range(len(truth.ids)):
            a, b = truth.start_t_s[row], truth.end_t_s[row]
            if b < s or a >= s + 1.0:
                continue
            t_ref = min(max(s, a), b)
            p0, _ = truth.state_at(np.array([t_ref]), np.array([row]))
            az, _, _ = aer_of(scn, p0, spec)
            t = s + az[0] / (2 * np.pi)
            if not 0.0 <= t < 60.0:
                continue
            p, _ = truth.state_at(np.array([t]), np.array([row]))
            if np.isfinite(p).all() and radar.in_coverage(p)[0]:
                expected.append((row, t))
    expected.sort()
    got = sorted(zip(rows.tolist(), plots.t_s.tolist(), strict=True))
    assert len(got) == len(expected)
    assert [r for r, _ in got] == [r for r, _ in expected]
    np.testing.assert_allclose([t for _, t in got], [t for _, t in expected], atol=1e-6)


def test_batches_sorted_by_arrival_and_sliced_by_sector():
    scn = scenario([hover("h", 120.0, 6.0, 6000.0, drift_m=600.0, speed_mps=10.0)], [MORTARS])
    a = radar_spec(id="rot", revisit_s=1.0, latency_s=0.3, false_alarms_per_scan=5.0, sigma_rdot_mps=1.0)
    b = radar_spec(id="stare", revisit_s=0.5, rotating=False, latency_s=0.5, false_alarms_per_scan=3.0)
    truth, radars, batches, plots, rows = run(
        scn, [a, b], 10, 3.0, 40.0, sectors_per_scan=8, scan_phase_s=[0.25, 0.1]
    )
    arrivals = np.array([x.arrival_t_s for x in batches])
    assert np.all(np.diff(arrivals) >= 0.0)
    assert np.all((plots.t_s >= 3.0) & (plots.t_s < 40.0))
    ends: dict[int, list[float]] = {0: [], 1: []}
    for x in batches:
        assert isinstance(x, ScanBatch) and len(x.plots) > 0 and len(x.truth_row) == len(x.plots)
        assert np.all(np.diff(x.plots.t_s) >= 0.0)
        sensors = np.unique(x.plots.sensor)
        assert sensors.size == 1
        s = int(sensors[0])
        end = x.arrival_t_s - radars[s].spec.latency_s
        ends[s].append(end)
        if s == 0:  # rotating: the plots lie in the slice that ends at the arrival minus latency
            assert np.all((x.plots.t_s >= end - 1.0 / 8 - 1e-9) & (x.plots.t_s < end + 1e-9))
            k = (end - (3.0 + 0.25)) / (1.0 / 8)
            assert abs(k - round(k)) < 1e-6  # slice ends on the scan's 1/8 grid
        else:  # staring: all plots of a scan at its start, reported then plus latency
            np.testing.assert_allclose(x.plots.t_s, end, atol=1e-9)
    for s in (0, 1):
        assert len(ends[s]) == len(set(np.round(ends[s], 6)))  # one batch per non-empty slice
    assert np.all(np.isnan(plots.rdot_mps[plots.sensor == 1]))
    assert np.all(np.isfinite(plots.rdot_mps[plots.sensor == 0]))
    assert np.any(rows == -1) and np.any(rows >= 0)
    # nothing in an empty window
    assert simulate_plots(truth, radars, np.random.default_rng(0), 5.0, 5.0) == []


def test_salvo_of_200_simulates_fast():
    salvo = {**MORTARS, "salvo": {"rounds": 200, "interval_s": 0.5, "angle_sigma_deg": 1.0}}
    scn = scenario([], [salvo])
    truth = fly_truth(scn)
    radars = [RadarGeometry.build(radar_spec(false_alarms_per_scan=50.0), scn.site, revisit_s=1.0)]
    t0 = time.perf_counter()
    batches = simulate_plots(truth, radars, np.random.default_rng(11), 0.0, 150.0)
    elapsed = time.perf_counter() - t0
    rows = np.concatenate([b.truth_row for b in batches])
    assert np.unique(rows[rows >= 0]).size > 150  # most rounds are seen
    assert elapsed < 0.5, f"{elapsed:.3f} s"
