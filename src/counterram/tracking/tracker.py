"""The track table and the multi-target tracker: initiate, associate, update, confirm, delete.

All tracks live in arrays (:class:`TrackTable`): states ``x`` (N, 7), covariances ``P``
(N, 7, 7), and per-track bookkeeping columns with a stable integer ``id`` that is never
reused. One call of :meth:`Tracker.step` takes one batch of plots (any sensors, any times)
and runs, vectorised over all tracks and plots:

1. predict every flying track to the batch's reference time (median plot time) with the
   flight model and its transition matrix (:func:`filters.ekf_predict`);
2. pre-gate (k-d trees on position, and on line of sight for confirmed tracks), gate and
   assign plots to tracks (:mod:`associate`), carrying each track to its plot's own time by
   a second-order Taylor step;
3. update the assigned tracks (Joseph-form EKF with a strong-tracking fading factor where
   innovations run large, an adaptive measurement-noise scale, and single-component
   outliers dropped) and, beside them, a constant-velocity alternative for the classifier;
4. attribute leftover plots that lie along a confirmed track's line of sight to that track
   as outliers (a tracking radar's range gate walking off, angle glint) without using them;
5. land tracks whose flight has met the ground (they hold their impact point for a while,
   taking the radar's returns from the impact area), confirm tentative tracks (M hits, a
   velocity known well enough, airborne and moving), delete tracks that miss too long or
   duplicate an older confirmed track;
6. start tentative tracks from pairs of leftover plots (two-point initiation, with the
   covariance of a velocity differenced from two noisy positions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import chi2

from ..physics.flight import FlightEnv, ballistic_acceleration, fly_ballistic_to_ground
from ..sensing.plots import PlotBatch
from ..sensing.radar import RadarGeometry
from . import classify
from .associate import assign, gate_threshold, pregate_pairs, pregate_pairs_los, union_pairs
from .filters import (
    FilterParams,
    continuous_jacobian,
    cv_predict,
    ekf_predict,
    gaussian_loglik,
    kalman_update,
    taylor_predict,
)
from .models import (
    converted_position,
    drop_components,
    innovation,
    mahalanobis2,
    measure,
    measure_jacobian,
    measurement_noise,
)

TENTATIVE, CONFIRMED, LANDED = 0, 1, 2


@dataclass(frozen=True)
class TrackerParams:
    """Tracker settings; docs/tracking.md says how each default was chosen.

    Association: ``gate_prob`` chi-square gate; ``pd`` and ``clutter_density`` (false plots
    per m rad^2 of measurement space) set the assignment costs; ``component_outlier_prob``
    prices a plot used without one bad component.
    Filter adaptation: ``r_scale_memory`` (0..1) of the adaptive measurement-noise scale;
    ``fading_max`` caps the strong-tracking factor.
    Initiation: ``init_max_speed_mps`` fastest object; partner plots between
    ``init_min_dt_s`` and min(``init_max_dt_s``, ``init_max_revisits`` revisits) earlier;
    ``kappa0`` / ``sigma_kappa0`` prior of kappa = ln(i A / m) (G7-relative; the catalog
    spans about 3e-4 to 3e-3 m^2/kg) and ``kappa_bounds`` the physical range an update may
    not leave (kappa enters the drag exponentially, so one bold linearised step can otherwise
    overshoot); ``init_accel_mps2`` the acceleration allowed across the two plots.
    Confirmation: ``confirm_hits`` plots, while missing fewer than ``confirm_window`` -
    ``confirm_hits`` revisits in a row, with velocity 1-sigma under ``confirm_sigma_v_mps``,
    speed over ``confirm_min_speed_mps`` and height over ``confirm_min_height_m`` above ground.
    Deletion: confirmed tracks after ``delete_revisits`` revisits (at least ``delete_min_s``)
    without a plot; landed tracks ``landed_hold_s`` after impact.
    Attribution of outliers: within ``attribute_deg`` of the line of sight and
    ``attribute_range_m`` in range of a confirmed track that got no plot from that sensor.
    """

    filter: FilterParams
    gate_prob: float = 0.9999
    pd: float = 0.9
    clutter_density: float = 1e-4
    component_outlier_prob: float = 0.05
    r_scale_memory: float = 0.7
    fading_max: float = 25.0
    settle_hits: int = 8
    confirm_hits: int = 3
    confirm_window: int = 4
    confirm_sigma_v_mps: float = 50.0
    confirm_min_speed_mps: float = 10.0
    confirm_min_height_m: float = 30.0
    delete_revisits: float = 4.0
    delete_min_s: float = 1.0
    landed_hold_s: float = 10.0
    init_max_speed_mps: float = 1500.0
    init_min_dt_s: float = 0.02
    init_max_dt_s: float = 2.5
    init_max_revisits: float = 3.0
    init_max_partners: int = 2
    kappa0: float = float(np.log(8e-4))
    sigma_kappa0: float = 0.8
    kappa_bounds: tuple[float, float] = (float(np.log(5e-5)), float(np.log(1e-2)))
    init_accel_mps2: float = 15.0
    pregate_slack_m: float = 30.0
    attribute_deg: float = 3.0
    attribute_range_m: float = 3000.0
    duplicate_chi2: float = float(chi2.ppf(0.999, 6))


_COLUMNS = {
    "id": np.int64,
    "status": np.int8,
    "t": float,  # time of the last update (landed: impact time), s
    "t_birth": float,
    "t_confirm": float,
    "hits": np.int64,  # plots used
    "owned": np.int64,  # plots used or attributed
    "revisit": float,  # revisit period of the sensor that last updated it, s
    "llr": float,  # ballistic-vs-CV log likelihood ratio (classification)
    "speed_max": float,
    "nis_sum": float,
    "r_scale": float,  # adaptive measurement-noise scale (>= 1)
    "angles_ok": np.int8,  # the last update used both angles
}


@dataclass
class TrackTable:
    """All live tracks as arrays; row order is arbitrary, ``id`` is the stable key."""

    x: np.ndarray = field(default_factory=lambda: np.zeros((0, 7)))
    P: np.ndarray = field(default_factory=lambda: np.zeros((0, 7, 7)))
    xcv: np.ndarray = field(default_factory=lambda: np.zeros((0, 6)))
    Pcv: np.ndarray = field(default_factory=lambda: np.zeros((0, 6, 6)))
    cols: dict = field(default_factory=lambda: {k: np.zeros(0, t) for k, t in _COLUMNS.items()})

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def append(self, x, P, xcv, Pcv, **cols) -> None:
        self.x = np.concatenate([self.x, x])
        self.P = np.concatenate([self.P, P])
        self.xcv = np.concatenate([self.xcv, xcv])
        self.Pcv = np.concatenate([self.Pcv, Pcv])
        n = x.shape[0]
        for k, t in _COLUMNS.items():
            v = np.broadcast_to(np.asarray(cols.get(k, 0), dtype=t), (n,))
            self.cols[k] = np.concatenate([self.cols[k], v])

    def keep(self, mask) -> None:
        self.x, self.P, self.xcv, self.Pcv = self.x[mask], self.P[mask], self.xcv[mask], self.Pcv[mask]
        self.cols = {k: v[mask] for k, v in self.cols.items()}

    def rows_of(self, ids) -> np.ndarray:
        """Row index of each id (ids must be live; :func:`find_rows` for ids that may not be)."""
        order = np.argsort(self["id"])
        return order[np.searchsorted(self["id"], ids, sorter=order)]


def find_rows(keys, ids) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``ids`` (M,) sits in the unsorted, unique ``keys`` (N,): (rows (M,), found
    (M,) bool); rows of ids not found are meaningless (0 when ``keys`` is empty)."""
    keys, ids = np.asarray(keys), np.asarray(ids)
    if keys.size == 0:
        return np.zeros(ids.shape, np.int64), np.zeros(ids.shape, bool)
    order = np.argsort(keys)
    rows = order[np.minimum(np.searchsorted(keys, ids, sorter=order), keys.size - 1)]
    return rows, keys[rows] == ids


@dataclass
class StepReport:
    """What one tracker step did, in track ids.

    Plot columns are in the step's time order; ``order`` maps them back to the input batch,
    ``serial`` numbers every accepted plot since the tracker started. ``plot_track``: the
    track that took each plot (-1: none); ``plot_used``: whether it updated that track (False:
    attributed as an outlier). ``updated``: live tracks that took a plot now.
    ``initiated``: (new track id, serial of its earlier plot).
    ``landed``: ids that met the ground now. ``deleted``: (id, reason, was confirmed) with
    reason lost / landed / duplicate / unconfirmed. ``rejected``: (input index, reason).
    """

    t_s: float
    batch: PlotBatch
    order: np.ndarray
    serial: np.ndarray
    plot_track: np.ndarray
    plot_used: np.ndarray
    updated: np.ndarray
    confirmed: np.ndarray
    initiated: list[tuple[int, int]]
    landed: np.ndarray
    deleted: list[tuple[int, str, bool]]
    rejected: list[tuple[int, str]]


class Tracker:
    """Multi-target tracker for ballistic threats over several radars.

    ``radars`` fixes the sensor index of every plot; ``env`` is the flight environment
    (site frame, ground, atmosphere; the tracker's drag law is ``params.filter.law_idx``).
    """

    def __init__(self, env: FlightEnv, radars: list[RadarGeometry], params: TrackerParams):
        self.env, self.radars, self.p = env, radars, params
        self.tracks = TrackTable()
        self.next_id = 1
        self.next_serial = 0
        self._rot = np.stack([r.rot for r in radars])
        self._off = np.stack([r.offset for r in radars])
        self._sigma = np.stack([r.sigma for r in radars])
        self._revisit = np.array([r.revisit_s for r in radars])
        self._sensor_pos = np.stack([r.position_enu_m for r in radars])
        self._tracking = np.array([r.tracking for r in radars], bool)
        # initiation pool: leftover plots waiting for a partner
        self.pool = {
            "t": np.zeros(0),
            "r": np.zeros((0, 3)),
            "C": np.zeros((0, 3, 3)),
            "sensor": np.zeros(0, int),
            "serial": np.zeros(0, np.int64),
            "rdot": np.zeros(0),
            "owner": np.zeros(0, np.int64),
        }
        self.t_now = -np.inf
        self._dup_tentative = np.zeros(0, bool)

    # ------------------------------------------------------------------------------------
    def step(self, batch: PlotBatch) -> StepReport:
        p, fp, T = self.p, self.p.filter, self.tracks
        ok, reasons = batch.valid_mask(len(self.radars))
        rejected = [(int(i), reasons[i]) for i in np.flatnonzero(~ok)]
        accepted = np.flatnonzero(ok)
        order = accepted[np.argsort(batch.t_s[accepted], kind="stable")]
        batch = batch.take(order)
        m = len(batch)
        serial = self.next_serial + np.arange(m, dtype=np.int64)
        self.next_serial += m
        plot_track = np.full(m, -1, np.int64)
        plot_used = np.zeros(m, bool)
        empty = np.zeros(0, np.int64)
        if m == 0:
            return StepReport(
                self.t_now, batch, order, serial, plot_track, plot_used, empty, empty, [], empty, [], rejected
            )
        t_ref = float(np.median(batch.t_s))
        t_end = float(batch.t_s.max())
        self.t_now = max(self.t_now, t_end)
        s_idx = batch.sensor
        rot, off, sig = self._rot[s_idx], self._off[s_idx], self._sigma[s_idx]
        has_rdot = ~np.isnan(batch.rdot_mps) & ~np.isnan(sig[:, 3])
        z = np.stack(
            [batch.range_m, batch.az_rad, batch.el_rad, np.where(has_rdot, batch.rdot_mps, np.nan)], 1
        )
        r_plot, C_plot = converted_position(batch.range_m, batch.az_rad, batch.el_rad, sig, rot, off)
        gated_by_confirmed = np.zeros(m, bool)
        got_plot = np.zeros((len(T), len(self.radars)), bool)

        span = float(np.max(np.abs(batch.t_s - t_ref)))
        k_gate = np.sqrt(gate_threshold(4, p.gate_prob))
        meas_r = np.sqrt(np.max(np.trace(C_plot, axis1=1, axis2=2)))
        flying = self._near_batch(t_ref, span, k_gate, meas_r, r_plot, s_idx)
        pos_now = self.kinematics()[:, 0:3].copy()  # around t_ref (landed: the impact point)
        if flying.size:
            # 1. predict the flying tracks near this batch's plots to the reference time
            x_ref, P_ref = ekf_predict(self.env, T.x[flying], T.P[flying], t_ref - T["t"][flying], fp)
            pos_now[flying] = x_ref[:, 0:3]
            f_ref, A_ref = continuous_jacobian(self.env, x_ref, fp)
            # 2. pre-gate
            pos_sd = np.sqrt(np.trace(P_ref[:, 0:3, 0:3], axis1=1, axis2=2))
            speed = np.linalg.norm(x_ref[:, 3:6], axis=1)
            radius = k_gate * np.hypot(pos_sd, meas_r) + speed * span + p.pregate_slack_m
            ti, pj = pregate_pairs(x_ref[:, 0:3], radius, r_plot)
            conf = np.flatnonzero(T["status"][flying] == CONFIRMED)
            trk_plots = np.flatnonzero(self._tracking[s_idx])
            if conf.size and trk_plots.size:
                # line-of-sight candidates for confirmed tracks (their plots' range may be off)
                rng_track = np.linalg.norm(x_ref[conf, 0:3], axis=1) + 1.0
                ang_sd = np.hypot(np.max(self._sigma[:, 1:3]), pos_sd[conf] / rng_track)
                ang_r = k_gate * ang_sd + (speed[conf] * span + p.pregate_slack_m) / rng_track
                li, lj = pregate_pairs_los(
                    x_ref[conf, 0:3], ang_r, r_plot[trk_plots], s_idx[trk_plots], self._sensor_pos
                )
                ti, pj = union_pairs(ti, pj, conf[li], trk_plots[lj], m)
            # 3. gate each candidate pair at the plot's own time, with the model the track
            #    follows best: ballistic, or constant velocity once it looks like supported flight
            rows_all = flying[ti]
            xp, Pp = taylor_predict(f_ref[ti], A_ref[ti], x_ref[ti], P_ref[ti], batch.t_s[pj] - t_ref, fp)
            scale = np.where(self._tracking[s_idx[pj]], T["r_scale"][rows_all], 1.0)
            R = measurement_noise(sig[pj], has_rdot[pj]) * scale[:, None, None]
            nu_g, S_g, H, nu_b = self._innovations(xp, Pp, rows_all, pj, batch, z, rot, off, R)
            is_conf = T["status"][rows_all] == CONFIRMED
            outliers_ok = is_conf & self._tracking[s_idx[pj]]
            used, d2, S, _ = self._gate(nu_g, S_g, has_rdot[pj], outliers_ok, T["angles_ok"][rows_all] == 1)
            gated = used.any(axis=1)
            gated_by_confirmed[pj[gated & is_conf]] = True
            dof = used.sum(axis=1)
            partial = dof < np.where(has_rdot[pj], 4, 3)
            g = np.flatnonzero(gated)
            loglik = gaussian_loglik(d2[g], S[g], dof[g])
            cost = -(loglik + np.log(p.pd / (1.0 - p.pd)) - np.log(p.clutter_density))
            cost += self._outlier_cost(used[g], has_rdot[pj[g]])
            chosen = g[assign(len(T), m, rows_all[g], pj[g], cost)]
            # 4. update the assigned tracks (dropped components: zero H row, zero innovation)
            if chosen.size:
                self._update(
                    chosen, rows_all, pj, xp, Pp, nu_b, H, R, used, dof, partial, z, batch, rot, off, s_idx
                )
                plot_track[pj[chosen]] = T["id"][rows_all[chosen]]
                plot_used[pj[chosen]] = True
                got_plot[rows_all[chosen], s_idx[pj[chosen]]] = True
        # 5. outliers along a confirmed or landed track's line of sight
        free = (plot_track < 0) & ~gated_by_confirmed & self._tracking[s_idx]
        att_rows, att_plots = self._attribute(free, pos_now, r_plot, s_idx, got_plot)
        plot_track[att_plots] = T["id"][att_rows]
        np.add.at(T["owned"], att_rows, 1)
        # 6. land, confirm, delete
        landed = self._land()
        confirmed = self._confirm()
        deleted = self._delete()
        updated = np.intersect1d(plot_track[plot_track >= 0], T["id"])  # took a plot (used or attributed)
        # 7. initiation from plots no confirmed track took or gated (a plot a tentative track took
        #    may still start another: in a salvo, a ghost pairing of two rounds must not eat the
        #    first plots of the rounds that follow)
        rows_pt, live = find_rows(T["id"], plot_track)
        owner_tent = live & (T["status"][rows_pt] == TENTATIVE) if len(T) else live
        free = ((plot_track < 0) | owner_tent) & ~gated_by_confirmed
        initiated = self._initiate(
            batch.t_s[free],
            r_plot[free],
            C_plot[free],
            s_idx[free],
            serial[free],
            z[free, 3],
            np.where(owner_tent[free], plot_track[free], -1),
        )
        for tid, _, new_serial in initiated:
            plot_track[serial == new_serial] = tid
            plot_used[serial == new_serial] = True
        return StepReport(
            self.t_now,
            batch,
            order,
            serial,
            plot_track,
            plot_used,
            updated,
            confirmed,
            [(a, b) for a, b, _ in initiated],
            landed,
            deleted,
            rejected,
        )

    # ------------------------------------------------------------------------------------
    def _outlier_cost(self, used, has_rdot):
        """Extra cost of a plot used without one component: that component is priced as an
        outlier, probability ``component_outlier_prob`` spread evenly over its window
        (range: +-attribute_range_m; an angle: +-attribute_deg), instead of its likelihood.
        This keeps a whole-plot match cheaper than an angles-only match of a plot that is
        really another target's along the same line of sight."""
        p = self.p
        width = np.array(
            [2 * p.attribute_range_m, 2 * np.radians(p.attribute_deg), 2 * np.radians(p.attribute_deg), 1.0]
        )
        dropped = ~used & np.c_[np.ones((used.shape[0], 3), bool), has_rdot]
        per = -np.log(p.component_outlier_prob) + np.log(width)
        return (dropped * per).sum(axis=1)

    def _near_batch(self, t_ref, span, k_gate, meas_r, r_plot, s_idx) -> np.ndarray:
        """Rows of flying tracks that may own a plot of this batch: within a generous radius
        of a plot when carried to t_ref on a parabola (gravity only; drag allowed as 20 dt^2
        metres). Only these are predicted properly, so a radar's sector batch or a silent
        track costs nothing. Every confirmed track is kept when a tracking radar reports (its
        plots may sit anywhere along the line of sight)."""
        T = self.tracks
        fly = np.flatnonzero(T["status"] != LANDED)
        if fly.size == 0:
            return fly
        kin = self.kinematics()[fly]
        dt = t_ref - T["t"][fly]
        pos = kin[:, 0:3] + kin[:, 3:6] * dt[:, None]
        pos[:, 2] -= 0.5 * self.env.g0_mps2 * dt**2
        P = T.P[fly]
        sd = np.sqrt(
            np.trace(P[:, 0:3, 0:3], axis1=1, axis2=2) + np.trace(P[:, 3:6, 3:6], axis1=1, axis2=2) * dt**2
        )
        speed = np.linalg.norm(kin[:, 3:6], axis=1)
        radius = k_gate * np.hypot(sd, meas_r) + speed * span + 20.0 * dt**2 + 2 * self.p.pregate_slack_m
        dist, _ = cKDTree(r_plot).query(pos, k=1)
        near = dist <= radius
        if self._tracking[s_idx].any():
            near |= T["status"][fly] == CONFIRMED
        return fly[near]

    def _innovations(self, xp, Pp, rows, pj, batch, z, rot, off, R):
        """Innovations of candidate pairs: (nu, S) for gating, the ballistic H, and the
        ballistic nu (for the update).

        Every track carries two filters. A track the classifier has settled on is gated with
        its model: the ballistic EKF once its LLR has latched, the constant-velocity filter
        once it has looked like supported flight (a helicopter, an airliner) over at least
        ``settle_hits`` plots. While its class is still open, each pair is gated with
        whichever filter predicts the plot better (the larger Gaussian likelihood), so a
        young track is not lost while the classifier makes up its mind.
        """
        T = self.tracks
        H = measure_jacobian(xp, rot[pj], off[pj])
        nu_b = innovation(z[pj], measure(xp, rot[pj], off[pj]))
        S_b = H @ Pp @ np.swapaxes(H, 1, 2) + R
        nu, S = nu_b.copy(), S_b.copy()
        llr = T["llr"][rows]
        open_ = np.flatnonzero(llr < classify.LLR_LATCH)  # latched ballistic tracks skip the CV model
        if open_.size:
            r, pk = rows[open_], pj[open_]
            xc, Pc = cv_predict(T.xcv[r], T.Pcv[r], batch.t_s[pk] - T["t"][r], self.p.filter.q_cv_m2ps3)
            Hc = measure_jacobian(xc, rot[pk], off[pk], n_state=6)
            nu_c = innovation(z[pk], measure(xc, rot[pk], off[pk]))
            S_c = Hc @ Pc @ np.swapaxes(Hc, 1, 2) + R[open_]
            has = ~np.isnan(z[pk, 3])
            dof = np.where(has, 4, 3)
            used = np.c_[np.ones((has.size, 3), bool), has]
            nb, Sb = drop_components(nu_b[open_], S_b[open_], used)
            nc, Sc = drop_components(nu_c, S_c, used)
            better = gaussian_loglik(mahalanobis2(nc, Sc), Sc, dof) > gaussian_loglik(
                mahalanobis2(nb, Sb), Sb, dof
            )
            settled = (llr[open_] < classify.CV_GATING_LLR) & (T["hits"][r] >= self.p.settle_hits)
            cv = better | settled
            nu[open_[cv]] = nu_c[cv]
            S[open_[cv]] = S_c[cv]
        return nu, S, H, nu_b

    def _update(
        self, chosen, rows_all, pj, xp, Pp, nu_b, H, R, used, dof, partial, z, batch, rot, off, s_idx
    ):
        """EKF update of the ballistic state and (while the class is open) KF update of the
        constant-velocity alternative for the chosen pairs; the classifier's log likelihood
        ratio and the adaptive noise scale follow. A track latched ballistic no longer needs
        its alternative."""
        T, p, fp = self.tracks, self.p, self.p.filter
        rows, plots = rows_all[chosen], pj[chosen]
        use = used[chosen]
        nu = np.where(use, nu_b[chosen], 0.0)
        Hc = np.where(use[:, :, None], H[chosen], 0.0)
        Rc = np.where(use[:, :, None] & use[:, None, :], R[chosen], np.eye(4))
        dofc = dof[chosen]
        S_b = Hc @ Pp[chosen] @ np.swapaxes(Hc, 1, 2) + Rc
        d2_b = mahalanobis2(nu, S_b)
        Pc = self._fading(Pp[chosen], nu, Hc, Rc, d2_b, dofc, self._tracking[s_idx[plots]])
        x_new, P_new, _, nis, _ = kalman_update(xp[chosen], Pc, nu, Hc, Rc)
        x_new[:, 6] = np.clip(x_new[:, 6], *p.kappa_bounds)
        T.x[rows], T.P[rows] = x_new, P_new
        # the constant-velocity alternative (from its own last time to the plot's) and the
        # classifier's likelihood ratio, for tracks whose class is still open
        d2cv = np.zeros(rows.size)
        dllr = np.zeros(rows.size)
        o = np.flatnonzero(T["llr"][rows] < classify.LLR_LATCH)
        if o.size:
            r, pl, u = rows[o], plots[o], use[o]
            xcv, Pcv = cv_predict(T.xcv[r], T.Pcv[r], batch.t_s[pl] - T["t"][r], fp.q_cv_m2ps3)
            nu_cv = np.where(u, innovation(z[pl], measure(xcv, rot[pl], off[pl])), 0.0)
            Hcv = np.where(u[:, :, None], measure_jacobian(xcv, rot[pl], off[pl], n_state=6), 0.0)
            T.xcv[r], T.Pcv[r], Scv, d2cv[o], _ = kalman_update(xcv, Pcv, nu_cv, Hcv, Rc[o])
            full = ~partial[chosen][o]  # only whole plots inform the classifier
            ll_b = gaussian_loglik(d2_b[o], S_b[o], dofc[o])
            dllr[o] = np.where(full, ll_b - gaussian_loglik(d2cv[o], Scv, dofc[o]), 0.0)
        T["t"][rows] = batch.t_s[plots]
        T["hits"][rows] += 1
        T["owned"][rows] += 1
        T["revisit"][rows] = self._revisit[s_idx[plots]]
        T["llr"][rows] = classify.accumulate_llr(T["llr"][rows], dllr)
        T["speed_max"][rows] = np.maximum(T["speed_max"][rows], np.linalg.norm(x_new[:, 3:6], axis=1))
        T["nis_sum"][rows] += nis
        # adaptive measurement noise: the scale follows the normalised innovations of the model
        # the track follows (never below 1)
        nis_model = np.where(T["llr"][rows] < classify.CV_GATING_LLR, d2cv, nis)
        ratio = np.clip(nis_model / dofc, 0.1, 9.0)
        adapt = self._tracking[s_idx[plots]]
        new_scale = np.clip(T["r_scale"][rows] * ratio ** (1.0 - p.r_scale_memory), 1.0, 100.0)
        T["r_scale"][rows] = np.where(adapt, new_scale, T["r_scale"][rows])
        T["angles_ok"][rows] = use[:, 1] & use[:, 2]

    def _fading(self, P, nu, H, R, d2, dof, eager):
        """Strong-tracking fading factor (Zhou & Frank 1996) where innovations are too large.

        Where d^2 exceeds its chi-square 99.9 % point (99 % for a tracking radar's plots,
        whose servo wobble and range-gate jumps come in runs) - the model is losing the target:
        a wrong early velocity, an unmodelled push - the predicted kinematic covariance is
        inflated by
            lambda = clip( (nu'^T nu' - m) / tr(H' P H'^T), 1, fading_max )
        in units of the measurement standard deviations (nu' = nu / sigma, H' = H / sigma; m
        the number of components used), so the update can pull the state back. Elsewhere
        lambda = 1: the plain EKF.
        """
        hit = d2 > np.where(eager, gate_threshold(dof, 0.99), gate_threshold(dof, 0.999))
        if not hit.any():
            return P
        w = 1.0 / np.sqrt(np.diagonal(R[hit], axis1=1, axis2=2))
        HPHt = H[hit] @ P[hit] @ np.swapaxes(H[hit], 1, 2) * w[:, :, None] * w[:, None, :]
        num = np.einsum("ni,ni->n", nu[hit] * w, nu[hit] * w) - dof[hit]
        lam = np.clip(num / np.trace(HPHt, axis1=1, axis2=2), 1.0, self.p.fading_max)
        P = P.copy()
        P[hit, 0:6, 0:6] *= lam[:, None, None]
        return P

    def _gate(self, nu, S, has_rdot, outliers_ok, angle_ok):
        """Chi-square gate on the whole plot, or else on the plot less one bad component.

        Real plots carry single-component outliers: a tracking radar's range gate can jump or
        drift by hundreds of metres while its angles hold, and an angle can jump once. For a
        confirmed track fed by a tracking radar (``outliers_ok``), a pair that fails the full
        gate is tried again with range left out
        (any number of times in a row) and with azimuth or elevation left out (only if the
        previous update used both angles: a drifting angle would otherwise steer the track).
        The best variant that passes is used and its dropped component treated as missing.
        Returns (used components (K, 4), d^2, S, nu) of the chosen variants.
        """
        k = nu.shape[0]
        base = np.ones((k, 4), bool)
        base[:, 3] = has_rdot
        thr = lambda used: gate_threshold(used.sum(axis=1), self.p.gate_prob)  # noqa: E731
        nu_b, S_b = drop_components(nu, S, base)
        d2 = mahalanobis2(nu_b, S_b)
        passed = d2 <= thr(base)
        used = np.where(passed[:, None], base, False)
        best = np.where(passed, d2 / base.sum(axis=1), np.inf)
        out_nu, out_S, out_d2 = nu_b, S_b, d2
        for c in range(3):
            allowed = outliers_ok & (angle_ok if c > 0 else True)
            todo = ~passed & allowed
            if not todo.any():
                continue
            variant = base.copy()
            variant[:, c] = False
            nu_v, S_v = drop_components(nu[todo], S[todo], variant[todo])
            d2_v = mahalanobis2(nu_v, S_v)
            ok = (d2_v <= thr(variant[todo])) & (d2_v / variant[todo].sum(axis=1) < best[todo])
            rows = np.flatnonzero(todo)[ok]
            used[rows] = variant[rows]
            best[rows] = d2_v[ok] / variant[rows].sum(axis=1)
            out_nu[rows], out_S[rows], out_d2[rows] = nu_v[ok], S_v[ok], d2_v[ok]
        return used, out_d2, out_S, out_nu

    def _attribute(self, free, pos_now, r_plot, s_idx, got_plot):
        """Leftover plots along the line of sight of a confirmed (or landed) track that got no
        plot from the same sensor in this batch: within ``attribute_deg`` of its direction and
        ``attribute_range_m`` of its range. They join that track as outliers (not used)."""
        T, p = self.tracks, self.p
        cand = np.flatnonzero(T["status"] != TENTATIVE)
        js = np.flatnonzero(free)
        if cand.size == 0 or js.size == 0:
            return np.zeros(0, int), np.zeros(0, int)
        sp = self._sensor_pos[s_idx[js]]
        d_plot = r_plot[js] - sp  # (J, 3)
        d_track = pos_now[cand][None, :, :] - sp[:, None, :]  # (J, C, 3)
        rp = np.linalg.norm(d_plot, axis=1)
        rt = np.linalg.norm(d_track, axis=2)
        cosang = np.einsum("jk,jck->jc", d_plot, d_track) / (rp[:, None] * rt)
        close = (cosang >= np.cos(np.radians(p.attribute_deg))) & (
            np.abs(rp[:, None] - rt) <= p.attribute_range_m
        )
        close &= ~got_plot[cand][:, s_idx[js]].T
        score = np.where(close, cosang, -np.inf)
        best = np.argmax(score, axis=1)
        ok = np.isfinite(score[np.arange(js.size), best])
        return cand[best[ok]], js[ok]

    def remove(self, ids) -> list[int]:
        """Take tracks ``ids`` out of the table now (a round destroyed in flight); returns the
        ids that were there. Their ids are never reused."""
        T = self.tracks
        gone = np.isin(T["id"], np.asarray(ids, np.int64))
        out = T["id"][gone].tolist()
        if out:
            T.keep(~gone)
        return out

    def kinematics(self) -> np.ndarray:
        """Position and velocity (N, 6) of every track from the model it follows: the
        ballistic filter, or the constant-velocity filter for supported flight."""
        T = self.tracks
        supported = T["llr"] < classify.CV_GATING_LLR
        return np.where(supported[:, None], T.xcv, T.x[:, 0:6])

    # ------------------------------------------------------------------------------------
    def _land(self) -> np.ndarray:
        """Flying tracks whose flight has met the ground by now become LANDED at the impact
        point the flight model gives from their last state."""
        T, env = self.tracks, self.env
        fly = np.flatnonzero(T["status"] != LANDED)
        if fly.size == 0:
            return np.zeros(0, np.int64)
        dt = self.t_now - T["t"][fly]
        kin = self.kinematics()[fly]
        supported = T["llr"][fly] < classify.CV_GATING_LLR
        fall = np.where(supported, 0.0, 0.5 * env.g0_mps2 * dt**2)
        h = env.height_m(kin[:, 0:3]) + kin[:, 5] * dt - fall
        down = (h <= env.ground_alt_m) & (kin[:, 5] < 0) & (T["status"][fly] == CONFIRMED)
        if not down.any():
            return np.zeros(0, np.int64)
        rows = fly[down]
        x = T.x[rows].copy()
        x[:, 0:6] = kin[down]
        res = fly_ballistic_to_ground(env, x, self.p.filter.law_idx, t_max_s=60.0)
        res.landed &= ~supported[down]  # supported flight: straight down along its velocity
        # a last update already at or below the ground (the radar followed it down): step back
        # along the velocity to the ground instead
        below = env.height_m(x[:, 0:3]) - env.ground_alt_m
        back = -below / np.minimum(x[:, 5], -1e-3)
        pos = np.where(res.landed[:, None], res.y_end[:, 0:3], x[:, 0:3] + x[:, 3:6] * back[:, None])
        dt_land = np.where(res.landed, res.t_end_s, back)
        T.x[rows, 0:3] = pos
        T.x[rows, 3:6] = 0.0
        T["t"][rows] = T["t"][rows] + dt_land
        T["status"][rows] = LANDED
        return T["id"][rows].copy()

    def _confirm(self) -> np.ndarray:
        """M hits, a velocity known to within confirm_sigma_v_mps, a speed of at least
        confirm_min_speed_mps and a height of at least confirm_min_height_m above the ground:
        stationary or surface clutter never confirms. A tentative track that would confirm
        but duplicates a confirmed track (or an older one confirming with it) is marked for
        deletion instead: it is the same object seen through another pairing of plots."""
        T, p = self.tracks, self.p
        sd_v = np.sqrt(np.trace(T.P[:, 3:6, 3:6], axis1=1, axis2=2) / 3.0)
        speed = np.linalg.norm(T.x[:, 3:6], axis=1)
        up = (T["status"] == TENTATIVE) & (T["hits"] >= p.confirm_hits)
        up &= (sd_v <= p.confirm_sigma_v_mps) & (speed >= p.confirm_min_speed_mps)
        up &= self.env.height_m(T.x[:, 0:3]) >= self.env.ground_alt_m + p.confirm_min_height_m
        if up.any():
            dup = self._duplicates(np.flatnonzero(up | (T["status"] == CONFIRMED)))
            self._dup_tentative = up & dup
            up &= ~dup
        T["status"][up] = CONFIRMED
        T["t_confirm"][up] = T["t"][up]
        return T["id"][up].copy()

    def _delete(self) -> list[tuple[int, str, bool]]:
        T, p = self.tracks, self.p
        if len(T) == 0:
            return []
        silent = self.t_now - T["t"]
        status = T["status"]
        allowed_misses = p.confirm_window - p.confirm_hits
        reason = np.full(len(T), "", object)
        reason[(status == TENTATIVE) & (silent > (allowed_misses + 1.5) * T["revisit"])] = "unconfirmed"
        reason[
            (status == CONFIRMED) & (silent > np.maximum(p.delete_revisits * T["revisit"], p.delete_min_s))
        ] = "lost"
        reason[(status == LANDED) & (silent > p.landed_hold_s)] = "landed"
        reason[self._duplicates() & (reason == "")] = "duplicate"
        if self._dup_tentative.size == len(T):
            reason[self._dup_tentative & (reason == "")] = "duplicate"
        self._dup_tentative = np.zeros(0, bool)
        gone = reason != ""
        was_conf = status != TENTATIVE
        out = [
            (int(i), str(r), bool(c))
            for i, r, c in zip(T["id"][gone], reason[gone], was_conf[gone], strict=True)
        ]
        T.keep(~gone)
        return out

    def _duplicates(self, rows=None) -> np.ndarray:
        """Among ``rows`` (default: confirmed tracks), those whose state agrees with a more
        senior one's (confirmed, confirmed earlier, older): the same object. Compared at a
        common time (the earlier-updated one carried forward linearly) with
        d^2 = dx^T (P_a + P_b)^-1 dx over position and velocity."""
        T = self.tracks
        cand = np.flatnonzero(T["status"] == CONFIRMED) if rows is None else np.asarray(rows)
        dup = np.zeros(len(T), bool)
        if cand.size < 2:
            return dup
        pairs = cKDTree(T.x[cand, 0:3]).query_pairs(r=200.0, output_type="ndarray")
        if pairs.size == 0:
            return dup
        a, b = cand[pairs[:, 0]], cand[pairs[:, 1]]
        dt = T["t"][b] - T["t"][a]
        xa = T.x[a, 0:6].copy()
        xa[:, 0:3] += xa[:, 3:6] * dt[:, None]
        diff = xa - T.x[b, 0:6]
        d2 = mahalanobis2(diff, T.P[a, 0:6, 0:6] + T.P[b, 0:6, 0:6])
        same = d2 < self.p.duplicate_chi2

        # keep the senior track: confirmed before tentative, then confirmed earlier, then older
        def rank(r):
            return T["status"][r] != CONFIRMED, np.nan_to_num(T["t_confirm"][r], nan=np.inf), T["id"][r]

        ka, kb = rank(a), rank(b)
        a_junior = (ka[0] > kb[0]) | (
            (ka[0] == kb[0]) & ((ka[1] > kb[1]) | ((ka[1] == kb[1]) & (ka[2] > kb[2])))
        )
        junior = np.where(a_junior, a, b)
        dup[junior[same]] = True
        return dup

    # ------------------------------------------------------------------------------------
    def _initiate(self, t, r, C, sensor, serial, rdot, owner) -> list[tuple[int, int, int]]:
        """Two-point initiation: pair each new plot with earlier pool plots it could follow,
        most recent first, and keep every new plot in the pool.

        A pair must be reachable (|r1 - r0| <= init_max_speed_mps dt + 3 sigma), have at most
        one plot a tentative track took (``owner``; two such plots would only restart a track
        that exists), and, where the radar gives range rate, agree with
        it: |rdot - u . v| <= 4 sqrt(sigma_rdot^2 + sigma_v_los^2) at both plots, with v the
        pair's mean velocity, u the line of sight and sigma_v_los the position noise along it
        over dt. Range rate is what keeps two rounds of a salvo from pairing into a ghost.
        """
        p, pool = self.p, self.pool
        keep = pool["t"] >= self.t_now - p.init_max_dt_s
        for k in pool:
            pool[k] = pool[k][keep]
        out: list[tuple[int, int, int]] = []
        if t.size and pool["t"].size:
            dt = t[:, None] - pool["t"][None, :]
            window = np.minimum(p.init_max_dt_s, p.init_max_revisits * self._revisit[sensor])[:, None]
            d = r[:, None, :] - pool["r"][None, :, :]
            dist = np.linalg.norm(d, axis=2)
            var = np.trace(C, axis1=1, axis2=2)[:, None] + np.trace(pool["C"], axis1=1, axis2=2)[None, :]
            feasible = (
                (dt >= p.init_min_dt_s)
                & (dt <= window)
                & (dist <= p.init_max_speed_mps * dt + 3 * np.sqrt(var))
            )
            feasible &= (owner[:, None] < 0) | (pool["owner"][None, :] < 0)
            if feasible.any():
                v = d / np.where(dt > 0, dt, np.inf)[:, :, None]
                for rd, pos, sen, side in (
                    (rdot, r, sensor, 0),
                    (pool["rdot"], pool["r"], pool["sensor"], 1),
                ):
                    has = ~np.isnan(rd)
                    if not has.any():
                        continue
                    u = pos - self._sensor_pos[sen]
                    u /= np.linalg.norm(u, axis=1, keepdims=True)
                    pred = np.einsum("jkc,jc->jk", v, u) if side == 0 else np.einsum("jkc,kc->jk", v, u)
                    sig_r = self._sigma[sen, 0]
                    sig_v = self._sigma[sen, 3]
                    sig_los = (
                        np.sqrt(2.0)
                        * (sig_r[:, None] if side == 0 else sig_r[None, :])
                        / np.maximum(dt, 1e-3)
                    )
                    tol = 4.0 * np.sqrt((sig_v[:, None] if side == 0 else sig_v[None, :]) ** 2 + sig_los**2)
                    tol += p.init_accel_mps2 * dt  # the velocity changes across the pair
                    bad = np.abs((rd[:, None] if side == 0 else rd[None, :]) - pred) > tol
                    feasible &= ~(bad & (has[:, None] if side == 0 else has[None, :]))
            score = np.where(feasible, dt, np.inf)
            pick = np.argsort(score, axis=1)[:, : p.init_max_partners]
            jj = np.repeat(np.arange(t.size), pick.shape[1])
            kk = pick.ravel()
            ok = feasible[jj, kk]
            jj, kk = jj[ok], kk[ok]
            if jj.size:
                ids = self._start_tracks(
                    t[jj], r[jj], C[jj], pool["t"][kk], pool["r"][kk], pool["C"][kk], sensor[jj], rdot[jj]
                )
                out = list(zip(ids.tolist(), pool["serial"][kk].tolist(), serial[jj].tolist(), strict=True))
        for key, val in (
            ("t", t),
            ("r", r),
            ("C", C),
            ("sensor", sensor),
            ("serial", serial),
            ("rdot", rdot),
            ("owner", owner),
        ):
            pool[key] = np.concatenate([pool[key], val])
        return out

    def _start_tracks(self, t1, r1, C1, t0, r0, C0, sensor, rdot) -> np.ndarray:
        """New tentative tracks at the later plot's time from two plots.

        v = (r1 - r0) / dt + a dt / 2 (gravity and drag at the prior kappa: the mean velocity
        is the velocity at mid-interval);
        P_rr = C1, P_rv = C1 / dt, P_vv = (C0 + C1) / dt^2 + (a_init dt / 2)^2 I, and
        kappa ~ N(kappa0, sigma_kappa0^2) independent. Where the later plot has a range rate,
        it then updates the state (a Kalman update on that one component), which pins the
        velocity along the line of sight far better than two positions can.
        """
        p = self.p
        k = t1.size
        dt = t1 - t0
        v_mean = (r1 - r0) / dt[:, None]
        x = np.zeros((k, 7))
        x[:, 0:3], x[:, 3:6], x[:, 6] = r1, v_mean, p.kappa0
        # the mean velocity is the velocity at mid-interval: add half an interval of
        # acceleration (gravity and drag at the prior kappa) to get it at the later plot
        acc = ballistic_acceleration(self.env, r1, v_mean, np.exp(p.kappa0), p.filter.law_idx)
        x[:, 3:6] += acc * (dt / 2.0)[:, None]
        P = np.zeros((k, 7, 7))
        d = dt[:, None, None]
        P[:, 0:3, 0:3] = C1
        P[:, 0:3, 3:6] = C1 / d
        P[:, 3:6, 0:3] = C1 / d
        P[:, 3:6, 3:6] = (C0 + C1) / d**2 + (p.init_accel_mps2 * d / 2.0) ** 2 * np.eye(3)
        P[:, 6, 6] = p.sigma_kappa0**2
        # the constant-velocity alternative starts from the same plots, without gravity or drag
        xcv = np.c_[r1, v_mean]
        Pcv = P[:, 0:6, 0:6].copy()
        has = ~np.isnan(rdot)
        if has.any():
            i = np.flatnonzero(has)
            s = sensor[i]
            rot, off = self._rot[s], self._off[s]
            use = np.zeros((i.size, 4), bool)
            use[:, 3] = True
            z = np.c_[np.zeros((i.size, 3)), rdot[i]]
            R = np.where(
                use[:, :, None] & use[:, None, :], measurement_noise(self._sigma[s], has[i]), np.eye(4)
            )
            for state, cov, n in ((x, P, 7), (xcv, Pcv, 6)):
                H = np.where(use[:, :, None], measure_jacobian(state[i], rot, off, n_state=n), 0.0)
                nu = np.where(use, innovation(z, measure(state[i], rot, off)), 0.0)
                state[i], cov[i], _, _, _ = kalman_update(state[i], cov[i], nu, H, R)
        ids = np.arange(self.next_id, self.next_id + k)
        self.next_id += k
        self.tracks.append(
            x,
            P,
            xcv,
            Pcv,
            id=ids,
            status=TENTATIVE,
            t=t1,
            t_birth=t1,
            t_confirm=np.nan,
            hits=2,
            owned=2,
            revisit=self._revisit[sensor],
            llr=0.0,
            speed_max=np.linalg.norm(x[:, 3:6], axis=1),
            nis_sum=0.0,
            r_scale=1.0,
            angles_ok=1,
        )
        return ids
