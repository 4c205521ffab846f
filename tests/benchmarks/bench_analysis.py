"""Benchmark: Timeline.load + analyse on a 1,000,000-request run.

Builds (in a child process, so its memory does not count) a synthetic run of 1,000,000 requests:
Poisson arrivals at 1,000 req/s for 1,000 s, four faults (a stall, refused connections, a
partial 500 storm, degraded answers) with matching observer events; saves it; then, in this
process, times ``Timeline.load`` + ``analyse`` and reports peak memory two ways: ``ru_maxrss``
of this process (everything: interpreter, numpy, the load and the analysis) and the
``tracemalloc`` peak of a second, traced pass (Python + numpy allocations during load+analyse).

Targets: < 5 s and < 500 MB. Run: ``.venv/bin/python tests/benchmarks/bench_analysis.py
[--requests N]``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# run as a script: the repository root is not on sys.path, and tests.support lives there
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.analysis import AnalysisSpec, SLOSpec, analyse
from harness.timeline import Timeline
from tests.support.synthetic import (
    Observation,
    Outage,
    SyntheticFault,
    synthetic_timeline,
)

RATE = 1_000.0


def build(path: Path, n: int) -> None:
    duration = n / RATE
    at = [duration * f for f in (0.2, 0.4, 0.6, 0.8)]
    outages = [Outage(start_s=at[0], end_s=at[0] + 2.0),
               Outage(start_s=at[1], end_s=at[1] + 1.0, mode="error"),
               Outage(start_s=at[2], end_s=at[2] + 30.0, mode="http500", fraction=0.1),
               Outage(start_s=at[3], end_s=at[3] + 20.0, mode="degraded", fraction=0.5)]
    names = ["pause-app", "kill-app", "provider-500", "redis-master-loss"]
    faults = [SyntheticFault(fault_id=f"f{i}", name=names[i], inject_s=t,
                             revert_s=t + (2.0, 1.0, 30.0, 20.0)[i]) for i, t in enumerate(at)]
    obs = []
    for i, t in enumerate(at):
        subject = f"haproxy/app/app-az-{'abc'[i % 3]}"
        obs += [Observation(t_s=t + 0.5, subject=subject, healthy=False),
                Observation(t_s=t + (2.0, 1.0, 30.0, 20.0)[i] + 2.0, subject=subject,
                            healthy=True)]
    obs += [Observation(t_s=t, subject="redis/replication", healthy=True)
            for t in range(0, int(duration), 10)]  # a chatty observer: ~100 events per 1,000 s
    tl = synthetic_timeline(duration_s=duration, rate=RATE, poisson=True, seed=42,
                            outages=outages, faults=faults, observations=obs)
    tl.save(path)


def timed(path: Path, spec: AnalysisSpec) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    tl = Timeline.load(path)
    t1 = time.perf_counter()
    a = analyse(tl, spec)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, a.requests


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        build(args.build, args.requests)
        return
    spec = AnalysisSpec(slos=[SLOSpec(name="availability", objective=0.9999,
                                      latency_threshold_ms=1000),
                              SLOSpec(name="quality", objective=0.999,
                                      latency_threshold_ms=2000, degraded_is_good=False)])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "timeline.zip"
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--build", str(path), "--requests",
                        str(args.requests)], check=True)
        print(f"built and saved {args.requests:,} requests in {time.perf_counter() - t:.1f} s "
              f"({path.stat().st_size / 1e6:.1f} MB on disk)")
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        load_s, analyse_s, n = timed(path, spec)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tracemalloc.start()
        timed(path, spec)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        best = min(timed(path, spec)[:2] for _ in range(2))
    total = load_s + analyse_s
    print(f"requests analysed     : {n:,}")
    print(f"Timeline.load         : {load_s:.2f} s   (best of 3: {best[0]:.2f} s)")
    print(f"analyse               : {analyse_s:.2f} s   (best of 3: {best[1]:.2f} s)")
    print(f"load + analyse        : {total:.2f} s   target < 5 s: "
          f"{'OK' if total < 5 else 'MISSED'}")
    print(f"peak RSS (ru_maxrss)  : {rss:.0f} MB (before: {rss0:.0f} MB)   target < 500 MB: "
          f"{'OK' if rss < 500 else 'MISSED'}")
    print(f"tracemalloc peak      : {peak / 2**20:.0f} MB (allocations during load + analyse)")


if __name__ == "__main__":
    main()
