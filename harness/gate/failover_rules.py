"""Gate rules of issue #11: failover milestones and each incident's share of the real budget.

* ``milestones[i]``: the ``statistic`` (max by default) of a milestone's ``at_s`` over the
  matching faults must be at most ``max_s``. With ``signal``, only milestones set by that signal
  count (``decided`` of a zone loss is HAProxy's DOWN; "Sentinel promotion <= 5 s" is ``decided``
  with ``signal: +switch-master``). A matching fault whose milestone was not reached (or was set
  by another signal) makes the row INCONCLUSIVE unless a measured value already FAILs it.
* ``budget.max_incident_share``: the worst incident's share of the SLO window's budget. The
  budgeting method is the policy's ``budget.method``, else the OpenSLO document's
  ``budgetingMethod`` (Timeslices / RatioTimeslices charge bad slices), else the report's. When
  the OpenSLO document states its own window, target or production rate, the share is recomputed
  from the incident's error-seconds (occurrences) or bad slices (timeslices; only when the
  report counted slices of the same length and target).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.gate.openslo import OpenSLOObjective
from harness.gate.policy import MilestoneLimit, Policy
from harness.gate.reports import LoadedReport, statistic
from harness.gate.result import GateOutcome, fmt

__all__ = ["incident_share_rule", "milestone_rules"]

P, F, INC, S = GateOutcome.PASS, GateOutcome.FAIL, GateOutcome.INCONCLUSIVE, GateOutcome.SKIP


def _matching(report: LoadedReport, lim: MilestoneLimit) -> list[Mapping[str, Any]]:
    return [f for f in report.faults if f.get("landed", True)
            and (lim.family is None or f.get("family") == lim.family)
            and (lim.name is None or f.get("name") == lim.name)]


def _milestone_row(rule: str, lim: MilestoneLimit, report: LoadedReport) -> tuple[
        str, str, str, str, GateOutcome, str]:
    limit = f"<= {fmt(lim.max_s, 's')}" + (f" by {lim.signal}" if lim.signal else "")
    subject = f"{lim.selector} {lim.milestone}"
    faults = _matching(report, lim)
    if not faults:
        return rule, subject, "no such fault", limit, S, ""
    values, missing = [], []
    for f in faults:
        m = next((m for m in f.get("milestones") or [] if m.get("name") == lim.milestone), None)
        if m is None:
            missing.append(f"{f.get('id')}: no milestones in the report (re-run or recheck)")
        elif m.get("at_s") is None:
            missing.append(f"{f.get('id')}: {m.get('signal')}")
        elif lim.signal and lim.signal not in str(m.get("signal", "")):
            missing.append(f"{f.get('id')}: set by {m.get('signal')}, not {lim.signal}")
        else:
            values.append(float(m["at_s"]))
    value = statistic(values, lim.statistic)
    detail = "; ".join(missing[:3])
    if value is None:
        return rule, subject, "not reached", limit, INC, detail
    measured = f"{lim.statistic} {fmt(value, 's')} over {len(values)}"
    if value > lim.max_s:
        return rule, subject, measured, limit, F, detail
    return rule, subject, measured, limit, INC if missing else P, detail


def milestone_rules(policy: Policy, report: LoadedReport) -> list[tuple[
        str, str, str, str, GateOutcome, str]]:
    """(rule, subject, measured, limit, outcome, detail) per milestone limit."""
    return [_milestone_row(f"milestones[{i}].max_s", lim, report)
            for i, lim in enumerate(policy.milestones)]


def _objective_for(policy: Policy, report: LoadedReport) -> OpenSLOObjective | None:
    primary = (report.data.get("slos") or [{}])[0].get("name")
    found = [o for o in policy.objectives if o.report_slo == primary]
    return found[0] if found else None


def _share(c: Mapping[str, Any], method: str, budget: Mapping[str, Any],
           obj: OpenSLOObjective | None) -> tuple[float | None, str]:
    """The incident's share under ``method``, recomputed with the OpenSLO window if given."""
    target = obj.target if obj else float(budget["objective"])
    window = (obj.time_window_s if obj and obj.time_window_s else None) or \
        float(budget["window_s"])
    if method == "occurrences":
        es = c.get("error_seconds")
        return (None, "no error-seconds") if es is None else \
            (float(es) / ((1 - target) * window), "")
    slice_s = obj.timeslice_s if obj and obj.timeslice_s else float(budget["timeslice_s"])
    slice_target = obj.timeslice_target if obj and obj.timeslice_target else \
        float(budget.get("timeslice_target") or target)
    if (abs(slice_s - float(budget["timeslice_s"])) > 1e-9
            or abs(slice_target - float(budget.get("timeslice_target") or target)) > 1e-12):
        return None, (f"the report counted {budget['timeslice_s']:g} s slices at target "
                      f"{budget.get('timeslice_target')}, the SLO says {slice_s:g} s at "
                      f"{slice_target}: set the experiment's budget.timeslice and "
                      "budget.timeslice_target")
    slices = c.get("bad_slices")
    if slices is None:
        return None, "the report counted no slices"
    return int(slices) / ((1 - target) * window / slice_s), ""


def incident_share_rule(policy: Policy, report: LoadedReport) -> tuple[
        str, str, str, str, GateOutcome, str] | None:
    """(rule, subject, measured, limit, outcome, detail) for ``budget.max_incident_share``."""
    if policy.budget is None or policy.budget.max_incident_share is None:
        return None
    bound = policy.budget.max_incident_share
    rule, limit = "budget.max_incident_share", f"<= {fmt(bound, '%')}"
    budget = report.data.get("budget")
    if not isinstance(budget, Mapping):
        return (rule, report.experiment, "n/a", limit, INC,
                "the report states no cost against the real budget (made by an older harness? "
                "re-analyse with chaos-harness recheck --write)")
    obj = _objective_for(policy, report)
    method = policy.budget.method or (obj.charges if obj and obj.budgeting_method else None) \
        or str(budget.get("method", "occurrences"))
    incidents: Sequence[Mapping[str, Any]] = budget.get("incidents") or []
    if not incidents:
        return rule, report.experiment, "no incidents", limit, S, ""
    shares, notes = [], []
    for c in incidents:
        share, note = _share(c, method, budget, obj)
        if share is None:
            notes.append(f"{c.get('name')} t{c.get('trial')}: {note}")
        else:
            shares.append((share, f"{c.get('name')} t{c.get('trial')}"))
    source = (f"{obj.file or 'OpenSLO'} ({obj.budgeting_method}, "
              f"{(obj.time_window_s or budget['window_s']) / 86400:g} d)") if obj else \
        f"report ({budget.get('method')}, {float(budget['window_s']) / 86400:g} d)"
    detail = "; ".join([f"{method} per {source}", *notes[:2]])
    if not shares:
        return rule, report.experiment, "not measured", limit, INC, detail
    worst, who = max(shares)
    measured = f"worst {fmt(worst, '%')} ({who})"
    outcome = F if worst > bound else (INC if notes else P)
    return rule, report.experiment, measured, limit, outcome, detail
