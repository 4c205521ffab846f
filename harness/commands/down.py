"""``chaos-harness down``: stop a stack and remove every trace of it.

Also reaps stale runs (their harness died without cleaning up). Leaves no process, namespace,
link, iptables rule or state directory of the run behind, and checks that it did not.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.errors import StackError
from harness.stack.local.record import RunStore
from harness.stack.local.verify import leftovers

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "down", help="stop the stack and remove everything it created",
        description="Stop the stack started by 'chaos-harness up' (and reap runs whose harness "
                    "died), leaving no processes, namespaces, links or iptables rules.")
    p.add_argument("--run-id", metavar="ID", help="which run (default: the only running one)")
    p.add_argument("--all", action="store_true",
                   help="every run of ours, also ones a live harness process still owns")
    p.add_argument("--stale", action="store_true",
                   help="only reap runs whose harness died; leave live stacks alone")
    p.add_argument("--substrate", default="local", choices=("local", "docker"))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.substrate == "docker":
        from harness.stack import attach

        stack = attach(args.run_id, substrate="docker")
        stack.down()
        print(f"run {stack.topology.run_id}: stopped (docker compose down)")
        return 0
    store = RunStore()
    removed: dict[str, list[str]] = {}
    keys: dict[str, str] = {}
    for rec in store.all():
        if rec.stale:
            removed[rec.run_id] = store.teardown(rec)
            keys[rec.run_id] = rec.key
    candidates = [] if args.stale else [r for r in store.all() if args.all or (
        r.detached if args.run_id is None else args.run_id in (r.run_id, r.key))]
    if args.stale and (args.all or args.run_id):
        raise StackError("--stale reaps only dead runs; it does not combine with --all or "
                         "--run-id", component="local")
    if args.run_id is None and not args.all and len(candidates) > 1:
        raise StackError(f"several stacks are running ({[r.run_id for r in candidates]}); "
                         f"expected one", component="local",
                         hint="pass --run-id ID, or --all to stop every one")
    if args.run_id and not candidates and not removed:
        raise StackError(f"no run with id {args.run_id!r} (expected one of "
                         f"{[r.run_id for r in store.all()] or 'none'})", component="local")
    for rec in candidates:
        removed[rec.run_id] = store.teardown(rec)
        keys[rec.run_id] = rec.key
    left = {run_id: leftovers(key) for run_id, key in keys.items()}
    left = {k: v for k, v in left.items() if v}
    if args.json:
        print(json.dumps({"removed": removed, "leftovers": left}, indent=2))
    else:
        if not removed:
            print("nothing to stop: no stack of ours is running")
        for run_id, what in removed.items():
            print(f"run {run_id}: stopped ({len(what)} actions)")
        for run_id, what in left.items():
            print(f"run {run_id}: LEFT BEHIND: {what}")
    return 1 if left else 0
