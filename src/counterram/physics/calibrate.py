"""Calibration of the catalog against public maximum ranges (run by maintainers, not at start-up).

For each munition exactly one unknown is solved so that the model's maximum range equals the
public figure (ISA, calm, sea level, 45 degrees north):

* the drag form factor ``i`` where mass, speed and (for rockets) the motor are published or
  derived (82 mm, 107 mm, 122 mm, 155 mm);
* the muzzle speed where no top-charge speed is published (60, 81 and 120 mm), with the
  mortar form factor taken from the one complete public mortar triple (82 mm: 3.4 kg,
  210 m/s, 3,040 m).

``counterram catalog --fit`` prints the solved values; they are copied into
:mod:`counterram.physics.munitions` with this provenance. The checks that are *not* fitted
are in the tests: the M114's range at 563 m/s, the rockets' burn-out speeds, and the
plausibility of every form factor.
"""

from __future__ import annotations

from dataclasses import replace

from scipy.optimize import brentq

from ..geo import Site
from .aim import max_range
from .flight import FlightEnv
from .munitions import DRAG_LAWS, Munition

CALIBRATION_SITE = Site(45.0, 0.0, 0.0)


def calibration_env() -> FlightEnv:
    """ISA, calm air, launch and impact at sea level at 45 degrees north."""
    return FlightEnv(CALIBRATION_SITE, 0.0, DRAG_LAWS)


def fit(mun: Munition, what: str, target_m: float | None = None, lo: float = 0.3, hi: float = 3.0) -> float:
    """Solve ``what`` ('form_factor' or 'muzzle_speed_mps') so that max range = target_m."""
    env = calibration_env()
    target = mun.max_range_m if target_m is None else target_m

    def err(value: float) -> float:
        return max_range(env, replace(mun, **{what: value})).max_range_m - target

    return float(brentq(err, lo, hi, xtol=1e-6 if what == "form_factor" else 1e-3))
