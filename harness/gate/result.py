"""What the gate decided: one row per rule and report, and the overall outcome and exit code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from harness.analysis.verdict import combine

__all__ = ["GateOutcome", "GateResult", "RuleResult", "apply_inconclusive"]


class GateOutcome(StrEnum):
    """What one gate rule, or the whole gate, decided (a request's outcome is
    :class:`harness.timeline.Outcome`)."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    SKIP = "SKIP"  # the rule did not apply (e.g. no history yet); never changes the outcome


#: exit codes, consistent with harness.cli.EXIT (ok 0, fail 1, inconclusive 2)
EXIT_CODES = {GateOutcome.PASS: 0, GateOutcome.SKIP: 0, GateOutcome.FAIL: 1,
              GateOutcome.INCONCLUSIVE: 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleResult:
    rule: str  # the policy field, e.g. "faults[0].max_failover_s"
    report: str  # run id ("-" for rules across reports)
    subject: str  # what was measured: experiment, SLO, fault selector
    measured: str
    limit: str
    raw: GateOutcome  # before the policy's inconclusive treatment
    outcome: GateOutcome
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "report": self.report, "subject": self.subject,
                "measured": self.measured, "limit": self.limit, "raw": str(self.raw),
                "outcome": str(self.outcome), "detail": self.detail}


def apply_inconclusive(raw: GateOutcome, treatment: str) -> GateOutcome:
    """fail: INCONCLUSIVE counts as FAIL; warn: stays INCONCLUSIVE (exit 2); pass: PASS."""
    if raw is not GateOutcome.INCONCLUSIVE:
        return raw
    return {"fail": GateOutcome.FAIL, "warn": GateOutcome.INCONCLUSIVE,
            "pass": GateOutcome.PASS}[treatment]


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    policy: str
    reports: tuple[str, ...]
    rules: tuple[RuleResult, ...]

    @property
    def outcome(self) -> GateOutcome:
        """``harness.analysis.verdict.combine`` over the rules' outcomes; SKIP rows are left
        out (a rule that did not apply never changes the outcome). Every report brings a
        ``verdict.minimum`` row, which is never SKIP, so only a gate given no report at all has
        nothing to combine: that is INCONCLUSIVE."""
        return GateOutcome(combine(r.outcome for r in self.rules if r.outcome is not GateOutcome.SKIP))

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    def counts(self) -> dict[str, int]:
        out = {str(o): 0 for o in GateOutcome}
        for r in self.rules:
            out[str(r.outcome)] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"schema": "chaos-harness/gate-result", "version": 1, "policy": self.policy,
                "reports": list(self.reports), "outcome": str(self.outcome),
                "exit_code": self.exit_code, "counts": self.counts(),
                "rules": [r.to_json() for r in self.rules]}


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        if 0.99 < value < 1:  # availabilities: keep the digits that matter at 99.99%
            return f"{value * 100:.4f}".rstrip("0").rstrip(".") + "%"
        return f"{value * 100:.4g}%"
    return f"{value:.4g}{unit}"

