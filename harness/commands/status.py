"""``chaos-harness status``: the running stack, service by service (``--json`` for machines)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.stack import attach
from harness.stack.base import StackStatus

__all__ = ["register", "render_status", "run"]

_HEALTH_STYLE = {"up": "green", "down": "red", "paused": "yellow", "stopped": "red"}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "status", help="show the running stack (services, zones, roles, PIDs, health)",
        description="Show the stack started by 'chaos-harness up': every service with its "
                    "zone, address, role, PID and health, the front-door URL and API key.")
    p.add_argument("--run-id", metavar="ID", help="which run (default: the only running one)")
    p.add_argument("--substrate", default="local", choices=("local", "docker"))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--topology", metavar="FILE",
                   help="also write a topology file describing this stack, for '--substrate "
                        "external' (secrets stay in environment variables it names)")
    p.add_argument("--max-rate", type=float, default=1000.0, metavar="RPS",
                   help="with --topology: the file's load limit (default 1000 req/s)")
    p.set_defaults(func=run)


def render_status(status: StackStatus, console: Console | None = None) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
    table = Table(title=f"run {status.run_id} ({status.substrate}, vector tier "
                        f"{status.vector_mode}, zone isolation "
                        f"{'on' if status.zone_isolation else 'off'})")
    for col in ("service", "zone", "address", "role", "pid", "health", "detail"):
        table.add_column(col, no_wrap=col != "detail")
    for s in status.services:
        style = _HEALTH_STYLE.get(s.health, "")
        table.add_row(s.name, s.zone, s.address, s.role, str(s.pid or "-"),
                      f"[{style}]{s.health}[/]" if style else s.health, s.detail)
    console.print(table)
    console.print(f"front door: {status.front_door}   API key: {status.api_key}")
    console.print(f"state dir:  {status.state_dir}")
    for note in status.notes:
        console.print(f"note: {note}")
    verdict = "[green]healthy[/]" if status.healthy else "[red]degraded[/]"
    console.print(f"stack is {verdict}")


def run(args: argparse.Namespace) -> int:
    stack = attach(args.run_id, substrate=args.substrate)
    status = stack.status()
    if args.topology:
        from harness.stack.external import write_topology_file

        secrets = write_topology_file(stack, args.topology, max_rate=args.max_rate)
        print(f"wrote {args.topology}; before using it, set:", file=sys.stderr)
        for name, value in sorted(secrets.items()):
            print(f"  export {name}={value}", file=sys.stderr)
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
    else:
        render_status(status)
    return 0 if status.healthy else 1
