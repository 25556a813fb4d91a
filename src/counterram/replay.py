"""Recordings: plots from a file fed to the engine the way a live feed would feed them.

``batches(plots, batch_s)`` cuts a time-sorted recording into engine steps: every distinct
timestamp is one step (``batch_s = 0``, right for a tracking radar reporting one plot at a
time), or the plots of each ``batch_s``-long window from the first plot (a search radar's
sectors). ``site_for(specs)`` puts the site origin at the first sensor, as
``counterram track`` does.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .geo import Site
from .physics.flight import FlightEnv
from .physics.munitions import DRAG_LAWS
from .sensing.plots import PlotBatch
from .sensing.radar import RadarGeometry, RadarSpec


def site_for(specs: list[RadarSpec]) -> Site:
    s = specs[0]
    return Site(s.lat, s.lon, s.alt_m)


def estimate_revisit_s(plots: PlotBatch, sensor: int) -> float:
    """Median time between successive plots of one sensor (a tracking radar's report
    interval); a sensors file should give ``revisit_s`` for a search radar instead."""
    t = np.sort(plots.t_s[plots.sensor == sensor])
    dt = np.diff(t)
    dt = dt[dt > 0]
    return float(np.clip(np.median(dt), 0.01, 10.0)) if dt.size else 1.0


#: a sensor of unknown mode reporting faster than this is taken to be a tracking radar
TRACKING_RATE_HZ = 5.0


def radars_for(specs: list[RadarSpec], site: Site, plots: PlotBatch) -> list[RadarGeometry]:
    """Radars of a recording; revisit and mode estimated from the plots where not given."""
    out = []
    for k, s in enumerate(specs):
        revisit = s.revisit_s or estimate_revisit_s(plots, k)
        out.append(RadarGeometry.build(s, site, revisit_s=revisit, tracking=revisit < 1.0 / TRACKING_RATE_HZ))
    return out


def recording_env(site: Site, ground_alt_m: float) -> FlightEnv:
    """Calm ISA over flat ground at ``ground_alt_m``: what a recording without met data gets."""
    return FlightEnv(site, ground_alt_m, DRAG_LAWS)


def batches(plots: PlotBatch, batch_s: float = 0.0) -> Iterator[PlotBatch]:
    """Time-ordered engine steps from a recording."""
    p = plots.sorted_by_time()
    t = p.t_s
    if t.size == 0:
        return
    key = t if batch_s <= 0.0 else np.floor((t - t[0]) / batch_s)
    cuts = np.flatnonzero(np.diff(key) > 0) + 1
    bounds = np.r_[0, cuts, t.size]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        yield p.take(np.arange(a, b))
