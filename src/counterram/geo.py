"""The site frame: WGS-84 <-> local east-north-up (ENU) metres about the scenario origin.

Every position inside counterram is an ENU vector in metres about one origin per site
(``Site``). Geodetic conversions go through :mod:`pymap3d`; heights are metres above the
WGS-84 ellipsoid throughout (not above mean sea level).

The flight model needs two more things from the frame, both derived here once per site:

* a *local osculating sphere* - the sphere of Gaussian mean radius ``R = sqrt(M N)`` that
  touches the ellipsoid under the origin - used for gravity toward the Earth's centre of
  curvature and for a fast height above the ellipsoid inside the integrator
  (``h(r) = |r - c| - R``; within 20 km of the origin it differs from the exact WGS-84 height
  by under 0.1 m, and impacts are corrected to the exact height with pymap3d);
* rigid transforms from the site frame to another point's own ENU frame (a radar's), so that
  measured azimuth and elevation are taken about the radar's own vertical.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pymap3d
import shapely

# WGS-84 constants
WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
# Somigliana normal gravity on the ellipsoid (WGS-84, NIMA TR8350.2 eq. 4-1)
_GE_MPS2 = 9.7803253359
_K_SOMIGLIANA = 0.00193185265241


def normal_gravity_mps2(lat_deg: float) -> float:
    """Normal gravity on the WGS-84 ellipsoid at geodetic latitude ``lat_deg`` (m/s^2).

    g(phi) = g_e (1 + k sin^2 phi) / sqrt(1 - e^2 sin^2 phi)      (Somigliana)
    """
    s2 = np.sin(np.radians(lat_deg)) ** 2
    return float(_GE_MPS2 * (1.0 + _K_SOMIGLIANA * s2) / np.sqrt(1.0 - WGS84_E2 * s2))


def enu_rotation(lat_deg: float, lon_deg: float) -> np.ndarray:
    """Rotation matrix R (3x3) taking ECEF vector components to local ENU components.

    enu = R @ ecef, rows are the east, north and up unit vectors in ECEF.
    """
    phi, lam = np.radians(lat_deg), np.radians(lon_deg)
    sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
    return np.array(
        [
            [-sl, cl, 0.0],
            [-sp * cl, -sp * sl, cp],
            [cp * cl, cp * sl, sp],
        ]
    )


@dataclass(frozen=True)
class Site:
    """A site: the origin of the local ENU frame (WGS-84 geodetic, height above ellipsoid)."""

    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    # derived (computed in __post_init__)
    ecef_m: np.ndarray = field(init=False, repr=False, compare=False)
    rot_ecef_to_enu: np.ndarray = field(init=False, repr=False, compare=False)
    radius_m: float = field(init=False, repr=False, compare=False)
    centre_enu_m: np.ndarray = field(init=False, repr=False, compare=False)
    g0_mps2: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat_deg <= 90.0:
            raise ValueError(f"latitude {self.lat_deg} outside [-90, 90] degrees")
        ecef = np.array(pymap3d.geodetic2ecef(self.lat_deg, self.lon_deg, self.alt_m))
        s2 = np.sin(np.radians(self.lat_deg)) ** 2
        w = np.sqrt(1.0 - WGS84_E2 * s2)
        n_prime = WGS84_A_M / w  # prime-vertical radius of curvature N
        m_merid = WGS84_A_M * (1.0 - WGS84_E2) / w**3  # meridian radius of curvature M
        radius = float(np.sqrt(m_merid * n_prime))
        object.__setattr__(self, "ecef_m", ecef)
        object.__setattr__(self, "rot_ecef_to_enu", enu_rotation(self.lat_deg, self.lon_deg))
        object.__setattr__(self, "radius_m", radius)
        # centre of the osculating sphere: R below the ellipsoid surface under the origin
        object.__setattr__(self, "centre_enu_m", np.array([0.0, 0.0, -(self.alt_m + radius)]))
        object.__setattr__(self, "g0_mps2", normal_gravity_mps2(self.lat_deg))

    # -- conversions -------------------------------------------------------------------------
    def to_enu(self, lat_deg, lon_deg, alt_m=0.0) -> np.ndarray:
        """Geodetic (degrees, metres above ellipsoid; any broadcastable shapes) -> ENU (..., 3) m."""
        e, n, u = pymap3d.geodetic2enu(lat_deg, lon_deg, alt_m, self.lat_deg, self.lon_deg, self.alt_m)
        return np.stack(np.broadcast_arrays(e, n, u), axis=-1).astype(float)

    def to_geodetic(self, enu_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ENU (..., 3) metres -> (lat_deg, lon_deg, alt_m) arrays of shape (...)."""
        enu = np.asarray(enu_m, dtype=float)
        lat, lon, alt = pymap3d.enu2geodetic(
            enu[..., 0], enu[..., 1], enu[..., 2], self.lat_deg, self.lon_deg, self.alt_m
        )
        return np.asarray(lat), np.asarray(lon), np.asarray(alt)

    def height_m(self, enu_m) -> np.ndarray:
        """Exact height above the WGS-84 ellipsoid of ENU points (..., 3), metres."""
        return self.to_geodetic(enu_m)[2]

    def sphere_height_m(self, enu_m) -> np.ndarray:
        """Fast height above the local osculating sphere: h = |r - c| - R (metres)."""
        d = np.asarray(enu_m, dtype=float) - self.centre_enu_m
        return np.sqrt(np.einsum("...i,...i->...", d, d)) - self.radius_m

    def transform_to(self, lat_deg: float, lon_deg: float, alt_m: float):
        """Rigid transform from this site's ENU frame to the ENU frame of another point.

        Returns ``(rot, offset)`` with ``p_other = p_site @ rot.T + offset`` (both metres):
        rot = R_other R_site^T and offset = R_other (o_site - o_other) in ECEF.
        """
        rot_other = enu_rotation(lat_deg, lon_deg)
        o_other = np.array(pymap3d.geodetic2ecef(lat_deg, lon_deg, alt_m))
        rot = rot_other @ self.rot_ecef_to_enu.T
        offset = rot_other @ (self.ecef_m - o_other)
        return rot, offset

    def polygon_enu(self, latlon_deg) -> shapely.Polygon:
        """A (lat, lon) polygon ring -> shapely Polygon in ENU metres (east, north)."""
        ring = np.asarray(latlon_deg, dtype=float)
        enu = self.to_enu(ring[:, 0], ring[:, 1], self.alt_m)
        return shapely.Polygon(enu[:, :2])


def azimuth_deg(east_m, north_m) -> np.ndarray:
    """Azimuth clockwise from north in degrees [0, 360)."""
    return np.mod(np.degrees(np.arctan2(east_m, north_m)), 360.0)
