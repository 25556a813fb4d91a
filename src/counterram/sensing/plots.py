"""The plot record: one radar detection (range, azimuth, elevation, optional range rate).

At the edges a plot is a JSON object, one per line (see ``docs/formats.md``)::

    {"t": 12.35, "sensor": "lcmr-1", "range_m": 4821.2, "az_deg": 97.4, "el_deg": 11.8}

with optional ``"rdot_mps"`` and ``"snr_db"``. Inside the engine a batch of plots is a
:class:`PlotBatch`, a struct of arrays in SI units (angles in radians). Reading a file never
stops at a bad line: each is reported with its line number and what was wrong, and every
good line is kept.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class PlotBatch:
    """Plots as arrays: time (s), sensor index, range (m), azimuth and elevation (rad).

    ``rdot_mps`` is NaN where the sensor gave no range rate; ``snr_db`` NaN where unknown.
    ``sensor`` indexes the engine's sensor list.
    """

    t_s: np.ndarray
    sensor: np.ndarray
    range_m: np.ndarray
    az_rad: np.ndarray
    el_rad: np.ndarray
    rdot_mps: np.ndarray
    snr_db: np.ndarray

    def __len__(self) -> int:
        return int(self.t_s.size)

    @staticmethod
    def empty() -> PlotBatch:
        z = np.zeros(0)
        return PlotBatch(z, np.zeros(0, int), z, z, z, z, z)

    @staticmethod
    def concat(batches: Sequence[PlotBatch]) -> PlotBatch:
        if not batches:
            return PlotBatch.empty()
        return PlotBatch(*(np.concatenate([getattr(b, f) for b in batches]) for f in _FIELDS))

    def take(self, idx) -> PlotBatch:
        return PlotBatch(*(getattr(self, f)[idx] for f in _FIELDS))

    def sorted_by_time(self) -> PlotBatch:
        return self.take(np.argsort(self.t_s, kind="stable"))

    def valid_mask(self, n_sensors: int) -> tuple[np.ndarray, list[str]]:
        """Rows that are usable, and a reason for each row that is not ('' when usable)."""
        reasons = np.full(len(self), "", dtype=object)
        bad_sensor = (self.sensor < 0) | (self.sensor >= n_sensors)
        reasons[bad_sensor] = "unknown sensor"
        finite = np.isfinite(self.t_s) & np.isfinite(self.range_m) & np.isfinite(self.az_rad)
        finite &= np.isfinite(self.el_rad)
        reasons[~finite & (reasons == "")] = "non-finite time, range or angle"
        bad_geom = (self.range_m <= 0) | (np.abs(self.el_rad) > np.pi / 2)
        reasons[bad_geom & finite & (reasons == "")] = "range <= 0 or |elevation| > 90 deg"
        bad_rdot = ~np.isnan(self.rdot_mps) & ~np.isfinite(self.rdot_mps)
        reasons[bad_rdot & (reasons == "")] = "non-finite range rate"
        ok = reasons == ""
        return ok, list(reasons)


_FIELDS = ("t_s", "sensor", "range_m", "az_rad", "el_rad", "rdot_mps", "snr_db")


@dataclass(frozen=True)
class PlotError:
    """A line of a plot file that could not be used."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


_REQUIRED = {
    "t": "a number (seconds)",
    "sensor": "a sensor id",
    "range_m": "a number (metres)",
    "az_deg": "a number (degrees)",
    "el_deg": "a number (degrees)",
}
_KNOWN = set(_REQUIRED) | {"rdot_mps", "snr_db"}


def parse_plot(obj, sensors: dict[str, int]) -> tuple[tuple, str | None]:
    """One JSON object -> (t, sensor_idx, range_m, az_rad, el_rad, rdot, snr) or an error text."""
    if not isinstance(obj, dict):
        return (), f"expected a JSON object, got {type(obj).__name__}"
    for key, what in _REQUIRED.items():
        if key not in obj:
            return (), f"missing {key!r} (expected {what})"
    extra = set(obj) - _KNOWN
    if extra:
        return (), f"unknown field {sorted(extra)[0]!r}; expected {', '.join(sorted(_KNOWN))}"
    if obj["sensor"] not in sensors:
        return (), f"sensor: unknown sensor {obj['sensor']!r}; known: {', '.join(sensors)}"
    vals = {}
    for key in ("t", "range_m", "az_deg", "el_deg", "rdot_mps", "snr_db"):
        v = obj.get(key)
        if v is None and key in ("rdot_mps", "snr_db"):
            vals[key] = math.nan
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return (), f"{key}: expected a finite number, got {v!r}"
        vals[key] = float(v)
    if vals["range_m"] <= 0:
        return (), f"range_m: expected a positive range, got {vals['range_m']!r}"
    if not -90.0 <= vals["el_deg"] <= 90.0:
        return (), f"el_deg: expected -90..90 degrees, got {vals['el_deg']!r}"
    return (
        vals["t"],
        sensors[obj["sensor"]],
        vals["range_m"],
        math.radians(vals["az_deg"] % 360.0),
        math.radians(vals["el_deg"]),
        vals["rdot_mps"],
        vals["snr_db"],
    ), None


def read_plots(path: str | Path, sensors: Sequence[str]) -> tuple[PlotBatch, list[PlotError]]:
    """Read a JSON Lines plot file. Bad lines are returned as errors; good lines are all kept."""
    index = {s: i for i, s in enumerate(sensors)}
    rows: list[tuple] = []
    errors: list[PlotError] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(PlotError(str(path), n, f"not JSON: {exc.msg} (column {exc.colno})"))
                continue
            row, err = parse_plot(obj, index)
            if err:
                errors.append(PlotError(str(path), n, err))
            else:
                rows.append(row)
    return batch_from_rows(rows), errors


def batch_from_rows(rows: Sequence[tuple]) -> PlotBatch:
    if not rows:
        return PlotBatch.empty()
    cols = list(zip(*rows, strict=True))
    return PlotBatch(
        np.array(cols[0], float),
        np.array(cols[1], int),
        np.array(cols[2], float),
        np.array(cols[3], float),
        np.array(cols[4], float),
        np.array(cols[5], float),
        np.array(cols[6], float),
    )


def plot_records(batch: PlotBatch, sensors: Sequence[str]) -> Iterator[dict]:
    """PlotBatch -> JSON-able dicts in the plot format (degrees at the edge)."""
    az = np.mod(np.degrees(batch.az_rad), 360.0)
    el = np.degrees(batch.el_rad)
    for i in range(len(batch)):
        rec = {
            "t": round(float(batch.t_s[i]), 6),
            "sensor": sensors[int(batch.sensor[i])],
            "range_m": round(float(batch.range_m[i]), 3),
            "az_deg": round(float(az[i]), 6),
            "el_deg": round(float(el[i]), 6),
        }
        if not np.isnan(batch.rdot_mps[i]):
            rec["rdot_mps"] = round(float(batch.rdot_mps[i]), 3)
        if not np.isnan(batch.snr_db[i]):
            rec["snr_db"] = round(float(batch.snr_db[i]), 2)
        yield rec


def write_plots(path: str | Path, batches: Iterable[PlotBatch], sensors: Sequence[str]) -> int:
    """Write plots as JSON Lines; returns the number written."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for b in batches:
            for rec in plot_records(b, sensors):
                f.write(json.dumps(rec, separators=(", ", ": ")) + "\n")
                n += 1
    return n
