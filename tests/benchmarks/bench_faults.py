"""Fault inject/verify and revert/recover latencies on the real local stack. Prints figures.

For each fault: ``inject+verify`` = from ``fault.inject`` to ``fault.verified`` (the effect seen
from outside), ``verify`` = the polling part alone, ``recover`` = from ``fault.revert`` to
``fault.reverted`` (processes back and answering, replicas linked, toxics gone...). The stack is
healed and must be ready between trials.

    .venv/bin/python tests/benchmarks/bench_faults.py [--trials 3] [--only kill,pause]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from harness.faults import build_fault, heal_all
from harness.stack import open_stack
from harness.timeline import Timeline

CASES: list[tuple[str, str | None, dict[str, Any], float]] = [
    # name, target, params, seconds held
    ("pause", "service=sentinel-az-c", {}, 0.5),
    ("kill", "service=haproxy", {}, 0.5),
    ("kill", "service=app-az-a", {}, 0.5),
    ("redis-master-loss", None, {}, 5.0),
    ("redis-master-loss", None, {"mode": "isolate"}, 5.0),
    ("zone-isolate", "zone=az-c", {}, 1.0),
    ("zone-power", "role=redis-master", {}, 5.0),
    ("partition", None, {"a": "az-a", "b": "az-b"}, 0.5),
    ("packet-loss", None, {"place": "az-b", "rate": 0.3}, 0.5),
    ("latency", "role=redis-master", {"latency_ms": 100}, 0.5),
    ("proxy-down", None, {"proxy": "provider-primary"}, 0.5),
    ("provider-5xx", None, {"rate": 0.5}, 0.5),
]


def _ms(events: Any, a: str, b: str) -> float:
    t = {e.kind: e.t_ns for e in events}
    return (t[b] - t[a]) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated fault names")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    rows = []
    with open_stack(substrate="local", ready_timeout=120.0) as stack:
        for name, target, params, hold in CASES:
            if only and name not in only:
                continue
            inj, ver, rec, landed, recovered = [], [], [], 0, 0
            for i in range(args.trials):
                tl = Timeline()
                fault = build_fault(name, target=target, params=params)
                with fault.applied(stack, tl, fault_id=f"b{i}") as h:
                    time.sleep(hold)
                landed += h.landed
                recovered += bool(h.recovered)
                inj.append(_ms(tl.events, "fault.inject", "fault.verified"))
                ver.append((h.verify_s or 0) * 1e3)
                rec.append(_ms(tl.events, "fault.revert", "fault.reverted"))
                heal_all(stack, None)
                stack.wait_ready(90.0)
            label = f"{name} {target or ''} {params or ''}".strip()
            rows.append((label, landed, recovered, args.trials, inj, ver, rec))
            print(f"{label}: landed {landed}/{args.trials}, recovered {recovered}/{args.trials}; "
                  f"inject+verify ms median {statistics.median(inj):.0f} max {max(inj):.0f}; "
                  f"verify ms median {statistics.median(ver):.0f}; recover ms median "
                  f"{statistics.median(rec):.0f} max {max(rec):.0f}", flush=True)
    print("\n| fault | landed | recovered | inject+verify ms (median / max) | "
          "recover ms (median / max) |")
    print("|---|---|---|---|---|")
    for label, landed, recovered, n, inj, _ver, rec in rows:
        print(f"| {label} | {landed}/{n} | {recovered}/{n} | {statistics.median(inj):.0f} / "
              f"{max(inj):.0f} | {statistics.median(rec):.0f} / {max(rec):.0f} |")


if __name__ == "__main__":
    main()
