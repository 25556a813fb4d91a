"""The site frame against pymap3d as a second implementation."""

import numpy as np
import pymap3d
import pytest

from counterram.geo import Site, normal_gravity_mps2


@pytest.fixture
def site():
    return Site(33.2985, 44.3958, 31.8)


def test_round_trip_geodetic_enu(site):
    rng = np.random.default_rng(1)
    lat = 33.2985 + rng.uniform(-0.2, 0.2, 100)
    lon = 44.3958 + rng.uniform(-0.2, 0.2, 100)
    alt = rng.uniform(0, 5000, 100)
    enu = site.to_enu(lat, lon, alt)
    la, lo, al = site.to_geodetic(enu)
    assert np.allclose(la, lat, atol=1e-10)
    assert np.allclose(lo, lon, atol=1e-10)
    assert np.allclose(al, alt, atol=1e-5)


def test_transform_to_other_frame_matches_pymap3d(site):
    radar = (33.30, 44.40, 40.0)
    rot, off = site.transform_to(*radar)
    rng = np.random.default_rng(2)
    pts = rng.uniform(-20_000, 20_000, (50, 3))
    pts[:, 2] = rng.uniform(0, 6000, 50)
    mine = pts @ rot.T + off
    lat, lon, alt = site.to_geodetic(pts)
    ref = np.stack(pymap3d.geodetic2enu(lat, lon, alt, *radar), axis=-1)
    assert np.allclose(mine, ref, atol=1e-6)


def test_sphere_height_close_to_ellipsoid_height_within_20_km(site):
    rng = np.random.default_rng(3)
    ang = rng.uniform(0, 2 * np.pi, 200)
    d = rng.uniform(0, 20_000, 200)
    pts = np.stack([d * np.sin(ang), d * np.cos(ang), rng.uniform(-100, 10_000, 200)], axis=1)
    assert np.max(np.abs(site.sphere_height_m(pts) - site.height_m(pts))) < 0.1
    # and the origin itself sits exactly at its altitude
    assert site.sphere_height_m(np.zeros(3)) == pytest.approx(31.8, abs=1e-9)


def test_normal_gravity_somigliana():
    # published WGS-84 normal gravity: equator 9.7803253359, pole 9.8321849378 m/s^2
    assert normal_gravity_mps2(0.0) == pytest.approx(9.7803253359, abs=1e-9)
    assert normal_gravity_mps2(90.0) == pytest.approx(9.8321849378, abs=1e-9)


def test_latitude_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="latitude"):
        Site(123.0, 0.0, 0.0)
