"""CPU per answer of the whole local stack by cache-hit ratio, and the rates it sustains.

Through the real local stack (``harness.stack.open_stack``, default knobs), open-loop load with
the generated question mix (``repeat: generated``) at several cache-hit targets. For each step
it prints the measured hit ratio (X-Provider), who answered, the CPU-seconds each stack process
and the load generator spent per answer (from ``/proc/<pid>/stat``, so the figure does not
depend on how busy the rest of the machine is), latency, the generator's lateness and whether
HAProxy marked any replica DOWN. Prints figures; asserts nothing.

    nice -n 10 .venv/bin/python tests/benchmarks/bench_mix_cpu.py                # hit ratios
    nice -n 10 .venv/bin/python tests/benchmarks/bench_mix_cpu.py --ramp 200,300,400 --hit 0.5

``--ramp`` runs each rate at one hit target instead: on a machine shared with other work the
highest rate that kept up says more about the neighbours than about the stack, so the sustained
rate on a quiet machine is estimated from CPU per answer (``cores / cpu_per_answer``) and the
ramp is a cross-check. The load average is printed with every step.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from conftest_app import proc_cpu_s  # noqa: E402

QUESTIONS = ROOT / "fixtures" / "corpus" / "questions.jsonl"


def _own_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _pids(stack) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {s.name: s.pid for s in stack.status().services if s.pid}


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = proc_cpu_s(pid)
        except OSError:  # a process that exited: count nothing for it
            out[name] = 0.0
    return out


def idle(stack, seconds: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """CPU per second of the stack and of this process (observers on) with no load: the
    fixed cost that the per-answer figures subtract."""
    from harness.probes import Observers
    from harness.timeline import Timeline

    pids = _pids(stack)
    with Observers(stack, Timeline(), qdrant=False):
        time.sleep(2.0)
        c0, g0 = _cpu(pids), _own_cpu()
        time.sleep(seconds)
        c1, g1 = _cpu(pids), _own_cpu()
    stack_s = sum(c1[n] - c0[n] for n in c0) / seconds
    own_s = (g1 - g0) / seconds
    print(f"idle for {seconds:.0f} s: stack {stack_s:.3f} cores, harness process (observers) "
          f"{own_s:.3f} cores; load average {os.getloadavg()[0]:.1f}", flush=True)
    return stack_s, own_s


def step(stack, *, rate: float, hit: float, seconds: float, settle_s: float,  # type: ignore[no-untyped-def]
         seed: int, fixed: tuple[float, float] = (0.0, 0.0)) -> dict[str, object]:
    """One measured step; returns the figures (also printed)."""
    from harness.analysis.cache import cache_hit_ratio, provider_counts
    from harness.load import OpenLoopGenerator, RequestMix
    from harness.load.mix import run_nonce
    from harness.probes import Observers
    from harness.timeline import Timeline

    mix = RequestMix.from_questions(QUESTIONS, repeat="generated", cache_hit_target=hit,
                                    seed=seed, nonce=run_nonce(f"bench-{seed}-{time.time_ns()}"))
    tl = Timeline()
    st = stack.status()
    pids = _pids(stack)
    with Observers(stack, tl, qdrant=False), \
            OpenLoopGenerator(url=st.front_door, api_key=st.api_key, rate=rate, mix=mix,
                              seed=seed, timeline=tl) as gen:
        time.sleep(settle_s)  # the first REPEAT_LAG fresh questions, connection pool
        c0, g0, t0 = _cpu(pids), _own_cpu(), time.monotonic_ns()
        time.sleep(seconds)
        c1, g1, t1 = _cpu(pids), _own_cpu(), time.monotonic_ns()
        report = gen.stop()
    load = os.getloadavg()[0]
    ratio = cache_hit_ratio(tl, (t0, t1), target=hit)
    n = max(1, ratio.requests)
    cols = tl.requests
    lat = sorted((cols.end_ns[i] - cols.intended_ns[i]) / 1e6 for i in range(len(cols))
                 if t0 <= cols.intended_ns[i] < t1)
    down = [e for e in tl.events_of("obs.state")
            if e.get("subject", "").startswith("haproxy") and e.get("healthy") is False]
    per = {name: (c1[name] - c0[name]) for name in c0}
    stack_cpu = sum(per.values())
    gen_cpu = g1 - g0
    ms = (stack_cpu + gen_cpu) / n * 1000
    sent = sum(provider_counts(tl, (t0, t1), answered_only=False).values())
    print(f"rate {rate:.0f}/s, hit target {hit:.2f}: measured {ratio.measured or 0:.3f} over "
          f"{ratio.requests} answers of {sent} sent {dict(ratio.providers)}; load average "
          f"{load:.1f}")
    print(f"  CPU per answer: stack {stack_cpu / n * 1000:.2f} ms + generator "
          f"{gen_cpu / n * 1000:.2f} ms = {ms:.2f} ms; {(stack_cpu + gen_cpu) / seconds:.2f} "
          f"cores busy; a quiet 2-core machine would saturate near {2000 / ms:.0f} answers/s")
    marginal = ((stack_cpu - fixed[0] * seconds) + (gen_cpu - fixed[1] * seconds)) / n * 1000
    print(f"  less the idle cost: {marginal:.2f} ms per answer (stack + generator)")
    top = sorted(per.items(), key=lambda kv: -kv[1])[:6]
    print("  top: " + ", ".join(f"{k} {v / n * 1000:.2f} ms" for k, v in top))
    print(f"  latency from intended send p50 {lat[len(lat) // 2]:.1f} ms, p99 "
          f"{lat[int(len(lat) * 0.99)]:.1f} ms; generator lateness p99 "
          f"{report.lateness_p99_ms:.1f} ms, fell behind: {report.fell_behind}; HAProxy DOWN "
          f"events: {len(down)}", flush=True)
    return {"rate": rate, "hit": hit, "measured": ratio.measured, "cpu_ms": ms, "sent": sent,
            "marginal_ms": marginal,
            "fell_behind": report.fell_behind, "down": len(down), "load": load}


def main() -> int:
    from harness.stack import open_stack
    from harness.timeline import Timeline

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hits", default="0,0.25,0.5,0.75,0.9",
                   help="comma-separated cache-hit targets (default %(default)s)")
    p.add_argument("--rate", type=float, default=40.0, help="req/s for the hit-ratio steps")
    p.add_argument("--ramp", default="", help="comma-separated rates to try at --hit instead")
    p.add_argument("--hit", type=float, default=0.5)
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per step")
    p.add_argument("--settle", type=float, default=5.0, help="unmeasured seconds per step")
    args = p.parse_args()
    t = time.monotonic()
    with open_stack(timeline=Timeline()) as stack:
        print(f"stack ready in {time.monotonic() - t:.1f} s; {os.cpu_count()} cores", flush=True)
        # an unmeasured warm-up: the first answers of a fresh stack are slow (lazy imports,
        # first connections), which would be charged to the first step
        step(stack, rate=args.rate, hit=0.5, seconds=5.0, settle_s=5.0, seed=99)
        print("(the step above was the warm-up)", flush=True)
        fixed = idle(stack, args.seconds)
        if args.ramp:
            for i, rate in enumerate(float(r) for r in args.ramp.split(",")):
                step(stack, rate=rate, hit=args.hit, seconds=args.seconds,
                     settle_s=args.settle, seed=100 + i, fixed=fixed)
        else:
            for i, hit in enumerate(float(h) for h in args.hits.split(",")):
                step(stack, rate=args.rate, hit=hit, seconds=args.seconds,
                     settle_s=args.settle, seed=200 + i, fixed=fixed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
