"""Three-valued verdicts (the Jepsen ``true / false / unknown``) and how they combine.

:func:`combine` is the one combiner of the harness: the checks of one run
(:func:`combine_checks`), the experiments of ``chaos-harness run`` (its exit code), the
experiments of a game day (``GamedayResult.verdict``) and the rules of the CI gate
(``GateResult.outcome``) all combine through it. Precedence:

* any FAIL -> FAIL: one failed check fails the whole;
* else any INCONCLUSIVE -> INCONCLUSIVE: anything unproven (an unlanded fault, a generator that
  fell behind, too few requests, a skipped experiment or one that errored) is never a PASS;
* else PASS;
* nothing at all -> INCONCLUSIVE: an empty set of checks proves nothing.

Callers map their extra states before combining: a skipped experiment or one that errored is
INCONCLUSIVE; a gate rule that did not apply (``SKIP``) is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Verdict", "VerdictCheck", "combine", "combine_checks"]


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"

    def __str__(self) -> str:
        return self.value


_RANK = {Verdict.PASS: 0, Verdict.INCONCLUSIVE: 1, Verdict.FAIL: 2}


def combine(verdicts: Iterable[Verdict | str]) -> Verdict:
    """The worst of ``verdicts`` (FAIL > INCONCLUSIVE > PASS); INCONCLUSIVE when empty.

    Accepts the verdicts' strings too (``"PASS"``, or a ``StrEnum`` member of the same value);
    anything else raises ``ValueError``: map skipped/error states before combining."""
    worst: Verdict | None = None
    for v in verdicts:
        v = Verdict(v)
        if worst is None or _RANK[v] > _RANK[worst]:
            worst = v
    return Verdict.INCONCLUSIVE if worst is None else worst


@dataclass(frozen=True, slots=True, kw_only=True)
class VerdictCheck:
    """One judged statement about a run: its verdict and a sentence saying why."""

    verdict: Verdict
    reason: str


def combine_checks(checks: Iterable[VerdictCheck]) -> tuple[Verdict, tuple[str, ...]]:
    """Combined verdict and the reasons that decided it (worst first, then the rest in order).

    Reasons of every non-PASS check are kept; PASS reasons are kept only when the run passes, so
    a FAIL report is not cluttered with the checks that passed.
    """
    checks = list(checks)
    verdict = combine(c.verdict for c in checks)
    if verdict is Verdict.PASS:
        return verdict, tuple(c.reason for c in checks)
    ordered = sorted((c for c in checks if c.verdict is not Verdict.PASS),
                     key=lambda c: -_RANK[c.verdict])
    return verdict, tuple(c.reason for c in ordered)
