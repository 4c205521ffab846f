"""``chaos-harness gameday PLAN``: run a game-day plan; ``--random``: a randomised game day.

The last line printed (stdout) is the path of the game-day HTML report. Exit codes: the game
day's combined verdict (0 PASS, 1 FAIL, 2 INCONCLUSIVE), 3 bad plan/option, 4 the shared stack
would not start; with ``--random``: 1 when an invariant broke (a minimal failing experiment was
saved), 0 when none did.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

from harness.cli import EXIT
from harness.errors import ConfigError
from harness.history.store import ENV_VAR
from harness.knobs import parse_assignment, resolve_knobs

__all__ = ["register", "run"]

VERDICT_EXIT = {"PASS": EXIT["ok"], "FAIL": EXIT["fail"], "INCONCLUSIVE": EXIT["inconclusive"]}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "gameday", help="run a game-day plan (or --random: search fault schedules)",
        description="Run the experiments of a game-day plan against one shared stack and write "
                    "one game-day report (docs/gameday.md). With --random, draw fault schedules "
                    "with Hypothesis, check invariants and shrink a failure to a replayable "
                    "experiment.")
    p.add_argument("plan", nargs="?", metavar="PLAN", help="game-day plan YAML")
    p.add_argument("--report-dir", default="reports", metavar="DIR",
                   help="where reports go (default: reports)")
    p.add_argument("--history", metavar="PATH",
                   help=f"history database (default ${ENV_VAR} or reports/history.sqlite)")
    p.add_argument("--substrate", choices=("local", "docker", "external"),
                   help="override the plan's substrate")
    p.add_argument("--topology", metavar="FILE",
                   help="with substrate external: the topology file (docs/external.md)")
    p.add_argument("--yes-touch-external", action="store_true",
                   help="with substrate external: confirm that runs may touch the deployment")
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="override the time budget (plan: skip experiments that would overrun; "
                        "--random: stop exploring/shrinking)")
    p.add_argument("--on-failure", choices=("continue", "stop"), help="override the plan's")
    p.add_argument("--check", action="store_true",
                   help="validate the plan and every experiment in it, print the schedule, exit")
    r = p.add_argument_group("randomised game day (--random)")
    r.add_argument("--random", action="store_true", help="randomised game day")
    r.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE",
                   help="knob override for the stack, e.g. app.fallback_enabled=false")
    r.add_argument("--faults", metavar="A,B", help="draw only these faults")
    r.add_argument("--invariants", default="slo,writes,reverted", metavar="A,B",
                   help="slo, writes, reverted (default: all)")
    r.add_argument("--examples", type=int, default=6, help="schedules to generate (6)")
    r.add_argument("--max-faults", type=int, default=2, help="faults per schedule (2)")
    r.add_argument("--window", type=float, default=10.0, metavar="SECONDS",
                   help="faults happen inside this window (10)")
    r.add_argument("--rate", type=float, default=40.0, help="load, requests/s (40)")
    r.add_argument("--seed", type=int, help="seed (default: random, printed)")
    p.set_defaults(func=run)


def _external_env(args: argparse.Namespace) -> None:
    """The external substrate finds its file and confirmation in the environment, so the
    game-day runner opens it like any other substrate (harness.stack.open_stack)."""
    import os

    from harness.stack import CONFIRM_ENV, TOPOLOGY_ENV

    if args.topology:
        os.environ[TOPOLOGY_ENV] = args.topology
    if args.yes_touch_external:
        os.environ[CONFIRM_ENV] = "1"


def run(args: argparse.Namespace) -> int:
    _external_env(args)
    if args.random:
        return _run_random(args)
    if not args.plan:
        raise ConfigError("a plan file is required (or --random)", field="PLAN",
                          allowed="e.g. experiments/gameday.yaml")
    from dataclasses import replace

    from harness.gameday import load_plan, run_gameday

    plan = load_plan(args.plan)
    if args.substrate:
        plan = replace(plan, substrate=args.substrate)
    if args.budget is not None:
        plan = replace(plan, budget_s=args.budget)
    if args.on_failure:
        plan = replace(plan, on_failure=args.on_failure)
    if args.check:
        for e in plan.entries:
            print(f"{e.index + 1}. {e.name}: {e.experiment.trials} trial(s) at "
                  f"{e.experiment.load.rate:g} req/s, planned {e.planned_s:.0f} s, "
                  f"{e.planned_requests} requests, {e.experiment.planned_judged_requests} "
                  "judged (fault-anchored window)"
                  + (" (own stack: different knobs)" if e.dedicated_knobs else ""))
        budget = f" of a {plan.budget_s:.0f} s budget" if plan.budget_s else ""
        print(f"plan {plan.name}: {len(plan.entries)} experiments, ~{plan.planned_s:.0f} s "
              f"planned{budget}")
        return EXIT["ok"]
    files = run_gameday(plan, report_dir=args.report_dir, history=args.history)
    print(files.markdown)
    print(f"game day {files.result.verdict}: {files.result.counts()}")
    print(files.html)
    if files.stack_error:
        print(f"stack error: {files.stack_error}", file=sys.stderr)
        return EXIT["stack"]
    if any(o.reason.startswith("internal error") for o in files.result.outcomes):
        return EXIT["error"]
    return VERDICT_EXIT[files.result.verdict]


def _run_random(args: argparse.Namespace) -> int:
    from harness.gameday.random import INVARIANTS, RandomConfig, random_gameday, save_replay
    from harness.gameday.random.report import render_random_html, render_random_markdown
    from harness.gameday.runner import make_gameday_id
    from harness.stack import open_stack

    raw = dict(parse_assignment(a) for a in args.set)
    resolved = resolve_knobs(raw, field_prefix="--set")
    knobs = {k: resolved[k] for k in raw}  # typed values (false, not 'false')
    invariants = tuple(i.strip() for i in args.invariants.split(",") if i.strip())
    bad = sorted(set(invariants) - set(INVARIANTS))
    if bad or not invariants:
        raise ConfigError("unknown invariant", field="--invariants", value=bad or args.invariants,
                          allowed=INVARIANTS)
    for name, value, lo in (("--examples", args.examples, 1), ("--max-faults", args.max_faults, 1),
                            ("--window", args.window, 2), ("--rate", args.rate, 1)):
        if value < lo:
            raise ConfigError("too small", field=name, value=value, allowed=f">= {lo}")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    cfg = RandomConfig(seed=seed, knobs=knobs, invariants=invariants,
                       faults=tuple(f.strip() for f in args.faults.split(",")) if args.faults
                       else None, window_s=args.window, rate=args.rate,
                       max_faults=args.max_faults, examples=args.examples,
                       max_duration_s=min(6.0, args.window / 2),
                       budget_s=args.budget if args.budget is not None else 900.0)
    gid = make_gameday_id("random")
    directory = Path(args.report_dir) / gid

    def say(text: str) -> None:
        print(f"[gameday --random] {text}", file=sys.stderr, flush=True)

    say(f"seed {seed}; bringing up the {args.substrate or 'local'} stack with knobs "
        f"{knobs or 'defaults'}")
    with open_stack(substrate=args.substrate or "local", knobs=knobs, run_id=gid) as stack:
        outcome = random_gameday(stack, cfg, report_dir=directory, say=say)
    replay = save_replay(outcome, cfg, directory=directory, name=f"{gid}-minimal")
    md = render_random_markdown(outcome, cfg, base=directory, replay=replay)
    (directory / "random.md").write_text(md, encoding="utf-8")
    html = directory / "random.html"
    html.write_text(render_random_html(md), encoding="utf-8")
    if replay:
        print(f"minimal failing experiment: {replay}")
    print(f"randomised game day: {len(outcome.examples)} schedules, "
          f"{'FAILURE FOUND' if outcome.found else 'no invariant broken'}")
    print(html)
    return EXIT["fail"] if outcome.found else EXIT["ok"]
