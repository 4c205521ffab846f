"""The one verdict combiner (``harness.analysis.verdict.combine``) and its users: run's exit
code, the game day's verdict and the gate's outcome must all follow the same precedence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.verdict import Verdict, combine
from harness.gate.result import GateOutcome as Outcome
from harness.gate.result import GateResult, RuleResult

verdicts = st.lists(st.sampled_from(list(Verdict)), max_size=8)


def _reference(vs: list[Verdict]) -> Verdict:
    """The documented rule, spelled out."""
    if Verdict.FAIL in vs:
        return Verdict.FAIL
    if not vs or Verdict.INCONCLUSIVE in vs:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


@settings(deadline=None)  # a niced, busy CI machine must not fail on time
@given(verdicts)
def test_combine_follows_the_documented_precedence(vs: list[Verdict]) -> None:
    assert combine(vs) is _reference(vs)


@settings(deadline=None)
@given(verdicts, verdicts)
def test_combine_is_order_free_and_associative(a: list[Verdict], b: list[Verdict]) -> None:
    assert combine(a + b) is combine(reversed(b + a))
    if a and b:  # an empty part would add an INCONCLUSIVE that was not there
        assert combine([combine(a), combine(b)]) is combine(a + b)


@settings(deadline=None)
@given(verdicts)
def test_combine_takes_the_verdicts_strings(vs: list[Verdict]) -> None:
    assert combine(str(v) for v in vs) is combine(vs)


def test_combine_refuses_an_unmapped_state() -> None:
    with pytest.raises(ValueError):
        combine(["PASS", "skipped"])


def _gate(outcomes: list[Outcome]) -> GateResult:
    rows = tuple(RuleResult(rule="r", report="x", subject="s", measured="m", limit="l",
                            raw=o, outcome=o) for o in outcomes)
    return GateResult(policy="p", reports=("x",), rules=rows)


@settings(deadline=None)
@given(st.lists(st.sampled_from(list(Outcome)), max_size=8))
def test_the_gate_combines_with_it_and_skip_never_counts(outcomes: list[Outcome]) -> None:
    judged = [Verdict(o) for o in outcomes if o is not Outcome.SKIP]
    assert _gate(outcomes).outcome == combine(judged)
    assert _gate([*outcomes, Outcome.SKIP]).outcome == _gate(outcomes).outcome


@settings(deadline=None, max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(list(Verdict)), st.booleans()), min_size=1,
                max_size=5))
def test_runs_exit_code_is_the_combined_verdict(runs: list[tuple[Verdict, bool]]) -> None:
    """``chaos-harness run``: a skipped experiment counts as INCONCLUSIVE."""
    import argparse
    import contextlib
    import io
    from types import SimpleNamespace

    from harness.cli import EXIT
    from harness.commands import run as run_cmd
    from harness.experiment import runner

    results = iter(SimpleNamespace(verdict=str(v), skipped=skipped, run_id="r", reasons=(),
                                   files=SimpleNamespace(html="r.html")) for v, skipped in runs)
    real = runner.run_experiment
    runner.run_experiment = lambda *a, **k: next(results)  # type: ignore[assignment]
    try:
        args = argparse.Namespace(json=True, no_live=True, substrate="local", report_dir="r")
        plan = [(SimpleNamespace(name=f"e{i}"), f"e{i}.yaml") for i in range(len(runs))]
        with contextlib.redirect_stdout(io.StringIO()):
            code = run_cmd._run_all(args, plan, None)  # type: ignore[arg-type]
    finally:
        runner.run_experiment = real  # type: ignore[assignment]
    worst = combine(Verdict.INCONCLUSIVE if skipped else v for v, skipped in runs)
    assert code == EXIT[{"PASS": "ok", "FAIL": "fail", "INCONCLUSIVE": "inconclusive"}[worst]]
