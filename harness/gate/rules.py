"""The per-report gate rules. Each returns rows (before the policy's inconclusive treatment)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.gate.failover_rules import incident_share_rule, milestone_rules
from harness.gate.openslo import OpenSLOObjective
from harness.gate.policy import FaultLimit, Policy, SLORule
from harness.gate.reports import LoadedReport, fault_values, statistic
from harness.gate.result import GateOutcome, fmt

__all__ = ["Row", "report_rules"]

P, F, INC, S = GateOutcome.PASS, GateOutcome.FAIL, GateOutcome.INCONCLUSIVE, GateOutcome.SKIP


@dataclass(frozen=True, slots=True)
class Row:
    rule: str
    subject: str
    measured: str
    limit: str
    raw: GateOutcome
    detail: str = ""


def report_rules(policy: Policy, report: LoadedReport) -> list[Row]:
    rows = [_verdict(policy, report)]
    if policy.require_landed:
        rows.append(_landed(report))
    if policy.min_confidence is not None:
        rows.extend(_confidence(policy.min_confidence, report))
    for i, rule in enumerate(policy.slos):
        rows.extend(_slo_rule(f"slos[{i}]", rule, report))
    if policy.budget is not None and policy.budget.max_consumed is not None:
        rows.append(_budget(policy.budget.max_consumed, report))
    share = incident_share_rule(policy, report)
    rows.extend([Row(*share)] if share else [])
    for i, limit in enumerate(policy.faults):
        rows.extend(_fault_limit(f"faults[{i}]", limit, report))
    rows.extend(Row(*r) for r in milestone_rules(policy, report))
    for obj in policy.objectives:
        rows.append(_objective(obj, report))
    return rows


def _verdict(policy: Policy, report: LoadedReport) -> Row:
    v, skipped = report.verdict, report.skipped_reason
    reasons = "; ".join(report.data.get("verdict_reasons") or [])
    if skipped:
        return Row("verdict.minimum", report.experiment, "skipped", policy.min_verdict, INC,
                   f"experiment skipped: {skipped}")
    raw = {"FAIL": F, "PASS": P}.get(v, P if policy.min_verdict == "INCONCLUSIVE" else INC)
    return Row("verdict.minimum", report.experiment, v, f">= {policy.min_verdict}", raw, reasons)


def _landed(report: LoadedReport) -> Row:
    faults = report.faults
    missed = [f"{f.get('name')}#{f.get('id')}" for f in faults if not f.get("landed")]
    raw = INC if missed else P
    detail = ("faults that never took effect prove nothing: " + ", ".join(missed)) if missed else ""
    return Row("require_landed", report.experiment, f"{len(faults) - len(missed)}/{len(faults)} "
               "landed", "all", raw, detail)


def _confidence(minimum: float, report: LoadedReport) -> list[Row]:
    rows = []
    for slo in report.data.get("slos") or []:
        c = float(slo["confidence"])
        raw = P if c >= minimum - 1e-12 else INC
        rows.append(Row("confidence.minimum", f"slo {slo['name']}", fmt(c, "%"),
                        f">= {fmt(minimum, '%')}", raw,
                        "" if raw is P else "re-analyse at the required confidence: "
                        "chaos-harness recheck --confidence"))
    return rows


def _slos(report: LoadedReport, name: str) -> list[Mapping[str, Any]]:
    return [s for s in report.data.get("slos") or [] if name in ("*", s.get("name"))]


def interval_check(slo: Mapping[str, Any], target: float) -> tuple[GateOutcome, str, str]:
    """Measured availability interval [1-upper, 1-lower] against a target availability."""
    lower, upper = slo.get("lower"), slo.get("upper")
    total = int(slo.get("total") or 0)
    if upper is None or lower is None or total == 0:
        return INC, "no requests", "the report measured no requests for this SLO"
    lo_av, hi_av = 1 - float(upper), 1 - float(lower)
    measured = f"[{fmt(lo_av, '%')}, {fmt(hi_av, '%')}] n={total}"
    if lo_av >= target:
        return P, measured, ""
    if hi_av < target:
        return F, measured, f"even the best case is below {fmt(target, '%')}"
    need = slo.get("needed_requests")
    return INC, measured, ("interval straddles the target" +
                         (f"; about {need} more requests would decide it" if need else ""))


def _slo_rule(rule: str, r: SLORule, report: LoadedReport) -> list[Row]:
    found = _slos(report, r.slo)
    if not found:
        return [Row(rule, f"slo {r.slo}", "absent", "present", F if r.required else S,
                    "the report has no SLO of this name" if r.required else "")]
    rows = []
    for slo in found:
        subject = f"slo {slo['name']}"
        if r.min_objective is not None:
            o = float(slo["objective"])
            rows.append(Row(f"{rule}.min_objective", subject, fmt(o, "%"),
                            f">= {fmt(r.min_objective, '%')}", P if o >= r.min_objective else F,
                            "" if o >= r.min_objective else
                            "the run was judged against a weaker objective than policy"))
        if r.verdict is not None:
            v = str(slo["verdict"])
            raw = F if v == "FAIL" else P if v == "PASS" or r.verdict == "INCONCLUSIVE" else INC
            rows.append(Row(f"{rule}.verdict", subject, v, f">= {r.verdict}", raw))
        if r.min_availability is not None:
            raw, measured, detail = interval_check(slo, r.min_availability)
            rows.append(Row(f"{rule}.min_availability", subject, measured,
                            f">= {fmt(r.min_availability, '%')}", raw, detail))
    return rows


def _budget(max_consumed: float, report: LoadedReport) -> Row:
    consumed = (report.data.get("error_budget") or {}).get("consumed")
    if consumed is None:
        return Row("budget.max_consumed", report.experiment, "n/a", f"<= {fmt(max_consumed, '%')}",
                   INC, "the report did not compute budget consumption")
    ok = float(consumed) <= max_consumed
    return Row("budget.max_consumed", report.experiment, fmt(float(consumed), "%"),
               f"<= {fmt(max_consumed, '%')}", P if ok else F)


def _fault_limit(rule: str, limit: FaultLimit, report: LoadedReport) -> list[Row]:
    rows = []
    for metric, bound in limit.limits():
        values, n = fault_values(report, metric, family=limit.family, name=limit.name)
        name = f"{rule}.max_{metric}"
        unit = "" if metric == "bad_requests" else "s"
        if n == 0:
            rows.append(Row(name, limit.selector, "no such fault", f"<= {fmt(bound, unit)}", S))
            continue
        value = statistic(values, limit.statistic)
        if value is None:
            rows.append(Row(name, limit.selector, "not measured", f"<= {fmt(bound, unit)}", INC,
                            f"{n} matching fault(s), none with {metric}"))
            continue
        note = f"{n - len(values)} of {n} not measured" if len(values) < n else ""
        rows.append(Row(name, limit.selector, f"{limit.statistic} {fmt(value, unit)}",
                        f"<= {fmt(bound, unit)}", P if value <= bound else F, note))
    return rows


def _objective(obj: OpenSLOObjective, report: LoadedReport) -> Row:
    rule = f"openslo {obj.slo}/{obj.objective}"
    limit = f">= {fmt(obj.target, '%')}" + (f" @ {obj.op} {fmt(obj.threshold_ms)}ms"
                                             if obj.op else "")
    found = _slos(report, obj.report_slo)
    if not found:
        return Row(rule, f"slo {obj.report_slo}", "absent", limit, INC,
                   f"the report has no SLO named {obj.report_slo!r}; map it with openslo.map")
    slo = found[0]
    if obj.op is not None:
        if obj.op in ("gt", "gte"):
            return Row(rule, f"slo {obj.report_slo}", "n/a", limit, INC,
                       f"op {obj.op} (good when above a threshold) is not a latency bound the "
                       "report measures")
        measured_at = slo.get("latency_threshold_ms")
        assert obj.threshold_ms is not None
        if measured_at is None or float(measured_at) > obj.threshold_ms:
            return Row(rule, f"slo {obj.report_slo}", f"judged at {fmt(measured_at)}ms", limit, INC,
                       "the report judged latency against a looser threshold than this objective")
    raw, measured, detail = interval_check(slo, obj.target)
    return Row(rule, f"slo {obj.report_slo}", measured, limit, raw, detail)
