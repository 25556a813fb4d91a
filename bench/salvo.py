"""Salvo study: salvos of 1 to 200 rockets at the US embassy compound of the default
scenario, defended by its C-RAM gun; leakers and the end-to-end engine time against the
salvo size.

Each salvo is the default scenario with its threats replaced by one salvo of 107 mm rockets
from the scenario's first launch point, aimed at the compound (aim scatter 120 m, launch
scatter 20 m), one round every ``--interval`` seconds. The whole chain runs: radar plots,
tracking, prediction, warning, engagement (and the kill draws). Printed per salvo size:
leakers (rounds landing in a defended zone), destroyed, engaged, let go, rounds fired, and
the engine's time: median and 99th percentile per step, and the sum over the run against
the simulated time it covered (the real-time factor; < 1 is faster than real time). One
core: the BLAS thread pools are pinned to one thread before numpy loads.

    python bench/salvo.py [--sizes 1 10 50 100 200] [--interval 0.5] [--png docs/salvo.png]
"""

from __future__ import annotations

import one_thread  # noqa: F401  (first: one BLAS thread, set before NumPy loads)

# isort: split

import argparse
import time

import numpy as np

from counterram.scenario import Salvo, load_scenario
from counterram.sim import run_scenario, score_engage


def salvo_scenario(n: int, interval_s: float, seed: int):
    base = load_scenario(None)
    th = base.threats[0]
    salvo = Salvo(rounds=n, interval_s=interval_s, aim_sigma_m=120.0, launch_sigma_m=20.0)
    threat = th.model_copy(update={"id": "salvo", "salvo": salvo, "launch_time_s": 5.0})
    last = 5.0 + (n - 1) * interval_s
    return base.model_copy(update={"threats": [threat], "seed": seed, "duration_s": last + 60.0})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50, 100, 200])
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between rounds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--png", default=None, help="write the figure here")
    a = ap.parse_args()
    rows = []
    print(
        f"{'rounds':>6} {'leakers':>7} {'destroyed':>9} {'engaged':>7} {'let go':>6} {'fired':>6} "
        f"{'steps':>6} {'med ms':>7} {'p99 ms':>7} {'max ms':>7} {'engine s':>8} {'sim s':>6} "
        f"{'RT factor':>9}"
    )
    for n in a.sizes:
        scn = salvo_scenario(n, a.interval, a.seed)
        t0 = time.perf_counter()
        run = run_scenario(scn, np.random.default_rng(a.seed))
        wall = time.perf_counter() - t0
        s = score_engage(run)
        st = run.step_wall_s * 1e3
        engine_s = float(run.step_wall_s.sum())
        sim_s = float(scn.duration_s)
        r = {
            "rounds": n,
            "leakers": s["leakers"],
            "destroyed": s["destroyed"],
            "engaged": s["engaged"],
            "let_go": s["let_go"],
            "rounds_fired": s["rounds_fired"],
            "steps": int(st.size),
            "median_ms": float(np.median(st)),
            "p99_ms": float(np.percentile(st, 99)),
            "max_ms": float(st.max()),
            "engine_s": engine_s,
            "sim_s": sim_s,
            "rt_factor": engine_s / sim_s,
            "run_wall_s": wall,
        }
        rows.append(r)
        print(
            f"{n:>6} {r['leakers']:>7} {r['destroyed']:>9} {r['engaged']:>7} {r['let_go']:>6} "
            f"{r['rounds_fired']:>6} {r['steps']:>6} {r['median_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{r['max_ms']:>7.1f} {engine_s:>8.2f} {sim_s:>6.0f} {r['rt_factor']:>9.3f}"
        )
    if a.png:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 4.5), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 2, 1)
        x = [r["rounds"] for r in rows]
        ax.plot(
            x, [r["leakers"] for r in rows], "o-", color="#b2182b", label="leakers (landed in defended zones)"
        )
        ax.plot(x, [r["destroyed"] for r in rows], "s-", color="#1a9850", label="destroyed")
        ax.plot(x, [r["engaged"] for r in rows], "d--", color="#6a3d9a", label="engaged")
        ax.set_xlabel("rounds in the salvo")
        ax.set_ylabel("rounds")
        ax.grid(True, color="#dddddd")
        ax.legend(fontsize=8)
        ax.set_title("one C-RAM gun against a salvo", fontsize=10)
        ax2 = fig.add_subplot(1, 2, 2)
        ax2.plot(x, [r["median_ms"] for r in rows], "o-", label="median step")
        ax2.plot(x, [r["p99_ms"] for r in rows], "s-", label="99th percentile step")
        ax2.plot(x, [1e3 * r["rt_factor"] for r in rows], "d--", label="engine ms per simulated s")
        ax2.set_xlabel("rounds in the salvo")
        ax2.set_ylabel("ms")
        ax2.grid(True, color="#dddddd")
        ax2.legend(fontsize=8)
        ax2.set_title("end-to-end engine time (one core)", fontsize=10)
        fig.tight_layout()
        fig.savefig(a.png)
        print(f"wrote {a.png}")


if __name__ == "__main__":
    main()
