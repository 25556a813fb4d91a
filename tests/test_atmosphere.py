"""ISA against published values (US Standard Atmosphere 1976, geometric altitude tables)."""

import numpy as np
import pytest

from counterram.physics.atmosphere import ATMOSPHERE, geopotential_height_m, isa

# h (m, geometric), T (K), p (Pa), rho (kg/m^3), a (m/s): U.S. Standard Atmosphere, 1976
# (NOAA-S/T 76-1562), Table I, geometric-altitude entries.
USSA76 = [
    (0.0, 288.150, 101325.0, 1.2250, 340.29),
    (1000.0, 281.651, 89876.0, 1.1117, 336.43),
    (2000.0, 275.154, 79501.0, 1.0066, 332.53),
    (5000.0, 255.676, 54048.0, 0.73643, 320.55),
    (10000.0, 223.252, 26500.0, 0.41351, 299.53),
    (15000.0, 216.650, 12111.0, 0.19476, 295.07),
    (20000.0, 216.650, 5529.3, 0.088910, 295.07),
    (30000.0, 226.509, 1197.0, 0.018410, 301.71),
]


@pytest.mark.parametrize(("h", "t", "p", "rho", "a"), USSA76)
def test_isa_matches_published_table(h, t, p, rho, a):
    tk, pp, rr, aa = isa(h)
    assert tk == pytest.approx(t, abs=0.002)
    assert pp == pytest.approx(p, rel=2e-4)
    assert rr == pytest.approx(rho, rel=2e-4)
    assert aa == pytest.approx(a, abs=0.01)


def test_isa_is_vectorised_and_shape_preserving():
    h = np.array([[0.0, 5000.0], [11000.0, 20000.0]])
    t, p, rho, a = isa(h)
    assert t.shape == p.shape == rho.shape == a.shape == (2, 2)
    assert np.all(np.diff(rho.ravel()) < 0)  # density falls with height


def test_table_lookup_matches_exact_formula_and_its_derivative():
    h = np.linspace(-500.0, 35_000.0, 7919)
    rho_t, a_t, drho, da = ATMOSPHERE.rho_a_derivs(h)
    _, _, rho, a = isa(h)
    near_kink = np.min(np.abs(geopotential_height_m(h)[:, None] - [11_000, 20_000, 32_000]), axis=1) < 20
    rel = np.abs(rho_t / rho - 1.0)
    assert np.max(rel[~near_kink]) < 3e-6
    assert np.max(rel[near_kink]) < 3e-5
    assert np.max(np.abs(a_t - a)[~near_kink]) < 1e-4
    assert np.max(np.abs(a_t - a)) < 5e-3
    # derivative against a central difference of the exact formula
    dh = 0.5
    fd = (isa(h + dh)[2] - isa(h - dh)[2]) / (2 * dh)
    # the table's slope is the cell's secant: within 0.2 % of the true derivative
    assert np.max(np.abs(drho[~near_kink] / fd[~near_kink] - 1.0)) < 2e-3
