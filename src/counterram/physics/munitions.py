"""The munition catalog: generic rockets, mortar bombs and shells with public figures.

Each entry carries the figures its flight needs (mass, calibre, muzzle speed; for rockets
propellant mass, thrust, burn time and launch-rail length), a drag law Cd(M) with a form
factor, and the public maximum range that the model is checked against. Every figure's source
and the places where sources disagree are in ``docs/munitions.md``.

One figure per munition is fitted rather than read, so that the model's maximum range equals
the public one (:mod:`counterram.physics.calibrate`): the drag form factor ``i`` (Cd =
i Cd_law(M), as firing tables are reproduced in exterior ballistics) or, for mortars whose
top-charge speed is not published, the muzzle speed. The tests check what was not fitted:
the M114's range at 563 m/s, the rockets' burn-out speeds, plausible form factors.
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
    # G7 standard drag function (long boat-tail projectile): the law the tracker assumes.
    # Source: the G7 table of py-ballisticcalc (o-murphy/py-ballisticcalc, drag_tables.py).
    "G7": (
        (
            0.0,
            0.2,
            0.4,
            0.6,
            0.7,
            0.8,
            0.85,
            0.9,
            0.95,
            1.0,
            1.05,
            1.1,
            1.2,
            1.3,
            1.4,
            1.5,
            1.75,
            2.0,
            2.25,
            2.5,
            3.0,
        ),
        (
            0.1198,
            0.1193,
            0.1193,
            0.1194,
            0.1202,
            0.1242,
            0.1306,
            0.1464,
            0.2054,
            0.3803,
            0.4043,
            0.4014,
            0.3884,
            0.3732,
            0.358,
            0.344,
            0.316,
            0.298,
            0.2835,
            0.2697,
            0.2424,
        ),
    ),
    # G1 standard drag function (flat-base projectile), same source.
    "G1": (
        (
            0.0,
            0.2,
            0.4,
            0.6,
            0.7,
            0.8,
            0.85,
            0.9,
            0.95,
            1.0,
            1.05,
            1.1,
            1.2,
            1.3,
            1.4,
            1.5,
            1.75,
            2.0,
            2.25,
            2.5,
            3.0,
        ),
        (
            0.2629,
            0.2344,
            0.2104,
            0.2034,
            0.2165,
            0.2546,
            0.2901,
            0.3415,
            0.4084,
            0.4805,
            0.5427,
            0.5883,
            0.6393,
            0.6589,
            0.6625,
            0.6573,
            0.628,
            0.5934,
            0.563,
            0.5397,
            0.5133,
        ),
    ),
    # 155 mm HE M101 (an M107 sibling): KD(M) fit of rodolfo-space-force/Drag-coefficient-Kd-155-MM-SHELL,
    # Cd = 8/pi KD, valid M 0.5-2.6 and held flat below. Also the shape used for mortar bombs and
    # rockets, for which no public Cd(M) table was found (docs/munitions.md).
    "M101": (
        (
            0.0,
            0.2,
            0.4,
            0.6,
            0.7,
            0.8,
            0.85,
            0.9,
            0.95,
            1.0,
            1.05,
            1.1,
            1.2,
            1.3,
            1.4,
            1.5,
            1.75,
            2.0,
            2.25,
            2.5,
        ),
        (
            0.1475,
            0.1475,
            0.1475,
            0.1475,
            0.1475,
            0.1475,
            0.1475,
            0.1475,
            0.1918,
            0.3381,
            0.3833,
            0.3879,
            0.3795,
            0.3632,
            0.3518,
            0.3405,
            0.314,
            0.2907,
            0.2705,
            0.2531,
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


# Figures: P = published (source in docs/munitions.md), Q = commonly quoted, E = our estimate,
# F = fitted by physics/calibrate.py to the public maximum range (ISA, calm, sea level).
_MORTAR_FORM_FACTOR = 1.1216  # F: 82 mm triple 3.4 kg / 210 m/s / 3,040 m on the M101 shape

CATALOG: dict[str, Munition] = {
    m.name: m
    for m in [
        # US M224 / M720 HE: 1.7 kg (Q); no top-charge speed published -> v0 F; 3,490 m (P, Wikipedia M224)
        Munition(
            "mortar-60mm",
            "mortar",
            0.060,
            1.70,
            236.0,
            "M101",
            _MORTAR_FORM_FACTOR,
            3490.0,
            "Wikipedia 'M224 mortar': HE 70-3,490 m",
            lethal_radius_m=15.0,
        ),
        # US M252 / M821 HE: 4.5 kg (P); published 225-250 m/s cannot reach the range -> v0 F;
        # 5,608 m (P, FM 23-90 table)
        Munition(
            "mortar-81mm",
            "mortar",
            0.081,
            4.50,
            305.0,
            "M101",
            _MORTAR_FORM_FACTOR,
            5608.0,
            "FM 23-90 via angelfire 98mm table: M252 83-5,608 m",
            lethal_radius_m=20.0,
        ),
        # Soviet 82 mm (BM-37 / wz. 41): 3.4 kg, 210 m/s, 3,040 m (all P): calibrates the mortar drag
        Munition(
            "mortar-82mm",
            "mortar",
            0.082,
            3.40,
            210.0,
            "M101",
            _MORTAR_FORM_FACTOR,
            3040.0,
            "Torun artillery museum, '82 mm mozdzierz wz. 1941': 3.4 kg, 210 m/s, 3,040 m",
            lethal_radius_m=20.0,
        ),
        # French MO-120-RT standard bomb: 18.7 kg (P), v0 F; 8,140 m (P, Wikipedia MO-120-RT)
        Munition(
            "mortar-120mm",
            "mortar",
            0.120,
            18.7,
            352.0,
            "M101",
            _MORTAR_FORM_FACTOR,
            8140.0,
            "Wikipedia 'Mortier 120 mm Raye Tracte Modele F1': 8,140 m standard projectile",
            lethal_radius_m=75.0,
        ),
        # Chinese Type 63: 18.8 kg (P); motor E (3.47 kg propellant, 1.0 s, 6.8 kN at Isp 200 s);
        # 8,050 m (Q, en.wikipedia; zh.wikipedia says 8.5 km); form factor F; rail 0.8 m E
        Munition(
            "rocket-107mm",
            "rocket",
            0.107,
            18.8,
            0.0,
            "M101",
            1.5853,
            8050.0,
            "Wikipedia 'Type 63 multiple rocket launcher': 8,050 m (zh: 8.5 km)",
            propellant_kg=3.47,
            thrust_n=6800.0,
            burn_s=1.0,
            rail_m=0.8,
            lethal_radius_m=12.5,
        ),
        # Soviet 9M22U (BM-21 Grad): 66.6 kg (Q), 20.45 kg propellant and 1.88 s burn (P),
        # thrust 21.3 kN (E, Isp 200 s); 20,400 m (P); form factor F; tube 3.0 m E
        Munition(
            "rocket-122mm",
            "rocket",
            0.122,
            66.6,
            0.0,
            "M101",
            1.5045,
            20400.0,
            "tech.wp.pl on the M-21OF / 9M22U: 20,400 m",
            propellant_kg=20.45,
            thrust_n=21300.0,
            burn_s=1.88,
            rail_m=3.0,
            lethal_radius_m=28.0,
        ),
        # US M107 HE, 39-cal tube, charge 8: 42.91 kg (P), 684 m/s (Q), 18,100 m (P, weak); form factor F
        Munition(
            "shell-155mm",
            "artillery",
            0.155,
            42.91,
            684.0,
            "M101",
            0.9701,
            18100.0,
            "M109 / M198 with M107 at charge 8: 18.1-18.2 km (weaponsystems.net, historynet)",
            lethal_radius_m=50.0,
        ),
    ]
}


def munition(name: str) -> Munition:
    """Catalog lookup with an error that lists the known names."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown munition {name!r}; known: {', '.join(CATALOG)}") from None
