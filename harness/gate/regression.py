"""Regression rules: a metric may not grow past a tolerance over a baseline report or over the
median of the last N runs of the same experiment in the history database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.gate.policy import RegressionLimit, RegressionRules
from harness.gate.reports import LoadedReport, fault_values, metric_value, statistic
from harness.gate.result import GateOutcome, fmt
from harness.gate.rules import Row

if TYPE_CHECKING:
    from harness.history.store import HistoryStore

__all__ = ["regression_rules"]


def _unit(metric: str) -> str:
    if metric.endswith("_s"):
        return "s"
    if metric.endswith("_ms"):
        return "ms"
    return "%" if metric in ("budget_consumed", "bad_fraction") else ""


def _subject(limit: RegressionLimit, report: LoadedReport) -> str:
    sel = ",".join(x for x in (limit.family or "", limit.name or "") if x)
    return f"{report.experiment} {limit.metric}" + (f" [{sel}]" if sel else "")


def _tolerance(limit: RegressionLimit) -> str:
    parts = []
    if limit.max_increase_pct is not None:
        parts.append(f"+{limit.max_increase_pct:g}%")
    if limit.max_increase_abs is not None:
        parts.append(f"+{limit.max_increase_abs:g}{_unit(limit.metric).replace('%', '')}")
    return " or ".join(parts)


def _missing(rules: RegressionRules, rule: str, subject: str, why: str) -> Row:
    raw = {"skip": GateOutcome.SKIP, "inconclusive": GateOutcome.INCONCLUSIVE,
           "fail": GateOutcome.FAIL}[rules.missing]
    return Row(rule, subject, "no reference", "-", raw, why)


def _compare(rule: str, limit: RegressionLimit, report: LoadedReport, reference: float,
             source: str) -> Row:
    unit = _unit(limit.metric)
    subject = _subject(limit, report)
    if limit.per_fault:
        values, n = fault_values(report, limit.metric, family=limit.family, name=limit.name)
        if n == 0:
            return Row(rule, subject, "no such fault", "-", GateOutcome.SKIP)
        current = statistic(values, limit.statistic)
    else:
        current = metric_value(report, limit.metric)
    if current is None:
        return Row(rule, subject, "not measured", "-", GateOutcome.INCONCLUSIVE,
                   f"this run did not measure {limit.metric}")
    allowed = limit.allowed(reference)
    outcome = GateOutcome.PASS if current <= allowed + 1e-12 else GateOutcome.FAIL
    return Row(rule, subject, fmt(current, unit),
               f"<= {fmt(allowed, unit)} ({source} {fmt(reference, unit)} {_tolerance(limit)})",
               outcome)


def regression_rules(rules: RegressionRules, report: LoadedReport, *,
                     baseline: LoadedReport | None, history: HistoryStore | None) -> list[Row]:
    rows: list[Row] = []
    for i, limit in enumerate(rules.limits):
        rule = f"regression.limits[{i}]"
        stat = limit.statistic if limit.per_fault else "median"
        kw = {"family": limit.family, "name": limit.name, "stat": stat}
        if rules.baseline is not None or baseline is not None:
            r = f"{rule} vs baseline"
            if baseline is None or baseline.experiment != report.experiment:
                why = (f"the baseline is experiment {baseline.experiment!r}" if baseline
                       else "no baseline report")
                rows.append(Row(r, _subject(limit, report), "-", "-", GateOutcome.SKIP, why))
            else:
                ref = metric_value(baseline, limit.metric, **kw)  # type: ignore[arg-type]
                rows.append(_compare(r, limit, report, ref, "baseline") if ref is not None else
                            _missing(rules, r, _subject(limit, report),
                                     f"the baseline did not measure {limit.metric}"))
        if rules.history is not None:
            rows.append(_history_row(f"{rule} vs history", rules, limit, report, history, kw))
    return rows


def _history_row(rule: str, rules: RegressionRules, limit: RegressionLimit,
                 report: LoadedReport, history: HistoryStore | None, kw: dict) -> Row:
    window = rules.history
    assert window is not None
    subject = _subject(limit, report)
    if history is None:
        return _missing(rules, rule, subject, "no history database")
    past = history.reports(experiment=report.experiment, last=window.last,
                           exclude_run_id=report.run_id, verdicts=window.verdicts,
                           before=str(report.data["started_at"]))
    values = [v for p in past if (v := metric_value(p, limit.metric, **kw)) is not None]
    if len(values) < window.min_runs:
        return _missing(rules, rule, subject,
                        f"{len(values)} earlier run(s) with {limit.metric} in history, "
                        f"policy needs {window.min_runs}")
    reference = statistic(values, "median")
    assert reference is not None
    return _compare(rule, limit, report, reference, f"median of last {len(values)}")
