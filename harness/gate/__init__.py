"""CI gates on resilience reports: a documented YAML policy (see docs/gate-policy.md) applied to
report.json files, with OpenSLO objectives and regression limits against a baseline or history.

Exit codes (consistent with :data:`harness.cli.EXIT`): 0 pass, 1 fail, 2 inconclusive (policy
``inconclusive: warn``), 3 bad policy/option/report (ConfigError), 6 other harness errors.
"""

from __future__ import annotations

from harness.gate.evaluate import evaluate
from harness.gate.openslo import OpenSLOObjective, load_openslo, parse_openslo
from harness.gate.policy import Policy, load_policy, policy_from_mapping, policy_schema
from harness.gate.render import render_table
from harness.gate.reports import LoadedReport, load_report, metric_value, report_from_mapping
from harness.gate.result import GateOutcome, GateResult, RuleResult

__all__ = [
    "GateOutcome",
    "GateResult",
    "LoadedReport",
    "OpenSLOObjective",
    "Policy",
    "RuleResult",
    "evaluate",
    "load_openslo",
    "load_policy",
    "load_report",
    "metric_value",
    "parse_openslo",
    "policy_from_mapping",
    "policy_schema",
    "render_table",
    "report_from_mapping",
]
