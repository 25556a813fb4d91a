"""Zone probabilities against closed forms, and the warning lifecycle on scripted tracks.

The quadrature of :class:`ZoneProbability` is 2 x 256 fixed standard-normal points (a scrambled
Halton set, seed 0, and its mirror image). Measured against the normal CDF for a half-plane:
within 0.0014 (edge across the first coordinate) and 0.0035 (across the second) for an
axis-aligned edge, within 0.012 for edges at any angle; the tests allow 0.005 and 0.02.
"""

import numpy as np
import pytest
import shapely
from scipy.stats import norm

from counterram.events import AllClear, ZoneWarned
from counterram.warn import LETHAL_RADIUS_M, Warner, WarnParams, ZoneGeometry, ZoneProbability


def square(cx, cy, half, angle_rad=0.0):
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    corners = np.array([(-half, -half), (half, -half), (half, half), (-half, half)]) @ np.array(
        [[c, s], [-s, c]]
    )
    return shapely.Polygon(corners + [cx, cy])


def zone(zid, poly):
    return ZoneGeometry(zid, zid.title(), f"siren-{zid}", True, 1.0, poly)


ZERO = np.zeros((2, 2))


# -- ZoneProbability -----------------------------------------------------------------------------


def test_point_mass_is_one_inside_the_grown_zone_and_zero_outside():
    """A 200 m square grown by each class's lethal radius (mortar 75, rocket 28, artillery 50):
    a point mass counts 1 inside, on the grown straight edge (the edge is included) and 0
    outside, also just off a rounded corner that is still inside the bounding box."""
    zp = ZoneProbability([zone("a", square(0.0, 0.0, 100.0))], WarnParams())
    for cls, r in LETHAL_RADIUS_M.items():
        edge = 100.0 + r
        pts = np.array(
            [
                [0.0, 0.0],  # centre
                [99.0, -99.0],  # inside the zone itself
                [edge - 0.01, 0.0],  # just inside the grown east edge
                [edge, 0.0],  # exactly on it: inside
                [0.0, -edge],  # exactly on the grown south edge
                [-edge, 37.5],  # exactly on the grown west edge
                [edge + 0.01, 0.0],  # just outside
                [0.0, edge + 0.01],
                [100.0 + 0.75 * r, 100.0 + 0.75 * r],  # off the rounded corner (1.06 r away)
                [100.0 + 0.6 * r, 100.0 + 0.6 * r],  # on the rounded corner (0.85 r away)
            ]
        )
        p = zp(pts, np.broadcast_to(ZERO, (len(pts), 2, 2)), [cls] * len(pts))[:, 0]
        np.testing.assert_array_equal(p, [1, 1, 1, 1, 1, 1, 0, 0, 0, 1], err_msg=cls)


def test_point_mass_uses_its_own_class_radius():
    """150 m east of a 200 m square's centre (50 m beyond its edge): inside for a mortar (75 m)
    and artillery (50 m, exactly on the edge), outside for a rocket (28 m)."""
    zp = ZoneProbability([zone("a", square(0.0, 0.0, 100.0))], WarnParams())
    pts = np.tile([150.0, 0.0], (3, 1))
    p = zp(pts, np.broadcast_to(ZERO, (3, 2, 2)), ["mortar", "rocket", "artillery"])
    np.testing.assert_array_equal(p[:, 0], [1.0, 0.0, 1.0])


def test_non_ballistic_class_gives_zero():
    zp = ZoneProbability(
        [zone("a", square(0.0, 0.0, 1000.0)), zone("b", square(50.0, 0.0, 500.0))], WarnParams()
    )
    cls = ["aircraft", "helicopter", "bird", "unknown", "mortar"]
    p = zp(np.zeros((5, 2)), np.broadcast_to(np.eye(2) * 100.0, (5, 2, 2)), cls)
    assert p.shape == (5, 2)
    np.testing.assert_array_equal(p[:4], 0.0)
    np.testing.assert_array_equal(p[4], 1.0)


@pytest.mark.parametrize(
    "cov",
    [np.eye(2) * 4.0, np.array([[25.0, 12.0], [12.0, 9.0]]), np.array([[1.0, -0.9], [-0.9, 1.0]])],
    ids=["isotropic", "correlated", "strongly-anticorrelated"],
)
@pytest.mark.parametrize("side", ["east", "north", "west", "south"])
def test_centred_on_a_straight_edge_gives_one_half(cov, side):
    """A distribution centred exactly on a straight edge of a large (10 km) zone, small
    covariance: the mirror-symmetric quadrature gives exactly 1/2."""
    zp = ZoneProbability([zone("big", square(0.0, 0.0, 5000.0))], WarnParams())
    e = 5000.0 + LETHAL_RADIUS_M["mortar"]
    mean = {"east": [e, 120.0], "north": [-300.0, e], "west": [-e, 0.0], "south": [40.0, -e]}[side]
    p = zp(np.array([mean]), cov[None], ["mortar"])
    assert p[0, 0] == pytest.approx(0.5, abs=1e-12)


def test_isotropic_gaussian_against_a_half_plane_is_the_normal_cdf():
    """An isotropic N(mu, sigma^2 I), sigma = 100 m, in a 2000 km square: only the nearest edge
    matters, so P = Phi(d / sigma) with d the signed distance of mu inside the grown edge,
    for d from -4 to 4 sigma. Axis-aligned edges within 0.005; the square turned by 0-82.5 deg
    within 0.02 (the two-dimensional quadrature's accuracy in an oblique direction)."""
    half, sigma, r = 1.0e6, 100.0, LETHAL_RADIUS_M["mortar"]
    d = np.linspace(-400.0, 400.0, 81)
    cov = np.broadcast_to(np.eye(2) * sigma**2, (d.size, 2, 2))
    want = norm.cdf(d / sigma)
    worst = 0.0
    for deg in np.arange(0.0, 90.0, 7.5):
        a = np.radians(deg)
        zp = ZoneProbability([zone("huge", square(0.0, 0.0, half, a))], WarnParams())
        for normal in ([np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]):  # two edges' outward normals
            mean = (half + r - d)[:, None] * np.array(normal)[None, :]
            p = zp(mean, cov, ["mortar"] * d.size)[:, 0]
            err = np.abs(p - want).max()
            assert err < (0.005 if deg == 0.0 else 0.02), (deg, normal, err)
            worst = max(worst, err)
    assert worst > 1e-4  # a quadrature, not a closed form: the check is not vacuous


def test_far_tracks_skip_the_quadrature_and_batch_shape():
    """Many tracks against several zones: (N, Z); a track 10 sigma away from every zone gets 0."""
    zones = [zone("a", square(0, 0, 100)), zone("b", square(3000, 0, 100)), zone("c", square(0, 3000, 100))]
    zp = ZoneProbability(zones, WarnParams())
    mean = np.array([[0.0, 0.0], [3000.0, 0.0], [0.0, 3000.0], [20000.0, 20000.0]])
    cov = np.broadcast_to(np.eye(2) * 30.0**2, (4, 2, 2))
    p = zp(mean, cov, ["mortar"] * 4)
    np.testing.assert_array_equal(p, np.r_[np.eye(3), np.zeros((1, 3))])
    assert zp(np.zeros((0, 2)), np.zeros((0, 2, 2)), []).shape == (0, 3)


# -- Warner lifecycle ----------------------------------------------------------------------------

HOLD = 5.0
SMALL = np.eye(2) * 20.0**2  # a 20 m impact uncertainty


class Script:
    """Feeds Warner.update by hand: each call is one engine step with the given tracks."""

    def __init__(self):
        zones = [zone("a", square(0.0, 0.0, 200.0)), zone("b", square(5000.0, 0.0, 200.0))]
        self.w = Warner(zones, WarnParams(threshold=0.02, hold_s=HOLD))

    def step(self, t, tracks=(), ended=()):
        """tracks: (id, (east, north), t_impact[, cov]) tuples, all mortars."""
        ids = [tr[0] for tr in tracks]
        mean = np.array([tr[1] for tr in tracks], float).reshape(-1, 2)
        t_imp = np.array([tr[2] for tr in tracks], float)
        cov = np.array([tr[3] if len(tr) > 3 else SMALL for tr in tracks], float).reshape(-1, 2, 2)
        events, probs = self.w.update(
            t, ids, mean, cov, t_imp, np.array(["mortar"] * len(ids), object), ended
        )
        assert probs.shape == (len(ids), 2)
        return events, probs


def test_first_track_warns_once_with_its_lead_time_and_a_second_extends():
    s = Script()
    ev, p = s.step(10.0, [(1, (0.0, 0.0), 40.0)])
    assert ev == [
        ZoneWarned(
            t=10.0,
            zone="a",
            siren="siren-a",
            tracks=[1],
            probability=1.0,
            t_impact=40.0,
            lead_time_s=30.0,
            extends=False,
        )
    ]
    assert p[0, 0] == 1.0 and p[0, 1] == 0.0
    # the same track again (its impact time refined): no new warning
    ev, _ = s.step(11.0, [(1, (10.0, -5.0), 39.5)])
    assert ev == []
    # a second track into the active zone extends the warning
    ev, _ = s.step(12.0, [(1, (0.0, 0.0), 39.5), (2, (-100.0, 50.0), 44.0)])
    assert len(ev) == 1 and isinstance(ev[0], ZoneWarned)
    w = ev[0]
    assert (w.zone, w.tracks, w.extends, w.t_impact, w.lead_time_s) == ("a", [1, 2], True, 44.0, 32.0)


def test_wobbling_predictions_never_flap():
    """A track whose prediction wobbles across the threshold - far out, on the edge, inside,
    out again, many times - warns its zone once and is never withdrawn or re-issued; the zone
    stays active. Probabilities are checked to really cross the threshold both ways."""
    s = Script()
    edge = 200.0 + LETHAL_RADIUS_M["mortar"]
    wide = np.eye(2) * 60.0**2
    # mean 3.5 sigma outside (P ~ 2e-4) and 1 sigma outside (P ~ 0.16), alternating, then inside
    positions = [edge + 210.0, edge + 60.0, edge + 210.0, -50.0, edge + 400.0, edge + 60.0, edge + 210.0] * 3
    warned, seen_below, seen_above = [], False, False
    for k, e in enumerate(positions):
        ev, p = s.step(20.0 + k, [(7, (e, 0.0), 60.0, wide)])
        seen_below |= p[0, 0] < 0.02
        seen_above |= p[0, 0] >= 0.02
        warned += [(20.0 + k, x) for x in ev]
    assert seen_below and seen_above
    assert len(warned) == 1 and warned[0][0] == 21.0  # first crossing only
    assert warned[0][1].tracks == [7] and not warned[0][1].extends
    assert s.w.active.tolist() == [True, False]
    assert not any(isinstance(x, AllClear) for _, x in warned)


def test_all_clear_comes_hold_s_after_the_last_warning_track_ends():
    s = Script()
    s.step(10.0, [(1, (0.0, 0.0), 40.0), (2, (30.0, 0.0), 43.0)])
    # track 1 lands at 40.0 (reported in a later step): track 2 still flies, no all-clear
    ev, _ = s.step(41.0, [(2, (30.0, 0.0), 43.0)], ended=[(1, 40.0)])
    assert ev == []
    assert s.w.check_clear(40.0 + HOLD + 1.0) == []
    # track 2 lands at 43.0: the all-clear is due at 48.0 exactly
    ev, _ = s.step(44.0, [], ended=[(2, 43.0)])
    assert ev == []
    assert s.w.check_clear(43.0 + HOLD - 1e-6) == []
    assert s.w.check_clear(43.0 + HOLD) == [AllClear(t=48.0, zone="a", siren="siren-a", tracks=[1, 2])]
    assert s.w.check_clear(43.0 + HOLD + 1.0) == []  # once
    assert s.w.active.tolist() == [False, False]


def test_all_clear_from_update_and_ending_order_does_not_matter():
    """The all-clear also comes out of ``update`` (when predictions keep arriving), at the
    latest end + hold, however the ends are reported (out of order, twice)."""
    s = Script()
    s.step(1.0, [(3, (5000.0, 0.0), 30.0)])  # zone b
    s.step(2.0, [(4, (5100.0, 0.0), 31.0)])  # extends b
    ev, _ = s.step(33.0, [(9, (9000.0, 9000.0), 60.0)], ended=[(4, 31.0), (3, 30.0)])
    assert ev == []
    ev, _ = s.step(35.5, [(9, (9000.0, 9000.0), 60.0)], ended=[(3, 35.0)])  # a repeat: first end stands
    assert ev == []
    ev, _ = s.step(36.0, [(9, (9000.0, 9000.0), 60.0)])
    assert ev == [AllClear(t=36.0, zone="b", siren="siren-b", tracks=[3, 4])]


def test_an_ended_track_cannot_warn_again_but_a_new_track_can():
    s = Script()
    s.step(10.0, [(1, (0.0, 0.0), 40.0)])
    s.step(41.0, [], ended=[(1, 40.0)])
    assert [type(e) for e in s.w.check_clear(45.0)] == [AllClear]
    # the ended track's prediction comes back (a late or replayed update): nothing
    ev, p = s.step(46.0, [(1, (0.0, 0.0), 40.0)])
    assert ev == [] and p[0, 0] == 1.0
    assert s.w.active.tolist() == [False, False]
    # nor can a track that ended before it ever warned
    ev, _ = s.step(47.0, [(5, (0.0, 0.0), 70.0)], ended=[(5, 47.0)])
    assert ev == []
    # a fresh track warns the cleared zone anew (not an extension)
    ev, _ = s.step(50.0, [(6, (0.0, 0.0), 80.0)])
    assert len(ev) == 1 and ev[0].tracks == [6] and not ev[0].extends and ev[0].lead_time_s == 30.0
