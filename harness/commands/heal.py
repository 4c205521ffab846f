"""``chaos-harness heal``: undo every fault on the running stack.

Reverts the faults ``chaos-harness fault inject`` left injected (verifying recovery), resets
Toxiproxy, clears the provider simulators, and lets the substrate remove our iptables rules,
bring links up, continue paused and restart killed processes.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.commands.fault import append_events, release
from harness.faults import heal_all
from harness.timeline import Timeline

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "heal", help="revert every fault on the running stack",
        description="Revert every fault on the stack started by 'chaos-harness up': recorded "
                    "faults, toxics, provider faults, iptables rules, links, paused or killed "
                    "processes.")
    p.add_argument("--run-id", metavar="ID", help="the stack to heal (default: the only one)")
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.stack import attach

    timeline = Timeline()
    stack = attach(args.run_id, timeline=timeline)
    try:
        what = heal_all(stack, timeline)
    finally:
        append_events(stack.state_dir, timeline)
        release(stack)
    failed = [w for w in what if " failed: " in w or "NOT recovered" in w
              or "not recovered" in w]
    if args.json:
        print(json.dumps({"done": what, "failed": failed}, indent=2))
    elif what:
        print("\n".join(f"- {w}" for w in what))
    else:
        print("nothing to heal")
    return 0 if not failed else 2
