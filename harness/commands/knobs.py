"""``chaos-harness knobs``: the reference stack's resilience knobs, their defaults and limits."""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.knobs import KNOBS

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "knobs", help="list the knobs experiments and --set can override",
        description="Every resilience knob of the reference stack: name, default, allowed values, "
                    "and the RAG_* variable an app knob becomes. Override them with --set "
                    "KNOB=VALUE or an experiment's stack.knobs.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _fmt(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def run(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps([{"name": k.name, "type": k.type.__name__, "default": k.default,
                           "allowed": k.allowed(), "env": k.env, "help": k.help}
                          for k in KNOBS.values()], indent=2))
        return 0
    width = max(len(k) for k in KNOBS)
    component = ""
    for k in KNOBS.values():
        if k.component != component:
            component = k.component
            print(f"[{component}]")
        env = f"  ({k.env})" if k.env else ""
        print(f"  {k.name:<{width}}  default {_fmt(k.default):<22} {k.allowed()}{env}")
        print(f"  {'':<{width}}  {k.help}")
    return 0
