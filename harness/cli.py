"""``chaos-harness``: a thin adapter. Parse, call, print; exit codes by outcome.

Each subcommand lives in ``harness/commands/<name>.py`` and exposes
``register(subparsers) -> None``; the parser it adds sets ``func=run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from harness.errors import ConfigError, HarnessError, StackError, UnsupportedFault

__all__ = ["EXIT", "main"]

#: Exit codes shared by every subcommand (documented in README.md).
EXIT = {
    "ok": 0,  # success, or verdict PASS
    "fail": 1,  # verdict FAIL / gate violated
    "inconclusive": 2,  # verdict INCONCLUSIVE
    "usage": 3,  # bad input: experiment, policy, option (ConfigError)
    "stack": 4,  # a component would not start or answer (StackError)
    "unsupported": 5,  # the substrate lacks a capability (UnsupportedFault)
    "error": 6,  # any other harness error
    "interrupted": 130,
}

COMMANDS = ("up", "status", "down", "fault", "heal", "knobs", "run", "recheck", "gameday",
            "history", "gate", "locust-worker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaos-harness",
        description="Chaos and HA verification for LangChain services: bring up the reference "
                    "stack, inject faults, measure failover and SLO compliance.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"harness.commands.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:  # a command whose module is not installed
            if exc.name != f"harness.commands.{name.replace('-', '_')}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT["usage"]
    try:
        return int(args.func(args))
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return EXIT["ok"]
    except KeyboardInterrupt:
        print("interrupted: every fault was reverted and the stack torn down", file=sys.stderr)
        return EXIT["interrupted"]
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT["usage"]
    except StackError as exc:
        print(f"stack error: {exc}", file=sys.stderr)
        return EXIT["stack"]
    except UnsupportedFault as exc:
        print(f"unsupported: {exc}", file=sys.stderr)
        return EXIT["unsupported"]
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT["error"]
