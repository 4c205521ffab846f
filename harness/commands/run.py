"""``chaos-harness run EXPERIMENT...``: run experiments, write reports, exit by verdict.

Every file is loaded and checked before anything starts (a bad file exits 3 and starts no
stack). Each experiment gets its own stack unless ``--attach`` uses the one ``chaos-harness up``
started (experiments whose knobs differ from that stack's are refused). Exit code: the worst
verdict over all experiments (0 PASS, 1 FAIL, 2 INCONCLUSIVE or skipped), 130 on Ctrl-C after
every fault was reverted and every stack torn down.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.cli import EXIT
from harness.errors import ConfigError
from harness.experiment.loader import load_experiment
from harness.experiment.model import Experiment
from harness.knobs import parse_assignment, resolve_knobs

__all__ = ["register", "run"]

_QUICK_SCALE = 0.25


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "run", help="run experiments and write their reports",
        description="Run experiment files (or directories of them) against a fresh stack and "
                    "write reports/<run-id>/ (report.json, report.md, report.html, junit.xml, "
                    "timeline.zip). Exit code: 0 PASS, 1 FAIL, 2 INCONCLUSIVE or skipped.")
    p.add_argument("experiments", nargs="+", metavar="EXPERIMENT",
                   help="experiment YAML files or directories (e.g. experiments/)")
    p.add_argument("--substrate", default="local", choices=("local", "docker", "external"),
                   help="where the stack runs (default: local); external: a deployment the "
                        "harness did not start, described by --topology")
    p.add_argument("--topology", metavar="FILE",
                   help="with --substrate external: the topology file (docs/external.md)")
    p.add_argument("--yes-touch-external", action="store_true",
                   help="with --substrate external: confirm that faults and load may touch "
                        "the deployment (without it the run shows what it would touch and "
                        "stops)")
    p.add_argument("--report-dir", default="reports", metavar="DIR",
                   help="reports go to DIR/<run-id>/ (default: reports)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed for load arrivals and the fault schedule (default: the file's, "
                        "else random; always recorded in the report)")
    p.add_argument("--set", dest="knobs", action="append", default=[], metavar="KNOB=VALUE",
                   help="override a knob for every experiment, e.g. --set haproxy.retries=0 "
                        "(repeatable; 'chaos-harness knobs' lists them)")
    p.add_argument("--trials", type=int, default=None, help="override the number of trials")
    p.add_argument("--rate", type=float, default=None, help="override the load rate (req/s)")
    p.add_argument("--quick", action="store_true",
                   help=f"scale every duration by {_QUICK_SCALE} (a smoke run; too few "
                        "requests for a conclusive 99.99%% verdict)")
    p.add_argument("--attach", action="store_true",
                   help="use the stack started by 'chaos-harness up' instead of a fresh one")
    p.add_argument("--run-id", default=None, metavar="ID",
                   help="with --attach: which running stack")
    p.add_argument("--no-live", action="store_true",
                   help="plain progress lines instead of the live display")
    p.add_argument("--json", action="store_true",
                   help="print a JSON summary (one object per experiment) on stdout")
    p.set_defaults(func=run)


def prepare(args: argparse.Namespace) -> list[tuple[Experiment, str]]:
    """Load, check and override every experiment before anything starts."""
    knobs = dict(parse_assignment(a) for a in args.knobs)
    resolve_knobs(knobs, field_prefix="--set")
    if args.trials is not None and not 1 <= args.trials <= 100:
        raise ConfigError("--trials must be between 1 and 100", field="--trials",
                          value=args.trials)
    if args.rate is not None and not 0 < args.rate <= 20_000:
        raise ConfigError("--rate must be in (0, 20000]", field="--rate", value=args.rate)
    out = []
    for file in _files(args.experiments):
        exp = load_experiment(file).with_overrides(
            knobs=knobs or None, seed=args.seed, trials=args.trials, rate=args.rate,
            duration_scale=_QUICK_SCALE if args.quick else None,
            min_warmup=5.0 if args.quick else None)
        out.append((exp, file))
    return out


def _files(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = [str(f) for f in sorted(p.glob("*.yaml")) if not f.name.startswith("gameday")]
            if not found:
                raise ConfigError("no experiment files in directory", file=str(p),
                                  allowed="a directory of *.yaml experiments")
            out.extend(found)
        else:
            out.append(str(p))
    return out


def _progress(args: argparse.Namespace) -> Any:
    from contextlib import nullcontext

    from harness.experiment.progress import LiveDisplay, log_progress

    if args.no_live or args.json or not sys.stderr.isatty():
        return nullcontext(log_progress(sys.stderr))
    return LiveDisplay()


def run(args: argparse.Namespace) -> int:
    plan = prepare(args)
    if args.substrate == "external":
        return _run_external(args, plan)
    if args.topology or args.yes_touch_external:
        raise ConfigError("--topology and --yes-touch-external go with --substrate external",
                          field="--substrate", value=args.substrate, allowed="external")
    stack = None
    if args.attach:
        from harness.stack import attach

        stack = attach(args.run_id, substrate=args.substrate)
    return _run_all(args, plan, stack)


def _run_external(args: argparse.Namespace, plan: list[tuple[Experiment, str]]) -> int:
    """Every experiment against the deployment the topology file describes (never started or
    stopped by the harness); each run is admitted first (see harness.stack.external.safety)."""
    from harness.experiment.checks import build_faults
    from harness.stack.external import open_external_stack
    from harness.stack.external.safety import touch_plan

    if not args.topology:
        raise ConfigError("--substrate external needs --topology FILE", field="--topology",
                          allowed="a topology file (chaos-harness status --topology FILE "
                                  "writes one for a local stack)")
    with open_external_stack(args.topology, confirmed=args.yes_touch_external) as stack:
        for exp, file in plan:
            lines = touch_plan(stack, exp, build_faults(exp, file=file))
            print(f"{exp.name} will touch:\n  " + "\n  ".join(lines), file=sys.stderr)
        return _run_all(args, plan, stack)


def _run_all(args: argparse.Namespace, plan: list[tuple[Experiment, str]], stack: Any) -> int:
    from harness.analysis.verdict import combine
    from harness.experiment.runner import run_experiment

    verdicts: list[str] = []
    summary: list[dict[str, Any]] = []
    for exp, file in plan:
        with _progress(args) as progress:
            result = run_experiment(exp, file=file, stack=stack, substrate=args.substrate,
                                    report_dir=args.report_dir, progress=progress)
        verdict = "INCONCLUSIVE" if result.skipped else result.verdict
        verdicts.append(verdict)
        summary.append({"experiment": exp.name, "run_id": result.run_id, "verdict": verdict,
                        "skipped": result.skipped, "reasons": list(result.reasons),
                        "report": str(result.files.html)})
        if not args.json:
            _print_result(exp, result)
    if args.json:
        print(json.dumps(summary, indent=2))
    worst = combine(verdicts)  # never empty: the CLI takes one experiment at least
    return EXIT[{"PASS": "ok", "FAIL": "fail", "INCONCLUSIVE": "inconclusive"}[worst]]


def _print_result(exp: Experiment, result: Any) -> None:
    from rich.console import Console

    con = Console()
    color = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow"}[result.verdict]
    label = "SKIPPED" if result.skipped else result.verdict
    con.print(f"[bold {color}]{label}[/] {exp.name}  ({result.run_id})")
    for r in result.reasons[:6]:
        con.print(f"  - {r}", highlight=False)
    con.print(f"  report: {result.files.html}", highlight=False)
