"""CPU per answer of one reference-app replica (cache miss and cache hit), and the provider
simulator's CPU per completion and throughput. Real processes on 127.0.0.1. Prints figures.

    .venv/bin/python tests/benchmarks/bench_app_cpu.py [--n 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=8)
    args = p.parse_args()
    bench_sim(args.n * 5, args.concurrency)
    bench_app(args.n, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
