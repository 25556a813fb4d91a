"""The radar simulator: truth flights -> radar plots, batched as the radar reports them.

Every radar scans with period ``T = revisit_s``. Scan ``k`` starts at

    s_k = t_start + phi + (k - 1) T,        phi ~ U[0, T) drawn once per radar,

so that scan 0 is the partial scan that is already under way at ``t_start``. A rotating radar
sweeps clockwise from north; a target at azimuth ``alpha`` (radians, clockwise from north,
in the radar's own ENU frame) is seen at

    t = s_k + T alpha / (2 pi).                                                       (1)

Each (scan, object) pair is simulated once, vectorised over all pairs of a radar:

1. ``alpha`` is taken from the truth at the scan start (or, for an object launched or landing
   inside the scan, at the first or last instant it is in the air within the scan);
   eq. (1) gives the plot time ``t``, and the truth state at exactly ``t`` is what is measured
   (one fixed-point pass). A non-rotating radar sees everything at ``s_k``.
2. The plot exists if the object is in the air at ``t``, inside the radar's coverage
   (``RadarGeometry.in_coverage``) and a Bernoulli draw with probability ``Pd`` succeeds:
   ``Pd = spec.pd``, or with ``snr_ref_db`` given, Swerling 1:

       SNR_dB(R) = snr_ref_db + 10 log10(sigma / ref_rcs_m2) - 40 log10(R / ref_range_m)  (2)

   with sigma the object's radar cross-section (``Truth.rcs_m2``)
       Pd = pfa ** (1 / (1 + 10 ** (SNR_dB / 10)))                                      (3)

3. Measurements in the radar's frame, ``p = to_local(r)``, ``v_l = v @ rot.T``:

       R = |p|,  alpha = atan2(p_e, p_n) mod 2 pi,  epsilon = asin(p_u / R),
       Rdot = p . v_l / R                                                               (4)

   each plus zero-mean Gaussian noise with the radar's sigmas (azimuth wrapped after the
   noise; range rate only when ``sigma_rdot_mps`` is given, else NaN).

False alarms: ``N_k ~ Poisson(false_alarms_per_scan)`` per scan, uniform in the coverage
volume (range density ~ R^2, azimuth uniform in the sector, sin(elevation) uniform, points
below the elevation mask redrawn), timed by eq. (1), without noise, ``truth_row = -1``.

Batching: each scan is cut into ``sectors_per_scan`` equal time slices; every non-empty slice
is one :class:`ScanBatch`, reported at the slice end plus ``latency_s``. A non-rotating radar
measures the whole scan at one instant, so each of its scans is one batch reported at
``s_k + latency_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .plots import PlotBatch
from .radar import RadarGeometry

TWO_PI = 2.0 * np.pi
FALSE_ALARM_RDOT_MPS = 300.0  # false-alarm range rates are drawn uniform in [-300, 300] m/s


@dataclass(frozen=True)
class ScanBatch:
    """Plots of one time slice (sector) of one scan of one radar, as they reach the engine."""

    arrival_t_s: float  # when the batch reaches the engine: slice end (+ latency)
    plots: PlotBatch  # time-ordered plots of one sector of one scan of one radar
    truth_row: np.ndarray  # (len(plots),) truth object of each plot, -1 for false alarms


# --------------------------------------------------------------------------------------------
# Detection and measurement models (pure, batched)
# --------------------------------------------------------------------------------------------


def snr_db(radar: RadarGeometry, range_m, rcs_m2=None) -> np.ndarray:
    """Model signal-to-noise ratio at range R of a target of cross-section sigma (eq. 2):
    SNR_dB = SNR_ref + 10 log10(sigma / sigma_ref) - 40 log10(R / R_ref); sigma defaults to
    the reference. NaN everywhere when the radar has no ``snr_ref_db``.
    """
    r = np.asarray(range_m, float)
    s = radar.spec
    if s.snr_ref_db is None:
        return np.full(r.shape, np.nan)
    gain = 0.0 if rcs_m2 is None else 10.0 * np.log10(np.asarray(rcs_m2, float) / s.ref_rcs_m2)
    return s.snr_ref_db + gain - 40.0 * np.log10(np.maximum(r, 1e-9) / s.ref_range_m)


def detection_probability(radar: RadarGeometry, range_m, rcs_m2=None) -> np.ndarray:
    """Pd at range R: ``spec.pd``, or Swerling 1 (eq. 3): Pd = Pfa ** (1 / (1 + SNR)), SNR linear."""
    r = np.asarray(range_m, float)
    s = radar.spec
    if s.snr_ref_db is None:
        return np.full(r.shape, s.pd)
    snr_lin = 10.0 ** (snr_db(radar, r, rcs_m2) / 10.0)
    return s.pfa ** (1.0 / (1.0 + snr_lin))


def measure(radar: RadarGeometry, pos_enu_m, vel_enu_mps):
    """Noise-free measurements (eq. 4) of site-ENU states (M, 3): (range, az, el, rdot).

    ``rdot`` is NaN when the radar has no range rate.
    """
    p = radar.to_local(pos_enu_m)
    v = np.asarray(vel_enu_mps) @ radar.rot.T
    rng = np.linalg.norm(p, axis=-1)
    safe = np.maximum(rng, 1e-9)
    az = np.mod(np.arctan2(p[..., 0], p[..., 1]), TWO_PI)
    el = np.arcsin(np.clip(p[..., 2] / safe, -1.0, 1.0))
    if np.isnan(radar.sigma[3]):
        rdot = np.full(rng.shape, np.nan)
    else:
        rdot = np.einsum("...i,...i->...", p, v) / safe
    return rng, az, el, rdot


def local_to_enu(radar_rot: np.ndarray, radar_offset: np.ndarray, range_m, az_rad, el_rad) -> np.ndarray:
    """Inverse of eq. (4) for positions: p = R [cos e sin a, cos e cos a, sin e]; r = (p - o) rot.

    ``radar_rot`` (..., 3, 3) and ``radar_offset`` (..., 3) broadcast against the plots.
    """
    ce = np.cos(el_rad)
    p = np.stack([range_m * ce * np.sin(az_rad), range_m * ce * np.cos(az_rad), range_m * np.sin(el_rad)], -1)
    return np.einsum("...i,...ij->...j", p - radar_offset, radar_rot)


def plots_to_enu(plots: PlotBatch, radars: Sequence[RadarGeometry]) -> np.ndarray:
    """Plot positions in the site ENU frame (M, 3), metres; ``plots.sensor`` indexes ``radars``."""
    if len(plots) == 0:
        return np.zeros((0, 3))
    rots = np.stack([r.rot for r in radars])
    offs = np.stack([r.offset for r in radars])
    s = np.asarray(plots.sensor, int)
    return local_to_enu(rots[s], offs[s], plots.range_m, plots.az_rad, plots.el_rad)


def sector_rad(radar: RadarGeometry) -> tuple[float, float]:
    """The azimuth sector as (start, width) in radians, matching ``RadarGeometry.in_coverage``."""
    lo, hi = radar.spec.sector_deg
    if (hi - lo) % 360.0 == 0.0 and hi != lo:
        return 0.0, TWO_PI
    return float(np.radians(lo % 360.0)), float(np.radians((hi - lo) % 360.0))


# --------------------------------------------------------------------------------------------
# Truth look-up
# --------------------------------------------------------------------------------------------


def _truth_state(truth, t_s: np.ndarray, rows: np.ndarray):
    """Truth positions and velocities for many (time, row) pairs (NaN where not in the air)."""
    return truth.state_at(t_s, rows)


# --------------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------------


def simulate_plots(
    truth,
    radars: list[RadarGeometry],
    rng: np.random.Generator,
    t_start_s: float,
    t_end_s: float,
    sectors_per_scan: int = 8,
    *,
    scan_phase_s: Sequence[float] | None = None,
) -> list[ScanBatch]:
    """All plots of all radars between t_start_s and t_end_s, as batches sorted by arrival time.

    Only plots with ``t_start_s <= t < t_end_s`` are produced. ``scan_phase_s`` (one per
    radar, in [0, revisit_s)) fixes the scan phases instead of drawing them from ``rng``
    (replays and tests). Batches with equal arrival times keep the radar order (stable sort).
    See the module docstring for the model.
    """
    if sectors_per_scan < 1:
        raise ValueError(f"sectors_per_scan must be >= 1, got {sectors_per_scan}")
    if scan_phase_s is not None and len(scan_phase_s) != len(radars):
        raise ValueError(f"scan_phase_s needs one phase per radar ({len(radars)}), got {len(scan_phase_s)}")
    out: list[ScanBatch] = []
    if t_end_s <= t_start_s:
        return out
    for k, radar in enumerate(radars):
        phase = rng.uniform(0.0, radar.revisit_s) if scan_phase_s is None else float(scan_phase_s[k])
        out.extend(_simulate_radar(truth, radar, k, rng, t_start_s, t_end_s, phase, sectors_per_scan))
    order = np.argsort([b.arrival_t_s for b in out], kind="stable")
    return [out[i] for i in order]


def _simulate_radar(truth, radar, sensor, rng, t_start_s, t_end_s, phase_s, n_sectors) -> list[ScanBatch]:
    period = radar.revisit_s
    spec = radar.spec
    s0 = t_start_s + phase_s - period  # start of scan 0 (the one under way at t_start)
    n_scans = int(np.ceil((t_end_s - s0) / period))

    # -- every (scan, object) pair whose scan overlaps the object's time in the air ----------
    a = np.asarray(truth.start_t_s, float)
    b = np.asarray(truth.end_t_s, float)
    flown = np.isfinite(a) & np.isfinite(b)
    k_lo = np.clip(np.floor((np.where(flown, a, 0.0) - s0) / period), 0, n_scans).astype(int)
    k_hi = np.clip(np.floor((np.where(flown, b, -np.inf) - s0) / period), -1, n_scans - 1).astype(int)
    count = np.maximum(k_hi - k_lo + 1, 0)
    rows = np.repeat(np.arange(a.size), count)
    first = np.repeat(np.cumsum(count) - count, count)
    scan = np.repeat(k_lo, count) + (np.arange(rows.size) - first)
    s_k = s0 + scan * period

    # -- plot time (eq. 1) and the truth state at that time ---------------------------------
    if spec.rotating and rows.size:
        t_ref = np.clip(s_k, a[rows], b[rows])
        pos0, _ = _truth_state(truth, t_ref, rows)
        p0 = radar.to_local(pos0)
        az0 = np.mod(np.arctan2(p0[:, 0], p0[:, 1]), TWO_PI)
        t = s_k + period * az0 / TWO_PI
    else:
        t = s_k.copy()
    keep = np.isfinite(t) & (t >= t_start_s) & (t < t_end_s)
    rows, scan, t = rows[keep], scan[keep], t[keep]
    pos, vel = _truth_state(truth, t, rows)
    ok = np.isfinite(pos).all(axis=1)
    ok[ok] = radar.in_coverage(pos[ok])
    rows, scan, t, pos, vel = rows[ok], scan[ok], t[ok], pos[ok], vel[ok]

    # -- detection and measurement -------------------------------------------------------------
    r_m, az, el, rdot = measure(radar, pos, vel)
    rcs = truth.rcs_m2[rows]
    hit = rng.random(rows.size) < detection_probability(radar, r_m, rcs)
    rows, scan, t = rows[hit], scan[hit], t[hit]
    r_m, az, el, rdot = r_m[hit], az[hit], el[hit], rdot[hit]
    snr = snr_db(radar, r_m, rcs[hit])  # the model SNR at the true range, without noise
    sig = radar.sigma
    noise = rng.standard_normal((rows.size, 4))
    r_m = r_m + sig[0] * noise[:, 0]
    az = np.mod(az + sig[1] * noise[:, 1], TWO_PI)
    el = el + sig[2] * noise[:, 2]
    if not np.isnan(sig[3]):
        rdot = rdot + sig[3] * noise[:, 3]

    # -- false alarms ---------------------------------------------------------------------------
    fa = _false_alarms(radar, rng, s0, n_scans, t_start_s, t_end_s)
    n_fa = fa[0].size
    det = PlotBatch(t, np.full(rows.size, sensor), r_m, az, el, rdot, snr)
    fal = PlotBatch(fa[1], np.full(n_fa, sensor), fa[2], fa[3], fa[4], fa[5], fa[6])
    plots = PlotBatch.concat([det, fal])
    truth_row = np.concatenate([rows, np.full(n_fa, -1)])
    scan = np.concatenate([scan, fa[0]])
    if len(plots) == 0:
        return []

    # -- batching: one batch per non-empty (scan, sector) time slice ----------------------------
    if not spec.rotating:
        n_sectors = 1
    slice_s = period / n_sectors
    sector = np.clip(np.floor((plots.t_s - (s0 + scan * period)) / slice_s), 0, n_sectors - 1).astype(int)
    key = scan * n_sectors + sector
    order = np.lexsort((plots.t_s, key))
    plots, truth_row, key = plots.take(order), truth_row[order], key[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate([[0], cuts]).astype(int)
    ends = np.concatenate([cuts, [key.size]]).astype(int)
    out = []
    for i0, i1 in zip(starts, ends, strict=True):
        kk = int(key[i0])
        sc, se = divmod(kk, n_sectors)
        if spec.rotating:
            end_t = s0 + sc * period + (se + 1) * slice_s
        else:
            end_t = s0 + sc * period
        sl = slice(i0, i1)
        out.append(ScanBatch(float(end_t + spec.latency_s), plots.take(sl), truth_row[sl]))
    return out


def _false_alarms(radar, rng, s0, n_scans, t_start_s, t_end_s):
    """False plots: (scan, t, range, az, el, rdot, snr) arrays, uniform in the coverage volume.

    Per scan N ~ Poisson(lambda). Range by inverse CDF of the density ~ R^2 on [R_min, R_max]:
    R = (R_min^3 + u (R_max^3 - R_min^3))^(1/3). Azimuth uniform in the sector and sin(el) uniform
    on [sin(el_min), sin(el_max)], a point below the mask at its azimuth redrawn; the density is
    then uniform in volume, dV = R^2 cos(el) dR d(az) d(el). Time by eq. (1).
    Range rate uniform in [-300, 300] m/s when the radar measures it. SNR (when the radar has an
    SNR model) is the cell's power-to-noise ratio given a threshold crossing: noise power is
    exponential, so with threshold eta = -ln(pfa) the crossing cell holds eta + Exp(1)
    (memoryless). No measurement noise is added: the draw already is the measurement.
    """
    spec = radar.spec
    lam = spec.false_alarms_per_scan
    period = radar.revisit_s
    empty = (np.zeros(0, int),) + tuple(np.zeros(0) for _ in range(6))
    if lam <= 0.0 or n_scans <= 0:
        return empty
    n_per = rng.poisson(lam, n_scans)
    scan = np.repeat(np.arange(n_scans), n_per)
    n = scan.size
    az0, width = sector_rad(radar)
    el_max = np.radians(spec.max_el_deg)
    el_floor = np.radians(spec.min_el_deg)
    az = np.empty(n)
    el = np.empty(n)
    todo = np.arange(n)
    for _ in range(200):  # rejection below the mask; each pass redraws only the rejected
        if todo.size == 0:
            break
        a = np.mod(az0 + width * rng.random(todo.size), TWO_PI)
        sin_e = np.sin(el_floor) + (np.sin(el_max) - np.sin(el_floor)) * rng.random(todo.size)
        e = np.arcsin(sin_e)
        good = e >= radar.min_elevation_rad(a)
        az[todo[good]], el[todo[good]] = a[good], e[good]
        todo = todo[~good]
    if todo.size:  # the mask hides (nearly) the whole sector: no volume to put them in
        keep = np.ones(n, bool)
        keep[todo] = False
        scan, az, el = scan[keep], az[keep], el[keep]
        n = scan.size
    r3_lo, r3_hi = spec.min_range_m**3, spec.max_range_m**3
    r_m = np.cbrt(r3_lo + (r3_hi - r3_lo) * rng.random(n))
    t = s0 + scan * period
    if spec.rotating:
        t = t + period * az / TWO_PI
    if np.isnan(radar.sigma[3]):
        rdot = np.full(n, np.nan)
    else:
        rdot = rng.uniform(-FALSE_ALARM_RDOT_MPS, FALSE_ALARM_RDOT_MPS, n)
    if spec.snr_ref_db is None:
        snr = np.full(n, np.nan)
    else:
        snr = 10.0 * np.log10(-np.log(spec.pfa) + rng.exponential(1.0, n))
    keep = (t >= t_start_s) & (t < t_end_s)
    return scan[keep], t[keep], r_m[keep], az[keep], el[keep], rdot[keep], snr[keep]
