"""How fast are the load tools here? Open-loop generator vs Locust against one endpoint.

    .venv/bin/python tests/benchmarks/bench_load.py                 # starts a tiny server
    .venv/bin/python tests/benchmarks/bench_load.py --url http://10.213.7.1:8080 --api-key K

Without ``--url`` a tiny loopback HTTP server (``tests/support/tinyserver.py``) runs in its own
process, so the figures are about the load tools, not the service. Prints, for the open-loop
generator, at each target rate of a ladder and at ``--rate``: achieved rate, send lateness
p50/p99/max, whether it fell behind, and requests per CPU-second of the generator's process
(its sustainable rate per core); then Locust's best closed-loop rate (``FastHttpUser``,
recording every request), in one process and with ``--workers`` worker processes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from harness.load import LocustDriver, OpenLoopGenerator, RequestMix
from harness.timeline import Timeline

TINYSERVER = Path(__file__).resolve().parents[1] / "support" / "tinyserver.py"
MIX = RequestMix(questions=tuple(f"What does section {i} of the HA guide say?"
                                 for i in range(200)), seed=1)


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@contextlib.contextmanager
def _tiny_server() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, str(TINYSERVER)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise SystemExit(f"tiny server did not start (printed {url!r})")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def open_loop(url: str, api_key: str, rate: float, seconds: float,
              use_uvloop: bool = True) -> dict[str, float]:
    tl = Timeline()
    cpu0, t0 = _cpu_s(), time.monotonic()
    gen = OpenLoopGenerator(url=url, api_key=api_key, rate=rate, mix=MIX, seed=1, timeline=tl,
                            arrivals="poisson", duration_s=seconds, timeout_s=5.0,
                            use_uvloop=use_uvloop)
    gen.start()
    gen.wait(seconds + 30)
    r = gen.stop()
    cpu = _cpu_s() - cpu0
    ok = sum(1 for s in tl.requests.status if 200 <= s < 300)
    return {"target": rate, "achieved": r.achieved_rate, "ok": ok, "sent": r.sent,
            "p50": r.lateness_p50_ms, "p99": r.lateness_p99_ms, "max": r.max_lateness_ms,
            "behind": float(r.fell_behind), "cpu_s": cpu, "wall_s": time.monotonic() - t0,
            "per_core": r.sent / cpu if cpu > 0 else 0.0}


def locust_best(url: str, api_key: str, users: int, workers: int, seconds: float) -> float:
    tl = Timeline()
    d = LocustDriver(url=url, api_key=api_key, mix=MIX, seed=1, timeline=tl, users=users,
                     rate=None, workers=workers, timeout_s=5.0)
    r = d.run(seconds)
    return r.achieved_rate


def _row(d: dict[str, float]) -> str:
    return (f"  target {d['target']:7.0f}/s  achieved {d['achieved']:8.1f}/s  "
            f"lateness p50 {d['p50']:6.2f} p99 {d['p99']:7.2f} max {d['max']:7.1f} ms  "
            f"{'FELL BEHIND' if d['behind'] else 'kept up    '}  "
            f"{d['per_core']:7.0f} req per CPU-second")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="endpoint to load (default: a tiny server in a subprocess)")
    p.add_argument("--api-key", default="bench")
    p.add_argument("--rate", type=float, default=1000.0, help="the fixed target rate")
    p.add_argument("--ladder", default="250,500,1000,2000,3000",
                   help="comma-separated target rates to find the ceiling")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--users", type=int, default=20, help="Locust users")
    p.add_argument("--workers", type=int, default=2, help="Locust worker processes (0: skip)")
    p.add_argument("--no-uvloop", action="store_true", help="plain asyncio event loop")
    args = p.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(_tiny_server())
        print(f"target: {url}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"open-loop generator, fixed target {args.rate:g}/s for {args.seconds:g} s:")
        uv = not args.no_uvloop
        print(_row(open_loop(url, args.api_key, args.rate, args.seconds, uv)))
        print("open-loop generator, ladder:")
        for rate in (float(x) for x in args.ladder.split(",") if x):
            d = open_loop(url, args.api_key, rate, args.seconds, uv)
            print(_row(d))
        print(f"Locust FastHttpUser, closed loop, {args.users} users, {args.seconds:g} s:")
        print(f"  1 process: {locust_best(url, args.api_key, args.users, 0, args.seconds):.0f}"
              " req/s")
        if args.workers:
            best = locust_best(url, args.api_key, args.users, args.workers, args.seconds)
            print(f"  master + {args.workers} workers: {best:.0f} req/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
