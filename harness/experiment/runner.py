"""The runner: the only orchestrator. Stack -> observers -> load -> warm-up -> steady-state
check -> method (trials) -> recovery -> analysis -> report.

Guarantees: every fault is reverted and ``heal_all`` runs on success, failure, stop condition,
harness error, Ctrl-C and SIGTERM; a stack the runner opened is torn down; the timeline and a
report are written even for a run that ended early (its verdict is then never PASS). After
writing the report of an interrupted run the runner re-raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import random
import re
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.analysis.writes import attach_writes
from harness.errors import ConfigError, HarnessError, UnsupportedFault
from harness.experiment.assemble import (
    RunFacts,
    analyse_run,
    analysis_spec,
    build_report,
    skipped_report,
    writes_report,
)
from harness.experiment.checks import build_faults
from harness.experiment.load import make_generator, make_writer
from harness.experiment.method import Clock, StopConditionHit, StopMonitor, run_trial
from harness.experiment.model import Experiment
from harness.experiment.progress import Progress, ProgressFn
from harness.experiment.steady import steady_state_check
from harness.knobs import resolve_knobs
from harness.report.writer import ReportFiles, write_report
from harness.timeline import Timeline

__all__ = ["ExperimentResult", "make_run_id", "run_experiment"]

SOURCE = "runner"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentResult:
    run_id: str
    verdict: str  # PASS | FAIL | INCONCLUSIVE
    reasons: tuple[str, ...]
    skipped: str | None  # the reason, when the experiment could not run on this substrate
    report: dict[str, Any]
    files: ReportFiles

    @property
    def directory(self) -> Path:
        return self.files.directory


def make_run_id(name: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())[:40]}-{secrets.token_hex(2)}"


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt like SIGINT does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _shielded() -> Iterator[None]:
    """Cleanup must finish: a second Ctrl-C/SIGTERM during it is ignored (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    prev = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in prev.items():
            signal.signal(s, h)


class _Run:
    """One execution; holds what the report needs whatever way the run ends."""

    def __init__(self, exp: Experiment, *, seed: int, run_id: str, timeline: Timeline,
                 progress: ProgressFn | None, file: str | None = None) -> None:
        self.exp, self.seed, self.run_id, self.tl = exp, seed, run_id, timeline
        self.file = file
        self.progress = progress
        self.end_reason = "completed"
        self.extra: list[str] = []
        self.steady: dict[str, Any] | None = None
        self.steady_after: dict[str, Any] | None = None
        self.stop: dict[str, Any] | None = None
        self.started = time.monotonic()
        self.facts: dict[str, Any] = {"substrate": "unknown", "vector_mode": "unknown"}
        self.skipped: UnsupportedFault | None = None
        self.interrupted: KeyboardInterrupt | None = None
        self.method_started = False

    def drive(self, stack: Any, substrate: str, faults: list[Any], es: ExitStack) -> None:
        """Stack ready -> capability check -> execute -> heal (stack teardown is ``es``)."""
        self.facts["substrate"] = substrate
        self.note("starting", f"bringing up the {substrate} stack" if stack is None else "")
        if stack is None:
            stack = es.enter_context(_open(substrate, self.exp, self.run_id, self.tl))
        else:  # a shared stack may still be settling after the previous experiment
            stack.wait_ready(self.exp.stack.ready_timeout)
        self.facts = {"substrate": stack.name, "vector_mode": stack.topology.vector_mode}
        admit = getattr(stack, "admit", None)  # external: confirmation, rate cap, stop conditions
        if callable(admit):
            admit(self.exp, faults)
        try:
            for f in faults:
                f.check_supported(stack)
        except UnsupportedFault as exc:
            self.skipped = exc
            return
        self.method_started = True
        try:
            self.execute(stack, faults)
        finally:
            with _shielded():
                _heal(stack, self.tl)
                if self.exp.load.writes is not None:  # acknowledged writes, after the heal
                    _read_back(stack, self.tl, self.exp)

    def note(self, phase: str, note: str = "") -> None:
        if self.progress is not None:
            self.progress(Progress(experiment=self.exp.name, run_id=self.run_id, phase=phase,
                                   trial=0, trials=self.exp.trials,
                                   elapsed_s=time.monotonic() - self.started,
                                   planned_s=self.exp.planned_s, note=note))

    def execute(self, stack: Any, faults: list[Any]) -> None:
        from harness.probes import Observers

        exp, tl = self.exp, self.tl
        tl.add_event("run.start", SOURCE, experiment=exp.name, seed=self.seed, trial=0,
                     run_id=self.run_id)
        with ExitStack() as es:
            es.enter_context(Observers(stack, tl))
            gen = make_generator(exp, stack=stack, timeline=tl, seed=self.seed, file=self.file,
                                 run_id=self.run_id)
            gen.start()
            es.callback(gen.stop)
            writer = make_writer(exp, stack=stack, timeline=tl, seed=self.seed)
            if writer is not None:
                writer.start()
                es.callback(writer.stop)
            clock = Clock(experiment=exp, run_id=self.run_id, trials=exp.trials,
                          started=self.started, live=_live(gen), progress=self.progress,
                          monitor=StopMonitor(exp.stop_conditions))
            self._phases(stack, faults, clock)

    def _phases(self, stack: Any, faults: list[Any], clock: Clock) -> None:
        exp, tl = self.exp, self.tl
        clock.phase = "warmup"
        tl.add_event("phase", SOURCE, name="warmup", trial=0)
        clock.wait_until(time.monotonic() + exp.load.warmup)
        clock.phase = "steady"
        t0 = tl.add_event("phase", SOURCE, name="steady", trial=0).t_ns
        clock.wait_until(time.monotonic() + exp.steady_state.duration)
        self.steady = steady_state_check(tl, exp, window=(t0, time.monotonic_ns()))
        tl.add_event("steady_state", SOURCE, phase="before", ok=self.steady["ok"],
                     detail=self.steady["detail"])
        if not self.steady["ok"]:
            self.end_reason = "steady-state-failed"
            self.extra.append(f"steady-state check failed before the method "
                              f"({self.steady['detail']}); the method was skipped")
            return
        try:
            for trial in range(1, exp.trials + 1):
                run_trial(trial=trial, schedule=exp.schedule(self.seed, trial), faults=faults,
                          stack=stack, timeline=tl, clock=clock, trial_s=exp.trial_s,
                          recovery_s=exp.recovery)
            self._steady_after(clock)
        except StopConditionHit as hit:
            self.end_reason = "stop-condition"
            self.stop = {"at_s": round(time.monotonic() - self.started, 3),
                         "bad_fraction": round(hit.bad_fraction, 6),
                         "window_s": round(hit.window_s, 3), "condition": str(hit)}
            tl.add_event("stop_condition", SOURCE, condition=str(hit),
                         bad_fraction=hit.bad_fraction, window_s=hit.window_s)
        finally:
            tl.add_event("phase", SOURCE, name="done", trial=0)


    def _steady_after(self, clock: Clock) -> None:
        """The steady-state hypothesis again, after the last recovery: did the stack come back?"""
        exp, tl = self.exp, self.tl
        clock.phase = "steady-after"
        t0 = tl.add_event("phase", SOURCE, name="steady_after", trial=0).t_ns
        clock.wait_until(time.monotonic() + exp.steady_state.after)
        check = steady_state_check(tl, exp, window=(t0, time.monotonic_ns()))
        window_s = round((time.monotonic_ns() - t0) / 1e9, 3)
        self.steady_after = {**check, "window_s": window_s}
        tl.add_event("steady_state", SOURCE, phase="after", ok=check["ok"],
                     detail=check["detail"], window_s=window_s)


def _live(gen: Any) -> Any:
    live = getattr(gen, "live", None)

    def sample() -> tuple[int, int, int]:
        if live is None:
            return 0, 0, 0
        s = live()
        return int(s.sent), int(s.errors), int(getattr(s, "dropped", 0))

    return sample


def _check_shared_stack(stack: Any, exp: Experiment, file: str | None) -> None:
    wanted = resolve_knobs(exp.stack.knobs, file=file)
    have = dict(getattr(stack, "knobs", {}) or {})
    diff = {k: v for k, v in wanted.items() if k in have and have[k] != v}
    if diff:
        raise ConfigError(
            "this experiment needs knob values the running stack was not started with",
            file=file, field="stack.knobs", value=diff,
            allowed="run it on its own stack (no stack passed in), or start the stack with "
                    "these knobs")


def _read_back(stack: Any, tl: Timeline, exp: Experiment) -> None:
    from harness.load.readback import read_back

    try:
        read_back(stack, tl, ready_timeout=exp.stack.ready_timeout)
    except Exception as exc:  # never lose the report over the readback
        tl.add_event("harness.error", SOURCE, error="ReadBackFailed", detail=str(exc)[:300])


def _heal(stack: Any, tl: Timeline) -> list[str]:
    from harness.faults import heal_all

    try:
        return list(heal_all(stack, tl))
    except HarnessError as exc:
        tl.add_event("harness.error", SOURCE, error="HealFailed", detail=str(exc))
        return [f"heal failed: {exc}"]


def run_experiment(exp: Experiment, *, file: str | None = None, stack: Any = None,
                   substrate: str = "local", report_dir: str | Path = "reports",
                   run_id: str | None = None, seed: int | None = None,
                   progress: ProgressFn | None = None) -> ExperimentResult:
    """Run ``exp`` (on ``stack`` if given, else on a fresh stack) and write its report."""
    exp.check(file=file)
    seed = seed if seed is not None else exp.seed
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    run_id = run_id or make_run_id(exp.name)
    faults = build_faults(exp, file=file)
    knobs = resolve_knobs(exp.stack.knobs, file=file)
    if stack is not None:
        _check_shared_stack(stack, exp, file)
    tl = Timeline(meta={"run_id": run_id, "experiment": exp.name, "seed": seed,
                        "experiment_model": exp.model_dump(mode="json"), "file": file})
    started_at = datetime.now(UTC)
    run = _Run(exp, seed=seed, run_id=run_id, timeline=tl, progress=progress, file=file)
    with _signals_interrupt(), ExitStack() as es:
        try:
            run.drive(stack, substrate, faults, es)
        except KeyboardInterrupt as exc:
            run.interrupted = exc
            run.end_reason = "interrupted"
            run.extra.append("the run was interrupted (Ctrl-C or SIGTERM); faults were "
                             "reverted and the stack healed")
        except HarnessError as exc:
            if not run.method_started:
                raise  # nothing ran: the error itself is the outcome (e.g. the stack failed)
            run.end_reason = "error"
            tl.add_event("harness.error", SOURCE, error=type(exc).__name__, detail=str(exc))
            run.extra.append(f"harness error: {exc}")
        finally:
            tl.add_event("run.end", SOURCE, reason=run.end_reason)
            run.note("stopping", "reverting faults, healing, tearing down")
            with _shielded():
                es.close()
    result = _finish(run, exp, file=file, knobs=knobs, started_at=started_at,
                     report_dir=Path(report_dir))
    if run.interrupted is not None:
        raise run.interrupted
    return result


@contextmanager
def _open(substrate: str, exp: Experiment, run_id: str, tl: Timeline) -> Iterator[Any]:
    from harness.stack import open_stack

    with open_stack(substrate=substrate, knobs=exp.stack.knobs, run_id=run_id, timeline=tl,
                    ready_timeout=exp.stack.ready_timeout) as stack:
        yield stack


def _finish(run: _Run, exp: Experiment, *, file: str | None, knobs: dict[str, Any],
            started_at: datetime, report_dir: Path) -> ExperimentResult:
    facts, skipped = run.facts, run.skipped
    run.note("analysing")
    rf = RunFacts(run_id=run.run_id, experiment=exp, file=file, seed=run.seed,
                  substrate=facts["substrate"], vector_mode=facts["vector_mode"],
                  started_at=started_at, duration_s=time.monotonic() - run.started, knobs=knobs,
                  end_reason="skipped" if skipped else run.end_reason,
                  extra_reasons=tuple(run.extra), steady_state=run.steady,
                  steady_state_after=run.steady_after,
                  stop_condition=run.stop)
    directory = report_dir / run.run_id
    if skipped is not None:
        rep = skipped_report(rf, str(skipped), capability=skipped.capability)
        files = write_report(rep, directory=directory, timeline=None)
    else:
        spec = analysis_spec(exp)
        overall, per_trial = analyse_run(run.tl, spec)
        rep = build_report(rf, overall, per_trial)
        attach_writes(rep, writes_report(run.tl, exp, spec))
        files = write_report(rep, directory=directory, timeline=run.tl)
    run.note("done", f"{rep['verdict']}: {files.html}")
    return ExperimentResult(run_id=run.run_id, verdict=rep["verdict"],
                            reasons=tuple(rep["verdict_reasons"]),
                            skipped=str(skipped) if skipped else None, report=rep, files=files)
