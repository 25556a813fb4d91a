"""The International Standard Atmosphere (ISO 2533 / US Standard Atmosphere 1976), vectorised.

``isa(h_m)`` evaluates the layer formulas exactly for geometric heights ``h_m`` (metres above
mean sea level; counterram uses the WGS-84 ellipsoidal height, a difference of a few metres
of geoid undulation that changes density by well under 0.1 %). The flight model's inner loop
uses ``ATMOSPHERE``, a table of the same function sampled every 10 m with linear
interpolation (relative density error below 3e-6, and below 3e-5 within 20 m of the
layer boundaries where the lapse rate changes), which also gives the height derivative
of density and speed of sound that the tracker's Jacobian needs.

Layers (geopotential height H = r0 h / (r0 + h), r0 = 6,356,766 m):

    T = T_b + L_b (H - H_b)
    p = p_b (T / T_b)^(-g0 M / (R* L_b))         (L_b != 0)
    p = p_b exp(-g0 M (H - H_b) / (R* T_b))     (L_b == 0)
    rho = p M / (R* T),   a = sqrt(gamma R* T / M)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

R_EARTH_ISA_M = 6_356_766.0
G0_MPS2 = 9.80665
M_AIR_KG_PER_MOL = 0.0289644
R_STAR_J_PER_MOL_K = 8.31432  # the US Standard Atmosphere 1976 value
GAMMA_AIR = 1.4
R_AIR_J_PER_KG_K = R_STAR_J_PER_MOL_K / M_AIR_KG_PER_MOL

# base geopotential height (m), lapse rate (K/m); base temperature and pressure derived below
_H_BASE_M = np.array([0.0, 11_000.0, 20_000.0, 32_000.0, 47_000.0, 51_000.0, 71_000.0])
_LAPSE_K_PER_M = np.array([-0.0065, 0.0, 0.001, 0.0028, 0.0, -0.0028, -0.002])
_T0_K = 288.15
_P0_PA = 101_325.0


def _layer_bases() -> tuple[np.ndarray, np.ndarray]:
    t_b = np.empty(len(_H_BASE_M))
    p_b = np.empty(len(_H_BASE_M))
    t_b[0], p_b[0] = _T0_K, _P0_PA
    for i in range(1, len(_H_BASE_M)):
        dh = _H_BASE_M[i] - _H_BASE_M[i - 1]
        lapse = _LAPSE_K_PER_M[i - 1]
        t_b[i] = t_b[i - 1] + lapse * dh
        if lapse == 0.0:
            p_b[i] = p_b[i - 1] * np.exp(-G0_MPS2 * M_AIR_KG_PER_MOL * dh / (R_STAR_J_PER_MOL_K * t_b[i - 1]))
        else:
            p_b[i] = p_b[i - 1] * (t_b[i] / t_b[i - 1]) ** (
                -G0_MPS2 * M_AIR_KG_PER_MOL / (R_STAR_J_PER_MOL_K * lapse)
            )
    return t_b, p_b


_T_BASE_K, _P_BASE_PA = _layer_bases()


def geopotential_height_m(h_m):
    """Geopotential height H = r0 h / (r0 + h) for geometric height h (metres)."""
    h = np.asarray(h_m, dtype=float)
    return R_EARTH_ISA_M * h / (R_EARTH_ISA_M + h)


def isa(h_m):
    """ISA at geometric height ``h_m`` (any shape; valid -5 km to 86 km).

    Returns ``(T_K, p_Pa, rho_kg_m3, a_mps)`` arrays of the same shape as ``h_m``.
    """
    H = geopotential_height_m(h_m)
    i = np.clip(np.searchsorted(_H_BASE_M, H, side="right") - 1, 0, len(_H_BASE_M) - 1)
    t_b, p_b, lapse, h_b = _T_BASE_K[i], _P_BASE_PA[i], _LAPSE_K_PER_M[i], _H_BASE_M[i]
    temp = t_b + lapse * (H - h_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        expo = -G0_MPS2 * M_AIR_KG_PER_MOL / (R_STAR_J_PER_MOL_K * np.where(lapse == 0, 1.0, lapse))
        p_grad = p_b * (temp / t_b) ** expo
    p_iso = p_b * np.exp(-G0_MPS2 * M_AIR_KG_PER_MOL * (H - h_b) / (R_STAR_J_PER_MOL_K * t_b))
    p = np.where(lapse == 0.0, p_iso, p_grad)
    rho = p * M_AIR_KG_PER_MOL / (R_STAR_J_PER_MOL_K * temp)
    a = np.sqrt(GAMMA_AIR * R_AIR_J_PER_KG_K * temp)
    return temp, p, rho, a


@dataclass(frozen=True)
class AtmosphereTable:
    """ISA sampled on a uniform height grid for fast lookups in the integrator.

    Heights outside [h_min_m, h_max_m] are clamped to the end values.
    """

    h_min_m: float = -1_000.0
    h_max_m: float = 40_000.0
    step_m: float = 10.0

    def __post_init__(self) -> None:
        h = np.arange(self.h_min_m, self.h_max_m + self.step_m / 2, self.step_m)
        _, _, rho, a = isa(h)
        object.__setattr__(self, "_rho", rho)
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_drho", np.diff(rho) / self.step_m)
        object.__setattr__(self, "_da", np.diff(a) / self.step_m)
        object.__setattr__(self, "_n", len(h))

    def _cell(self, h_m):
        x = (np.asarray(h_m, dtype=float) - self.h_min_m) / self.step_m
        # NaN -> the table's first cell, +-inf -> its ends (np.nan_to_num does the same, slower)
        x = np.clip(np.where(np.isnan(x), 0.0, x), 0.0, self._n - 1.000001)
        j = x.astype(np.intp)
        return j, x - j

    def rho_a(self, h_m):
        """(density kg/m^3, speed of sound m/s) at heights ``h_m``."""
        j, w = self._cell(h_m)
        rho = self._rho[j] + w * self._drho[j] * self.step_m
        a = self._a[j] + w * self._da[j] * self.step_m
        return rho, a

    def rho_a_derivs(self, h_m):
        """(rho, a, d rho/dh in kg/m^4, d a/dh in 1/s) at heights ``h_m``."""
        j, w = self._cell(h_m)
        drho, da = self._drho[j], self._da[j]
        return self._rho[j] + w * drho * self.step_m, self._a[j] + w * da * self.step_m, drho, da


ATMOSPHERE = AtmosphereTable()
