"""The munition catalog: generic rockets, mortar bombs and shells with public figures.

Each entry carries the figures its flight needs (mass, calibre, muzzle speed; for rockets
propellant mass, thrust, burn time and launch-rail length), a drag law Cd(M) with a form
factor, and the public maximum range that the model is checked against. Every figure's source
and the places where sources disagree are in ``docs/munitions.md``.

The drag form factor ``i`` (Cd = i * Cd_law(M)) is the one figure fitted rather than read:
firing tables are reproduced the same way in exterior ballistics (a ballistic coefficient
relative to a standard drag law). ``counterram catalog --fit`` recomputes it; the tests
check that the fitted factors stay physically plausible and that the model reproduces a
second public figure it was not fitted to (see ``docs/munitions.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from .flight import DragLaws

# --------------------------------------------------------------------------------------------
# Drag laws Cd(M) (sources in docs/munitions.md)
# --------------------------------------------------------------------------------------------

_LAWS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # G7 standard drag function (long boat-tail projectile), abridged
    "G7": (
        (
            0.0,
            0.5,
            0.7,
            0.8,
            0.85,
            0.9,
            0.925,
            0.95,
            0.975,
            1.0,
            1.025,
            1.05,
            1.1,
            1.2,
            1.3,
            1.5,
            1.75,
            2.0,
            2.5,
            3.0,
            4.0,
            5.0,
        ),
        (
            0.1198,
            0.1197,
            0.1196,
            0.1202,
            0.1207,
            0.1260,
            0.1329,
            0.1463,
            0.1946,
            0.3803,
            0.4043,
            0.4014,
            0.3955,
            0.3804,
            0.3655,
            0.3420,
            0.3158,
            0.2980,
            0.2669,
            0.2424,
            0.2066,
            0.1833,
        ),
    ),
    # G1 standard drag function (flat-base projectile), abridged
    "G1": (
        (
            0.0,
            0.5,
            0.7,
            0.8,
            0.85,
            0.9,
            0.925,
            0.95,
            0.975,
            1.0,
            1.025,
            1.05,
            1.1,
            1.2,
            1.3,
            1.5,
            1.75,
            2.0,
            2.5,
            3.0,
            4.0,
            5.0,
        ),
        (
            0.2629,
            0.2032,
            0.1980,
            0.2034,
            0.2108,
            0.2253,
            0.2368,
            0.2555,
            0.2858,
            0.4805,
            0.5167,
            0.5427,
            0.5789,
            0.6350,
            0.6600,
            0.6600,
            0.6342,
            0.5934,
            0.5280,
            0.4782,
            0.4060,
            0.3566,
        ),
    ),
}

LAW_NAMES: tuple[str, ...] = tuple(_LAWS)
DRAG_LAWS = DragLaws(
    names=LAW_NAMES,
    mach=tuple(_LAWS[k][0] for k in LAW_NAMES),
    cd=tuple(_LAWS[k][1] for k in LAW_NAMES),
)
#: the law the tracker assumes for an unknown round (its kappa is ln(i A / m) relative to it)
TRACKER_LAW = "G7"

Kind = Literal["mortar", "rocket", "artillery"]


@dataclass(frozen=True)
class Munition:
    """A munition type. SI units; ``mass_kg`` is the launch mass (rockets: with propellant)."""

    name: str
    kind: Kind
    calibre_m: float
    mass_kg: float
    muzzle_speed_mps: float
    drag_law: str
    form_factor: float
    max_range_m: float
    max_range_source: str
    propellant_kg: float = 0.0
    thrust_n: float = 0.0
    burn_s: float = 0.0
    rail_m: float = 0.0
    lethal_radius_m: float = 0.0

    @property
    def area_m2(self) -> float:
        """Reference area pi d^2 / 4 (m^2)."""
        return math.pi * self.calibre_m**2 / 4.0

    @property
    def burnt_mass_kg(self) -> float:
        return self.mass_kg - self.propellant_kg

    @property
    def mdot_kgps(self) -> float:
        return self.propellant_kg / self.burn_s if self.burn_s > 0 else 0.0

    @property
    def law_idx(self) -> int:
        return DRAG_LAWS.index(self.drag_law)


CATALOG: dict[str, Munition] = {
    m.name: m
    for m in [
        Munition("mortar-60mm", "mortar", 0.060, 1.70, 237.0, "G7", 1.0, 3490.0, "tbd"),
        Munition("mortar-81mm", "mortar", 0.081, 4.10, 264.0, "G7", 1.0, 5600.0, "tbd"),
        Munition("mortar-82mm", "mortar", 0.082, 3.40, 210.0, "G7", 1.0, 3040.0, "tbd"),
        Munition("mortar-120mm", "mortar", 0.120, 15.9, 325.0, "G7", 1.0, 8140.0, "tbd"),
        Munition(
            "rocket-107mm",
            "rocket",
            0.107,
            18.8,
            0.0,
            "G7",
            1.0,
            8050.0,
            "tbd",
            propellant_kg=3.3,
            thrust_n=13000.0,
            burn_s=0.5,
            rail_m=0.8,
        ),
        Munition(
            "rocket-122mm",
            "rocket",
            0.122,
            66.6,
            0.0,
            "G7",
            1.0,
            20400.0,
            "tbd",
            propellant_kg=20.45,
            thrust_n=22000.0,
            burn_s=1.8,
            rail_m=3.0,
        ),
        Munition("shell-155mm", "artillery", 0.155, 43.2, 684.0, "G1", 1.0, 18100.0, "tbd"),
    ]
}


def munition(name: str) -> Munition:
    """Catalog lookup with an error that lists the known names."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown munition {name!r}; known: {', '.join(CATALOG)}") from None
