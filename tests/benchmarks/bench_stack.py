"""Cold start of the local stack to all-ready, teardown, and front-door throughput.

    .venv/bin/python tests/benchmarks/bench_stack.py [--runs 3] [--no-netns]
        [--ladder 200,300,400,500,600,800] [--step-s 15] [--p99-ms 250]

Prints per run: seconds from ``start_local_stack`` to ready (network, configs, 13 processes,
every readiness check), when each readiness check passed, and the teardown time; then the
median. Then, on one more stack: steady throughput of ``POST /v1/answer`` through HAProxy with
the open-loop generator (Poisson arrivals, the corpus question mix, a warm cache), one step per
rate of the ladder, each with p50/p99 latency from the intended send time, errors and generator
lateness, and the highest rate held with no errors and p99 below the bound. Targets on 2 cores:
ready in <= 10 s; >= 300 answers/s at p99 < 250 ms. The machine's load average is printed too:
figures from a busy machine say little.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

QUESTIONS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "questions.jsonl"


def cold_starts(runs: int) -> None:
    from harness.stack.local import start_local_stack
    from harness.stack.local.verify import leftovers

    starts, downs = [], []
    for i in range(runs):
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
          f"(min {min(starts):.2f}, max {max(starts):.2f}) over {runs} runs; "
          f"teardown median {statistics.median(downs):.2f} s; "
          f"{os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f}")


def _step(url: str, api_key: str, rate: float, seconds: float, seed: int) -> dict[str, float]:
    from harness.load import OpenLoopGenerator, RequestMix
    from harness.timeline import Timeline

    tl = Timeline()
    mix = RequestMix.from_questions(QUESTIONS, seed=seed)
    gen = OpenLoopGenerator(url=url, api_key=api_key, rate=rate, mix=mix, seed=seed,
                            timeline=tl, duration_s=seconds, timeout_s=10.0)
    cpu0 = os.times()
    gen.start()
    gen.wait(seconds + 30)
    rep = gen.stop()
    reqs = tl.requests
    lat = (np.frombuffer(reqs.end_ns, dtype=np.int64)
           - np.frombuffer(reqs.intended_ns, dtype=np.int64)) / 1e6
    status = np.frombuffer(reqs.status, dtype=np.uint16)
    outcome = np.frombuffer(reqs.outcome, dtype=np.uint8)
    errors = int(((outcome != 0) | (status >= 400)).sum())
    cpu1 = os.times()
    return {"rate": rate, "achieved": rep.achieved_rate, "n": float(len(reqs)),
            "errors": float(errors), "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99)), "late_p99": rep.lateness_p99_ms,
            "fell_behind": float(rep.fell_behind),
            "gen_cpu_pct": 100 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system))
            / seconds}


def throughput(ladder: list[float], step_s: float, p99_bound: float) -> None:
    from harness.stack.local import start_local_stack

    stack = start_local_stack(ready_timeout=120)
    try:
        url, key = stack.topology.front_door.url, stack.topology.api_key
        warm = _step(url, key, ladder[0], 20.0, seed=1)  # fills the LLM cache
        print(f"warm-up at {ladder[0]:g}/s: {warm['errors']:.0f} errors, "
              f"p99 {warm['p99']:.1f} ms")
        best = None
        for i, rate in enumerate(ladder):
            load = os.getloadavg()[0]
            r = _step(url, key, rate, step_s, seed=10 + i)
            ok = r["errors"] == 0 and r["p99"] < p99_bound and not r["fell_behind"]
            print(f"{rate:6.0f}/s target: achieved {r['achieved']:.0f}/s, n={r['n']:.0f}, "
                  f"errors {r['errors']:.0f}, latency p50 {r['p50']:.1f} ms p99 "
                  f"{r['p99']:.1f} ms, generator lateness p99 {r['late_p99']:.1f} ms, "
                  f"generator CPU {r['gen_cpu_pct']:.0f}% of a core, load {load:.1f} "
                  f"-> {'held' if ok else 'NOT held'}")
            if not ok:
                break
            best = rate
        print(f"steady throughput through the front door at p99 < {p99_bound:g} ms with no "
              f"errors: {best if best is not None else 'below ' + str(ladder[0])} answers/s "
              f"({os.cpu_count()} CPUs)")
    finally:
        stack.down()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-netns", action="store_true", help="loopback fallback")
    parser.add_argument("--ladder", default="200,300,400,500,600,800",
                        help="rates (req/s) to try in order; stops at the first not held")
    parser.add_argument("--step-s", type=float, default=15.0)
    parser.add_argument("--p99-ms", type=float, default=250.0)
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if args.no_netns:
        os.environ["CHAOS_HARNESS_NO_NETNS"] = "1"
    if not args.skip_cold:
        cold_starts(args.runs)
    if not args.skip_throughput:
        throughput([float(x) for x in args.ladder.split(",")], args.step_s, args.p99_ms)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
