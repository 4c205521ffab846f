"""CPU per answer of one reference-app replica (cache miss and cache hit), and the provider
simulator's CPU per completion and throughput. Real processes on 127.0.0.1. Prints figures.

    .venv/bin/python tests/benchmarks/bench_app_cpu.py [--n 400] [--concurrency 8]
    .venv/bin/python tests/benchmarks/bench_app_cpu.py --stack [--rate 100] [--fault-s 30]

``--stack`` runs instead, through the real local stack (``harness.stack.open_stack``) under
open-loop load: primary 100% 5xx for ``--fault-s`` seconds, a Redis master SIGKILL, and the same
provider fault with ``app.fallback_enabled=false`` (answers degrade) and with degradation off as
well (answers fail); it prints the failed-answer counts per phase. ``--stack-cpu 300`` prints
the CPU each stack component spends per answer at 300 answers/s (warm cache) and the latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from conftest_app import (  # noqa: E402
    app_process,
    proc_cpu_s,
    provider_sim,
    redis_with_sentinel,
)


async def _drive(url: str, n: int, concurrency: int, make, headers) -> tuple[float, int]:
    """Send n requests (make(i) -> (path, json)), `concurrency` at a time; (seconds, non-200)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    bad = 0
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=30) as client:
        queue = iter(range(n))

        async def worker() -> None:
            nonlocal bad
            for i in queue:
                path, body = make(i)
                r = await client.post(path, json=body)
                bad += r.status_code != 200

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0, bad


def bench_app(n: int, concurrency: int) -> None:
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "fixtures/corpus/questions.jsonl").read_text().splitlines()]
    questions = (questions * (n // len(questions) + 1))[:n]
    # make every question unique for the miss pass
    uniq = [f"{q} (variant {i})" for i, q in enumerate(questions)]
    with provider_sim("primary", latency_ms=20, tokens_per_s=2000) as primary, \
            provider_sim("fallback") as fallback, redis_with_sentinel() as redis, \
            app_process(primary=primary, fallback=fallback, redis=redis,
                        env={"RAG_LLM_TIMEOUT_S": "5"}) as app:
        headers = {"X-API-Key": app.api_key}
        pid = app.proc.pid
        # warm-up (JIT-free Python still has lazy imports / first-call costs)
        asyncio.run(_drive(app.url, 50, 4, lambda i: ("/v1/answer", {"question": f"warm {i}"}),
                           headers))
        for label, qs in (("miss", uniq), ("hit", uniq)):
            c0 = proc_cpu_s(pid)
            s0 = proc_cpu_s(primary.proc.pid)
            secs, bad = asyncio.run(_drive(app.url, n, concurrency,
                                           lambda i, qs=qs: ("/v1/answer", {"question": qs[i]}),
                                           headers))
            cpu = proc_cpu_s(pid) - c0
            sim_cpu = proc_cpu_s(primary.proc.pid) - s0
            print(f"app cache-{label}: {n} answers in {secs:.2f} s ({n / secs:.0f}/s at "
                  f"concurrency {concurrency}), app CPU {cpu / n * 1000:.2f} ms/answer"
                  + (f", simulator CPU {sim_cpu / n * 1000:.2f} ms/completion" if label == "miss"
                     else "") + f", non-200: {bad}")


def bench_sim(n: int, concurrency: int) -> None:
    with provider_sim("primary", latency_ms=0, tokens_per_s=1e6) as sim:
        body = {"model": "m", "messages": [{"role": "user", "content": "Context:\n[kb-1] "
                                            "Redis fails over. Quickly.\n\nQuestion: how?"}]}
        c0 = proc_cpu_s(sim.proc.pid)
        secs, bad = asyncio.run(_drive(sim.url, n, concurrency,
                                       lambda i: ("/chat/completions", body), {}))
        cpu = proc_cpu_s(sim.proc.pid) - c0
        print(f"simulator: {n} completions in {secs:.2f} s ({n / secs:.0f}/s, client-bound), "
              f"simulator CPU {cpu / n * 1000:.3f} ms/completion "
              f"(=> ~{n / max(cpu, 1e-9):.0f}/s per core), non-200: {bad}")


def _window(tl, t0: int, t1: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from collections import Counter

    from harness.timeline import Outcome

    counts: Counter[str] = Counter()
    for r in tl.requests:
        if t0 <= r.intended_ns < t1:
            counts["total"] += 1
            good = r.outcome == Outcome.OK and 200 <= r.status < 300
            counts["ok" if good else "failed"] += 1
            if not good:
                counts[f"failed:{r.status}:{r.error}:{r.replica}"] += 1
            counts[f"provider={r.provider.name.lower()}"] += 1
            counts["degraded"] += r.degraded
    return dict(counts)


def bench_stack(rate: float, fault_s: float, warmup_s: float) -> None:
    """Through the real local stack: provider 5xx, Redis master kill, and no-fallback."""
    import time as _t

    from harness.load import OpenLoopGenerator, RequestMix
    from harness.simulators.control import ProviderControlClient
    from harness.stack import open_stack
    from harness.timeline import Timeline

    mix = RequestMix.from_questions(ROOT / "fixtures/corpus/questions.jsonl", seed=1)
    for knobs in ({}, {"app.fallback_enabled": False},
                  {"app.fallback_enabled": False, "app.degrade_enabled": False}):
        tl = Timeline()
        t_start = _t.monotonic()
        with open_stack(knobs=knobs, timeline=tl) as stack:
            print(f"stack {knobs or 'defaults'} ready in {_t.monotonic() - t_start:.1f} s")
            st = stack.status()
            url, token = stack.provider_control("primary")  # type: ignore[attr-defined]
            with OpenLoopGenerator(url=st.front_door, api_key=st.api_key, rate=rate, mix=mix,
                                   seed=1, timeline=tl) as gen, \
                    ProviderControlClient(url, token) as primary:
                tw = _t.monotonic_ns()
                _t.sleep(warmup_s)  # warm-up: fill the cache
                t0 = _t.monotonic_ns()
                print(f"  warm-up {warmup_s:.0f} s (no fault): {_window(tl, tw, t0)}")
                primary.reset_counters()
                primary.set_fault("error", status=500, rate=1.0)
                _t.sleep(fault_s)
                primary.clear()
                t1 = _t.monotonic_ns()
                print(f"  primary 100% 5xx for {fault_s:.0f} s at {rate:.0f}/s: "
                      f"{_window(tl, t0, t1)}; primary counters {primary.counters()}")
                if not knobs:
                    _t.sleep(3)
                    master = stack.roles("redis-master")[0]
                    t2 = _t.monotonic_ns()
                    stack.kill(master)  # type: ignore[attr-defined]
                    _t.sleep(10)
                    t3 = _t.monotonic_ns()
                    print(f"  killed Redis master {master}: next 10 s {_window(tl, t2, t3)}; "
                          f"new master {stack.roles('redis-master')}")
                    stack.start(master)  # type: ignore[attr-defined]
                _t.sleep(2)
                report = gen.stop()
            print(f"  generator: {report}")


def bench_stack_cpu(rate: float, warmup_s: float = 15.0, measure_s: float = 10.0) -> None:
    """Through the real local stack, no faults: CPU per component per answer, and latency."""
    import resource
    import time as _t

    from harness.load import OpenLoopGenerator, RequestMix
    from harness.stack import open_stack
    from harness.timeline import Timeline

    def own_cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    mix = RequestMix.from_questions(ROOT / "fixtures/corpus/questions.jsonl", seed=1)
    tl = Timeline()
    with open_stack(timeline=tl) as stack:
        st = stack.status()
        pids = {s.name: s.pid for s in st.services if s.pid}
        with OpenLoopGenerator(url=st.front_door, api_key=st.api_key, rate=60, mix=mix, seed=2,
                               timeline=Timeline()) as warm:
            _t.sleep(warmup_s)  # fill the cache at a gentle rate
            warm.stop()
        with OpenLoopGenerator(url=st.front_door, api_key=st.api_key, rate=rate, mix=mix,
                               seed=1, timeline=tl) as gen:
            _t.sleep(3)
            c0, s0, t0 = {n: proc_cpu_s(p) for n, p in pids.items()}, own_cpu(), _t.monotonic_ns()
            _t.sleep(measure_s)
            c1, s1, t1 = {n: proc_cpu_s(p) for n, p in pids.items()}, own_cpu(), _t.monotonic_ns()
            report = gen.stop()
    counts = _window(tl, t0, t1)
    n = max(1, counts.get("total", 0))
    cols = tl.requests
    lat = sorted((cols.end_ns[i] - cols.intended_ns[i]) / 1e6 for i in range(len(cols))
                 if t0 <= cols.intended_ns[i] < t1)
    print(f"stack at {rate:.0f}/s for {measure_s:.0f} s (load average {os.getloadavg()[0]:.1f}): "
          f"{counts}; latency from intended send p50 {lat[len(lat) // 2]:.1f} ms, "
          f"p99 {lat[int(len(lat) * 0.99)]:.1f} ms, max {lat[-1]:.1f} ms")
    total = 0.0
    for name in sorted(c0):
        used = c1[name] - c0[name]
        total += used
        print(f"  {name:18s} {used / measure_s * 100:5.1f}% of a core, {used / n * 1000:.3f} ms/answer")
    gen_cpu = s1 - s0
    print(f"  {'load generator':18s} {gen_cpu / measure_s * 100:5.1f}% of a core, "
          f"{gen_cpu / n * 1000:.3f} ms/answer")
    print(f"  whole stack + generator: {(total + gen_cpu) / measure_s * 100:.0f}% of one core; "
          f"{report}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--stack", action="store_true",
                   help="instead, measure fault costs through the real local stack")
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--fault-s", type=float, default=30.0)
    p.add_argument("--warmup-s", type=float, default=20.0)
    p.add_argument("--stack-cpu", type=float, metavar="RATE",
                   help="instead, CPU per component through the real stack at RATE answers/s")
    args = p.parse_args()
    if args.stack_cpu:
        bench_stack_cpu(args.stack_cpu)
        return 0
    if args.stack:
        bench_stack(args.rate, args.fault_s, args.warmup_s)
        return 0
    bench_sim(args.n * 5, args.concurrency)
    bench_app(args.n, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
