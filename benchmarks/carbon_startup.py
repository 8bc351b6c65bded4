"""How much codecarbon's OfflineEmissionsTracker costs per evaluation, two ways.

Prints, for a fresh process each: the first tracker's start-up; then per evaluation either a new
tracker (construct + start + stop) or one kept tracker's ``start_task``/``stop_task``, and the
energy each way reports for the same CPU-bound workload. Run:
``PYTHONPATH=. python benchmarks/carbon_startup.py [--evals 10] [--work-s 0.2]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
mode, n, work_s, tracking = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
t0 = time.perf_counter()
from codecarbon import OfflineEmissionsTracker
t_import = time.perf_counter() - t0

def tracker():
    return OfflineEmissionsTracker(country_iso_code="FRA", log_level="error", output_methods=[],
                                   tracking_mode=tracking, measure_power_secs=3600)

def work():
    end = time.perf_counter() + work_s
    x = 0
    while time.perf_counter() < end:
        x += 1

t0 = time.perf_counter(); first = tracker(); first.start(); t_first = time.perf_counter() - t0
first.stop()
overheads, energies = [], []
if mode == "task":
    kept = tracker(); kept.start()
    for i in range(n):
        t0 = time.perf_counter(); kept.start_task(f"e{i}"); a = time.perf_counter() - t0
        work()
        t0 = time.perf_counter(); d = kept.stop_task(f"e{i}"); b = time.perf_counter() - t0
        overheads.append(a + b); energies.append(d.energy_consumed)
    kept.stop()
else:
    for i in range(n):
        t0 = time.perf_counter(); tr = tracker(); tr.start(); a = time.perf_counter() - t0
        work()
        t0 = time.perf_counter(); tr.stop(); b = time.perf_counter() - t0
        overheads.append(a + b); energies.append(tr.final_emissions_data.energy_consumed)
print(json.dumps(dict(import_s=t_import, first_start_s=t_first, overheads=overheads,
                      energies=energies)))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=10)
    parser.add_argument("--work-s", type=float, default=0.2)
    args = parser.parse_args()
    import codecarbon

    print(f"codecarbon {codecarbon.__version__}, {args.evals} evaluations of {args.work_s} s busy loop")
    for tracking in ("process", "machine"):
        for mode in ("task", "new"):
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", CHILD, mode, str(args.evals), str(args.work_s), tracking],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            ov, en = sorted(r["overheads"]), r["energies"]
            label = "kept tracker, start_task/stop_task" if mode == "task" else "new tracker per evaluation"
            print(
                f"[{tracking:7s}] {label:36s} import {r['import_s']:.3f} s, first tracker start "
                f"{r['first_start_s']:.3f} s, per-evaluation overhead median "
                f"{ov[len(ov) // 2] * 1e3:.1f} ms (max {ov[-1] * 1e3:.1f} ms), energy per "
                f"evaluation mean {sum(en) / len(en) * 3.6e6:.3f} J "
                f"(min {min(en) * 3.6e6:.3f}, max {max(en) * 3.6e6:.3f}); process wall "
                f"{time.perf_counter() - t0:.1f} s"
            )


if __name__ == "__main__":
    main()
