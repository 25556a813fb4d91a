"""Radar: its specification (the sensors file and the scenario's ``sensors:``) and geometry.

A :class:`RadarSpec` is what a file says about a radar, in the file's units (degrees);
:class:`RadarGeometry` is what the engine needs, in SI, for the site frame: the rigid
transform from site ENU to the radar's own ENU frame (so azimuth and elevation are taken
about the radar's vertical), the noise standard deviations and the coverage test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..geo import Site


class RadarSpec(BaseModel):
    """A radar: position, accuracy, coverage, detection and timing.

    Only ``id``, ``lat``, ``lon`` and the three noise figures are needed to track a recording;
    the rest describes the radar for simulation (and coverage for the tracker's miss counting).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    lat: float = Field(ge=-90.0, le=90.0, description="latitude, degrees (WGS-84)")
    lon: float = Field(ge=-180.0, le=180.0, description="longitude, degrees (WGS-84)")
    alt_m: float = Field(0.0, description="antenna height above the WGS-84 ellipsoid, m")
    sigma_range_m: float = Field(10.0, gt=0.0, description="1-sigma range noise, m")
    sigma_az_deg: float = Field(0.2, gt=0.0, description="1-sigma azimuth noise, degrees")
    sigma_el_deg: float = Field(0.2, gt=0.0, description="1-sigma elevation noise, degrees")
    sigma_rdot_mps: float | None = Field(
        None, gt=0.0, description="1-sigma range-rate noise, m/s; none: no range rate"
    )
    mode: Literal["search", "track"] | None = Field(
        None,
        description="search: a scanning radar reporting every target each revisit (the default in "
        "simulation); track: a tracking radar following one target at a high rate, whose range gate and "
        "servo can wander (its plots get outlier handling and adaptive noise). Unset in a recording: a "
        "sensor reporting faster than 5 Hz is taken to be a tracking radar",
    )
    revisit_s: float | None = Field(
        None,
        gt=0.0,
        le=60.0,
        description="scan period, s (default 1 s in simulation; estimated from a recording)",
    )
    rotating: bool = Field(True, description="plots of one scan are timed by azimuth as the beam sweeps")
    min_range_m: float = Field(0.0, ge=0.0, description="coverage: minimum range, m")
    max_range_m: float = Field(20_000.0, gt=0.0, description="coverage: maximum range, m")
    sector_deg: tuple[float, float] = Field(
        (0.0, 360.0), description="coverage: azimuth sector [from, to], clockwise from north, degrees"
    )
    min_el_deg: float = Field(0.0, ge=-10.0, le=90.0, description="coverage: minimum elevation, degrees")
    max_el_deg: float = Field(85.0, ge=0.0, le=90.0, description="coverage: maximum elevation, degrees")
    el_mask: list[tuple[float, float]] | None = Field(
        None,
        description="minimum elevation by azimuth for buildings and terrain: [[az_deg, min_el_deg], ...]",
    )
    pd: float = Field(0.95, ge=0.0, le=1.0, description="detection probability when snr_ref_db is not given")
    snr_ref_db: float | None = Field(
        None, description="signal-to-noise (dB) of a target at ref_range_m; SNR falls as range^4"
    )
    ref_range_m: float = Field(10_000.0, gt=0.0, description="range of the SNR reference, m")
    ref_rcs_m2: float = Field(
        0.01, gt=0.0, description="radar cross-section of the SNR reference target, m^2"
    )
    pfa: float = Field(1e-6, gt=0.0, lt=1.0, description="false-alarm probability per cell (Swerling 1 Pd)")
    false_alarms_per_scan: float = Field(0.0, ge=0.0, description="mean false plots per scan (Poisson)")
    latency_s: float = Field(0.0, ge=0.0, le=10.0, description="delay from measurement to report, s")

    @model_validator(mode="after")
    def _consistent(self):
        if self.min_range_m >= self.max_range_m:
            raise ValueError(
                f"min_range_m ({self.min_range_m}) must be below max_range_m ({self.max_range_m})"
            )
        if self.min_el_deg >= self.max_el_deg:
            raise ValueError(f"min_el_deg ({self.min_el_deg}) must be below max_el_deg ({self.max_el_deg})")
        if self.el_mask is not None and len(self.el_mask) < 1:
            raise ValueError("el_mask needs at least one [az_deg, min_el_deg] point")
        return self


class SensorsFile(BaseModel):
    """A sensors file: ``sensors:`` a list of radars."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sensors: list[RadarSpec] = Field(min_length=1)


@dataclass(frozen=True)
class RadarGeometry:
    """A radar in a site's frame, SI units. ``p_radar = r_site @ rot.T + offset``."""

    id: str
    rot: np.ndarray  # (3, 3)
    offset: np.ndarray  # (3,)
    position_enu_m: np.ndarray  # (3,) radar position in the site frame
    sigma: np.ndarray  # (4,) range m, az rad, el rad, rdot m/s (nan: no range rate)
    revisit_s: float
    spec: RadarSpec
    tracking: bool = False  # a tracking radar (mode "track")

    @staticmethod
    def build(
        spec: RadarSpec, site: Site, revisit_s: float | None = None, tracking: bool | None = None
    ) -> RadarGeometry:
        rot, offset = site.transform_to(spec.lat, spec.lon, spec.alt_m)
        sig = np.array(
            [
                spec.sigma_range_m,
                np.radians(spec.sigma_az_deg),
                np.radians(spec.sigma_el_deg),
                spec.sigma_rdot_mps if spec.sigma_rdot_mps else np.nan,
            ]
        )
        return RadarGeometry(
            id=spec.id,
            rot=rot,
            offset=offset,
            position_enu_m=site.to_enu(spec.lat, spec.lon, spec.alt_m),
            sigma=sig,
            revisit_s=float(spec.revisit_s or revisit_s or 1.0),
            spec=spec,
            tracking=spec.mode == "track" if spec.mode is not None else bool(tracking),
        )

    def to_local(self, r_site):
        """Site ENU points (..., 3) -> the radar's own ENU frame (..., 3)."""
        return np.asarray(r_site) @ self.rot.T + self.offset

    def min_elevation_rad(self, az_rad):
        """Lowest elevation seen at azimuth ``az_rad``: the larger of min_el_deg and the mask."""
        base = np.radians(self.spec.min_el_deg)
        if not self.spec.el_mask:
            return np.full(np.shape(az_rad), base)
        pts = sorted(self.spec.el_mask)
        az_pts = np.array([p[0] for p in pts])
        el_pts = np.array([p[1] for p in pts])
        mask = np.interp(np.mod(np.degrees(az_rad), 360.0), az_pts, el_pts, period=360.0)
        return np.maximum(base, np.radians(mask))

    def in_coverage(self, r_site) -> np.ndarray:
        """Which site-ENU points (N, 3) this radar can see (range, sector, elevation, mask)."""
        p = self.to_local(r_site)
        rng = np.linalg.norm(p, axis=-1)
        az = np.arctan2(p[..., 0], p[..., 1])
        el = np.arcsin(np.clip(p[..., 2] / np.maximum(rng, 1e-9), -1.0, 1.0))
        s = self.spec
        ok = (rng >= s.min_range_m) & (rng <= s.max_range_m)
        ok &= (el >= self.min_elevation_rad(az)) & (el <= np.radians(s.max_el_deg))
        lo, hi = s.sector_deg
        if (hi - lo) % 360.0 != 0.0 or hi == lo:
            rel = np.mod(np.degrees(az) - lo, 360.0)
            ok &= rel <= np.mod(hi - lo, 360.0)
        return ok
