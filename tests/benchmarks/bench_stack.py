"""Cold start of the local stack to all-ready, and teardown (median of N runs).

    .venv/bin/python tests/benchmarks/bench_stack.py [--runs 3] [--no-netns]

Prints per run: seconds from ``start_local_stack`` to ready (network, configs, 13 processes,
every readiness check), when each readiness check passed, and the teardown time; then the
median and the machine's load average (the CPU may be shared). Target: <= 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-netns", action="store_true", help="loopback fallback")
    args = parser.parse_args()
    if args.no_netns:
        os.environ["CHAOS_HARNESS_NO_NETNS"] = "1"
    from harness.stack.local import start_local_stack
    from harness.stack.local.verify import leftovers

    starts, downs = [], []
    for i in range(args.runs):
        load = os.getloadavg()[0]
        t0 = time.monotonic()
        stack = start_local_stack(ready_timeout=120)
        ready = time.monotonic() - t0
        timings = dict(stack.ready_timings)
        t1 = time.monotonic()
        stack.down()
        down = time.monotonic() - t1
        assert leftovers(stack.record.key) == []
        starts.append(ready)
        downs.append(down)
        print(f"run {i + 1}: ready in {ready:.2f} s (load {load:.1f}); checks passed at "
              f"{timings}; down in {down:.2f} s")
    print(f"cold start to all-ready: median {statistics.median(starts):.2f} s "
          f"(min {min(starts):.2f}, max {max(starts):.2f}) over {args.runs} runs; "
          f"teardown median {statistics.median(downs):.2f} s; "
          f"{os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
