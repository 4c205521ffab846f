"""``chaos-harness fault list|inject``: the fault catalog, and one fault against the running
stack (``chaos-harness up``).

``fault inject NAME --for 30s`` injects, verifies, waits, reverts and verifies recovery.
Without ``--for`` the fault stays injected and is recorded in the stack's state dir, so
``chaos-harness heal`` reverts it (from another shell, later). Events of both go to
``<state dir>/faults/events.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from pathlib import Path
from typing import Any

from harness.durations import parse_duration
from harness.errors import ConfigError
from harness.faults import (
    FaultHandle,
    build_fault,
    describe_faults,
    format_fault_list,
    save_record,
)
from harness.timeline import Timeline

__all__ = ["append_events", "parse_params", "register", "release", "run"]

EXIT_OK, EXIT_NOT_LANDED = 0, 2  # 2 = inconclusive (cli.EXIT)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "fault", help="list faults, or inject one into the running stack",
        description="List the fault catalog, or inject one fault into the stack started by "
                    "'chaos-harness up', verified from outside.")
    fsub = p.add_subparsers(dest="fault_command", metavar="ACTION", required=True)
    ls = fsub.add_parser("list", help="names, parameters and substrates of every fault")
    ls.add_argument("--json", action="store_true", help="print the catalog as JSON")
    ls.set_defaults(func=run_list)
    inj = fsub.add_parser(
        "inject", help="inject a fault and print how it was verified",
        description="Inject NAME into the running stack. With --for, revert after DURATION; "
                    "without, leave it injected for 'chaos-harness heal'.")
    inj.add_argument("name", metavar="NAME", help="fault name ('chaos-harness fault list')")
    inj.add_argument("--target", metavar="SEL",
                     help="services: all | zone=az-b | service=app-az-a | role=redis-master")
    inj.add_argument("--param", action="append", default=[], metavar="K=V",
                     help="fault parameter (repeatable), e.g. --param rate=0.5")
    inj.add_argument("--for", dest="duration", metavar="DURATION",
                     help="revert after this long (e.g. 30s, 500ms); default: leave injected")
    inj.add_argument("--run-id", metavar="ID", help="the stack to use (default: the only one)")
    inj.add_argument("--id", dest="fault_id", metavar="ID", help="fault id (default: random)")
    inj.add_argument("--json", action="store_true", help="print the result as JSON")
    inj.set_defaults(func=run)


def parse_params(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--param takes K=V", field="--param", value=item)
        out[key.strip()] = value.strip()
    return out


def run_list(args: argparse.Namespace) -> int:
    infos = describe_faults()
    if args.json:
        print(json.dumps([i.to_json() for i in infos], indent=2))
    else:
        print(format_fault_list(infos))
    return EXIT_OK


def append_events(state_dir: str | Path, timeline: Timeline) -> Path:
    """Append the timeline's events to ``<state dir>/faults/events.jsonl``."""
    path = Path(state_dir) / "faults" / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for ev in timeline.events:
            f.write(json.dumps(ev.to_json(), default=str) + "\n")
    return path


def release(stack: Any) -> None:
    """Processes this command (re)started belong to the stack, not to this process."""
    detach = getattr(stack, "detach", None)
    if callable(detach):
        detach()


def _print(handle: FaultHandle, as_json: bool, *, reverted: bool) -> None:
    if as_json:
        print(json.dumps(handle.to_json(), indent=2, default=str))
        return
    state = "LANDED" if handle.landed else "NOT LANDED"
    print(f"{handle.fault.name} {handle.fault_id}: {state} on {', '.join(handle.services)} "
          f"(verified in {handle.verify_s or 0:.2f}s)")
    print(f"  verification: {handle.detail}")
    if reverted:
        back = "RECOVERED" if handle.recovered else "NOT RECOVERED"
        print(f"  reverted: {back} in {handle.recover_s or 0:.2f}s: {handle.recover_detail}")


def run(args: argparse.Namespace) -> int:
    from harness.stack import attach

    fault = build_fault(args.name, target=args.target, params=parse_params(args.param),
                        field="fault inject")
    duration = None if args.duration is None else parse_duration(args.duration, field="--for")
    fault_id = args.fault_id or f"cli-{secrets.token_hex(3)}"
    timeline = Timeline()
    stack = attach(args.run_id, timeline=timeline)
    try:
        if duration is not None:
            with fault.applied(stack, timeline, fault_id=fault_id) as handle:
                if not args.json:
                    print(f"{fault.name} {fault_id} injected; reverting in {duration:g}s "
                          "(Ctrl-C reverts now)")
                time.sleep(duration)
            _print(handle, args.json, reverted=True)
            ok = handle.landed and bool(handle.recovered)
        else:
            handle = fault.start(stack, timeline, fault_id=fault_id)
            save_record(stack, handle)
            handle.injection.wait_timers()
            _print(handle, args.json, reverted=False)
            if not args.json:
                print(f"  left injected; revert with: chaos-harness heal "
                      f"--run-id {stack.topology.run_id}")
            ok = handle.landed
    finally:
        append_events(stack.state_dir, timeline)
        release(stack)
    return EXIT_OK if ok else EXIT_NOT_LANDED
