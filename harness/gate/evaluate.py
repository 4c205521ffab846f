"""Apply a policy to reports: per-report rules, OpenSLO objectives, regression checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from harness.gate.policy import Policy
from harness.gate.regression import regression_rules
from harness.gate.reports import LoadedReport, load_report
from harness.gate.result import GateResult, RuleResult, apply_inconclusive
from harness.gate.rules import report_rules

if TYPE_CHECKING:
    from harness.history.store import HistoryStore

__all__ = ["evaluate"]


def evaluate(policy: Policy, reports: Sequence[LoadedReport], *,
             history: HistoryStore | None = None,
             baseline: LoadedReport | None = None) -> GateResult:
    """Every rule of ``policy`` against every report. ``baseline`` overrides the policy's."""
    if baseline is None and policy.regression and policy.regression.baseline:
        baseline = load_report(policy.regression.baseline)
    results: list[RuleResult] = []
    for report in reports:
        rows = report_rules(policy, report)
        if policy.regression is not None:
            rows += regression_rules(policy.regression, report, baseline=baseline,
                                     history=history)
        for row in rows:
            results.append(RuleResult(
                rule=row.rule, report=report.run_id, subject=row.subject, measured=row.measured,
                limit=row.limit, raw=row.raw,
                outcome=apply_inconclusive(row.raw, policy.inconclusive), detail=row.detail))
    return GateResult(policy=policy.name, reports=tuple(r.run_id for r in reports),
                      rules=tuple(results))
