"""Non-threat air traffic: straight legs between waypoints at the leg's speed, vectorised in time.

A path is a polyline of ENU waypoints (metres) with the speed flown toward the next one
(m/s). Position at time t is found by interpolating along the cumulative leg times; the
velocity is the leg's constant velocity. Before its start time and after its last waypoint
an object is absent (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Path:
    start_time_s: float
    points_enu_m: np.ndarray  # (K, 3)
    speed_mps: np.ndarray  # (K,), the last entry unused

    @property
    def leg_times_s(self) -> np.ndarray:
        """Absolute times at which each waypoint is reached."""
        d = np.linalg.norm(np.diff(self.points_enu_m, axis=0), axis=1)
        return self.start_time_s + np.concatenate([[0.0], np.cumsum(d / self.speed_mps[:-1])])

    @property
    def end_time_s(self) -> float:
        return float(self.leg_times_s[-1])

    def state(self, t_s):
        """(position (..., 3), velocity (..., 3)) at absolute times ``t_s``; NaN outside the path."""
        t = np.asarray(t_s, float)
        tk = self.leg_times_s
        pts = self.points_enu_m
        j = np.clip(np.searchsorted(tk, t, side="right") - 1, 0, len(tk) - 2)
        w = (t - tk[j]) / (tk[j + 1] - tk[j])
        pos = pts[j] + w[..., None] * (pts[j + 1] - pts[j])
        vel = (pts[j + 1] - pts[j]) / (tk[j + 1] - tk[j])[..., None]
        out = (t < tk[0]) | (t > tk[-1])
        pos = np.where(out[..., None], np.nan, pos)
        vel = np.where(out[..., None], np.nan, vel)
        return pos, vel
