"""``chaos-harness recheck RUN_DIR``: re-analyse a saved run, optionally under a new objective.

Analysis is a pure function of the timeline, so a run saved months ago can be judged again
(``--objective 0.999``, ``--confidence 0.99``, ``--latency-ms 1000``). Prints the verdict and
its reasons; ``--write`` rewrites report.json/.md/.html and junit.xml in place (the timeline is
never changed). Exit code by the new verdict.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.analysis.writes import attach_writes
from harness.cli import EXIT
from harness.errors import ConfigError
from harness.experiment.assemble import (
    RunFacts,
    analyse_run,
    analysis_spec,
    build_report,
    writes_report,
)
from harness.experiment.loader import experiment_from_data
from harness.experiment.model import Experiment
from harness.report.writer import load_report, write_report
from harness.timeline import Timeline

__all__ = ["recheck", "register", "run"]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "recheck", help="re-analyse a saved run (optionally with a different objective)",
        description="Re-analyse reports/<run-id>/timeline.zip and print the verdict; with "
                    "--write, rewrite the report files. Exit code by the verdict.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, e.g. reports/<run-id>")
    p.add_argument("--objective", type=float, default=None,
                   help="availability objective of the first SLO, e.g. 0.999")
    p.add_argument("--confidence", type=float, default=None, help="e.g. 0.99")
    p.add_argument("--latency-ms", type=float, default=None,
                   help="latency threshold of the first SLO in ms")
    p.add_argument("--write", action="store_true", help="rewrite the report files in place")
    p.add_argument("--json", action="store_true", help="print the new report.json")
    p.set_defaults(func=run)


def _experiment(rep: dict[str, Any], tl: Timeline, latency_ms: float | None,
                run_dir: Path) -> Experiment:
    model = tl.meta.get("experiment_model")
    if not isinstance(model, dict):
        raise ConfigError("the saved timeline does not carry its experiment (saved by an older "
                          "harness?)", file=str(run_dir / "timeline.zip"),
                          field="meta.experiment_model")
    if latency_ms is not None:
        model = json.loads(json.dumps(model))
        model["steady_state"]["slos"][0]["latency_threshold_ms"] = latency_ms
    return experiment_from_data(model, file=rep["experiment"].get("file"))


def recheck(run_dir: str | Path, *, objective: float | None = None,
            confidence: float | None = None, latency_ms: float | None = None,
            write: bool = False) -> dict[str, Any]:
    """The re-analysed report (and the files rewritten when ``write``)."""
    d = Path(run_dir)
    rep = load_report(d)
    if rep.get("skipped"):
        return rep
    tl_path = d / (rep["files"].get("timeline") or "timeline.zip")
    if not tl_path.exists():
        raise ConfigError("the run has no saved timeline", file=str(tl_path))
    try:
        tl = Timeline.load(tl_path)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read the timeline: {exc}", file=str(tl_path)) from None
    exp = _experiment(rep, tl, latency_ms, d)
    spec = analysis_spec(exp, objective=objective, confidence=confidence)
    facts = RunFacts(
        run_id=rep["run_id"], experiment=exp, file=rep["experiment"].get("file"),
        seed=rep["seed"], substrate=rep["substrate"], vector_mode=rep["vector_mode"],
        started_at=datetime.fromisoformat(rep["started_at"].replace("Z", "+00:00")),
        duration_s=rep["duration_s"], knobs=rep["knobs"],
        end_reason=rep.get("end_reason") or "completed",
        extra_reasons=tuple(r for r in rep["verdict_reasons"]
                            if r.startswith(("the run was interrupted", "harness error:",
                                             "steady-state check failed"))),
        steady_state=rep.get("steady_state"), stop_condition=rep.get("stop_condition"))
    overall, per_trial = analyse_run(tl, spec)
    new = build_report(facts, overall, per_trial)
    attach_writes(new, writes_report(tl, exp, spec))
    new["rechecked"] = {"objective": spec.primary.objective, "confidence": spec.confidence,
                        "latency_threshold_ms": spec.primary.latency_threshold_ms,
                        "previous_verdict": rep["verdict"]}
    if write:
        write_report(new, directory=d, timeline=tl, save_timeline=False)
    return new


def run(args: argparse.Namespace) -> int:
    new = recheck(args.run_dir, objective=args.objective, confidence=args.confidence,
                  latency_ms=args.latency_ms, write=args.write)
    if args.json:
        print(json.dumps(new, indent=2, default=str))
    else:
        prev = (new.get("rechecked") or {}).get("previous_verdict", new["verdict"])
        print(f"{new['verdict']} ({new['experiment']['name']}, run {new['run_id']}; "
              f"was {prev})")
        for r in new["verdict_reasons"]:
            print(f"  - {r}")
        if args.write:
            print(f"  rewrote {Path(args.run_dir) / 'report.json'}")
    return EXIT[{"PASS": "ok", "FAIL": "fail", "INCONCLUSIVE": "inconclusive"}[new["verdict"]]]
