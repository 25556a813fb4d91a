"""Classification from kinematics: ballistic (rocket, artillery, mortar) or not.

The physical difference: a round in flight is in free fall plus drag along its velocity; an
aircraft, a helicopter or a bird is held up against gravity by lift. Every track therefore
runs two filters on the same plots - the ballistic EKF (gravity and drag) and a
constant-velocity filter (no gravity: supported flight) - and accumulates the log
likelihood ratio of their innovations (a static multiple-model test, Bar-Shalom et al. 2001
sec. 11.6):

    LLR_k = LLR_{k-1} + ln N(nu_b; 0, S_b) - ln N(nu_cv; 0, S_cv),   |LLR| capped at 30
    P(ballistic) = 1 / (1 + exp(-LLR))          (equal prior)

Over a few revisits a falling round's parabola defeats the straight-line model and a
level flight defeats the falling one. Only tracks labelled ballistic may warn or be engaged.

Sub-classes are kinematic rules of thumb (:func:`label`); the tests measure how often they
name each catalog munition's class correctly.
"""

from __future__ import annotations

import numpy as np

LLR_CAP = 30.0
LLR_LATCH = 20.0
#: P(ballistic) needed before a track is labelled ballistic (and may warn)
BALLISTIC_P = 0.99
NON_BALLISTIC_P = 0.1
#: below this LLR (P(ballistic) < 0.1) a track is gated with its constant-velocity filter
CV_GATING_LLR = float(np.log(NON_BALLISTIC_P / (1.0 - NON_BALLISTIC_P)))

BALLISTIC_CLASSES = ("rocket", "artillery", "mortar")
OTHER_CLASSES = ("aircraft", "helicopter", "clutter")


def accumulate_llr(llr, delta):
    """Add per-update log likelihood ratios, capped so that a track can still change its mind,
    except that a track once past LLR_LATCH (odds of 5e8 to 1) stays ballistic: a round does
    not turn into an aircraft, while a radar that loses it late can make it look like one."""
    out = np.clip(llr + delta, -LLR_CAP, LLR_CAP)
    return np.where(llr >= LLR_LATCH, np.maximum(out, LLR_LATCH), out)


def p_ballistic(llr):
    """P(ballistic | plots so far) from the accumulated log likelihood ratio."""
    return 1.0 / (1.0 + np.exp(-np.asarray(llr)))


def label(llr, speed_max_mps, launch_speed_mps=None) -> np.ndarray:
    """Class label per track: a ballistic sub-class, a non-ballistic one, or 'unknown'.

    Ballistic sub-classes from the launch speed of the track's ballistic back-flight where
    an origin has been estimated (:func:`counterram.predict.ballistic_class`), else from the
    fastest speed seen: shells fly fastest (> 450 m/s), mortar bombs are subsonic (< 340 m/s),
    the rest are rockets. Non-ballistic: aircraft above 90 m/s, helicopters above 20 m/s,
    slower things are bird-like clutter. 'unknown' while P(ballistic) is between
    NON_BALLISTIC_P and BALLISTIC_P.
    """
    from ..predict import ballistic_class

    pb = p_ballistic(llr)
    speed = np.asarray(speed_max_mps, float)
    out = np.full(pb.shape, "unknown", dtype=object)
    bal = pb >= BALLISTIC_P
    other = pb <= NON_BALLISTIC_P
    by_speed = np.where(speed > 450.0, "artillery", np.where(speed < 340.0, "mortar", "rocket"))
    if launch_speed_mps is not None:
        v0 = np.asarray(launch_speed_mps, float)
        by_speed = np.where(np.isfinite(v0), ballistic_class(np.nan_to_num(v0)), by_speed)
    out[bal] = by_speed[bal]
    out[other & (speed > 90.0)] = "aircraft"
    out[other & (speed <= 90.0) & (speed > 20.0)] = "helicopter"
    out[other & (speed <= 20.0)] = "clutter"
    return out


def is_ballistic(labels) -> np.ndarray:
    return np.isin(np.asarray(labels, dtype=object), BALLISTIC_CLASSES)
