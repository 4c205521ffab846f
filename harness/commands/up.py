"""``chaos-harness up``: start the reference stack, wait until ready, leave it running.

The stack keeps running after this command exits; ``chaos-harness status`` shows it and
``chaos-harness down`` removes it. Ctrl-C or SIGTERM while starting tears down what was started.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.errors import StackError
from harness.knobs import parse_assignment
from harness.stack import Stack, available_substrates

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "up", help="start the reference HA stack and leave it running",
        description="Start the reference HA stack (3 zones: app replicas, Redis + Sentinel, "
                    "Qdrant when available; HAProxy, Toxiproxy and provider simulators), wait "
                    "until it is ready, print its status and leave it running.")
    p.add_argument("--substrate", default="local", choices=("local", "docker"))
    p.add_argument("--set", dest="knobs", action="append", default=[], metavar="KNOB=VALUE",
                   help="override a knob (repeatable); 'chaos-harness knobs' lists them")
    p.add_argument("--run-id", metavar="ID", help="run id (default: random short hex)")
    p.add_argument("--timeout", type=float, default=90.0, metavar="S",
                   help="seconds to wait for readiness (90)")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    knobs = dict(parse_assignment(a) for a in args.knobs)
    from harness.stack.signals import interrupts_as_keyboard

    stack: Stack
    with interrupts_as_keyboard():
        if args.substrate == "docker":
            problem = available_substrates()["docker"]
            if problem:
                raise StackError(f"the docker substrate cannot run here: {problem}",
                                 component="docker", hint="use --substrate local")
            from harness.stack.docker import start_docker_stack

            stack = start_docker_stack(knobs=knobs, run_id=args.run_id,
                                       ready_timeout=args.timeout)
        else:
            from harness.stack.local.lifecycle import start_local_stack

            local = start_local_stack(knobs=knobs, run_id=args.run_id,
                                      ready_timeout=args.timeout)
            try:
                local.hand_over()
            except BaseException:
                local.down()
                raise
            stack = local
    status = stack.status()
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
    else:
        from harness.commands.status import render_status

        render_status(status)
        print(f"stop it with: chaos-harness down --substrate {args.substrate} "
              f"--run-id {status.run_id}")
    return 0
