"""Confidence bounds on the bad fraction, the three-valued SLO verdict, and how much more load
would settle an inconclusive one.

Bounds are **one-sided at the configured confidence** ``c`` (default 0.95):

* ``upper`` -- with confidence ``c`` the true bad fraction is at most ``upper``;
* ``lower`` -- with confidence ``c`` the true bad fraction is at least ``lower``.

Each verdict is a one-sided test at level ``1 - c``: PASS when ``upper <= 1 - A``, FAIL when
``lower > 1 - A``, otherwise INCONCLUSIVE. (Together ``[lower, upper]`` is a two-sided interval of
confidence ``2c - 1``.) With zero bad requests the exact upper bound is ``1 - (1 - c)^(1/n)``, so
PASS needs ``n >= ln(1 - c) / ln(A)`` clean requests: 29,956 for A = 99.99 % at c = 95 % (the
"rule of three", ``~3 / (1 - A)``).

Methods: ``clopper-pearson`` (exact: beta quantiles, never below nominal coverage; the default)
and ``wilson`` (score interval; shorter, approximate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from harness.analysis.special import betaincinv, normal_quantile
from harness.analysis.verdict import Verdict

__all__ = [
    "INTERVAL_METHODS",
    "Bounds",
    "IntervalMethod",
    "allowed_fraction",
    "bounds",
    "clopper_pearson",
    "needed_requests",
    "slo_verdict",
    "wilson",
    "zero_failure_requests",
]

IntervalMethod = Literal["clopper-pearson", "wilson"]
INTERVAL_METHODS: tuple[str, ...] = ("clopper-pearson", "wilson")
_MAX_REQUESTS = 10**12


@dataclass(frozen=True, slots=True, kw_only=True)
class Bounds:
    lower: float
    upper: float
    confidence: float
    method: str


def _check(k: float, n: float, confidence: float) -> None:
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence!r}")
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k!r}, n={n!r}")


def clopper_pearson(k: float, n: float, confidence: float = 0.95) -> Bounds:
    """Exact one-sided bounds on the bad fraction for ``k`` bad of ``n`` (``k`` may be real)."""
    _check(k, n, confidence)
    alpha = 1.0 - confidence
    if n == 0:
        return Bounds(lower=0.0, upper=1.0, confidence=confidence, method="clopper-pearson")
    if k == 0:
        lower, upper = 0.0, -math.expm1(math.log(alpha) / n)
    elif k == n:
        lower, upper = math.exp(math.log(alpha) / n), 1.0
    else:
        lower = betaincinv(k, n - k + 1.0, alpha)
        upper = betaincinv(k + 1.0, n - k, confidence)
    return Bounds(lower=lower, upper=upper, confidence=confidence, method="clopper-pearson")


def wilson(k: float, n: float, confidence: float = 0.95) -> Bounds:
    """Wilson score one-sided bounds (z = normal quantile of ``confidence``)."""
    _check(k, n, confidence)
    if n == 0:
        return Bounds(lower=0.0, upper=1.0, confidence=confidence, method="wilson")
    z = normal_quantile(confidence)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    lower = 0.0 if k == 0 else max(0.0, centre - half)
    upper = 1.0 if k == n else min(1.0, centre + half)
    return Bounds(lower=lower, upper=upper, confidence=confidence, method="wilson")


def bounds(k: float, n: float, confidence: float = 0.95,
           method: IntervalMethod = "clopper-pearson") -> Bounds:
    if method == "clopper-pearson":
        return clopper_pearson(k, n, confidence)
    if method == "wilson":
        return wilson(k, n, confidence)
    raise ValueError(f"unknown interval method {method!r}; allowed: {', '.join(INTERVAL_METHODS)}")


def allowed_fraction(objective: float) -> float:
    """``1 - A``, rounded to 12 decimals (in floats ``1 - 0.9999`` is ``1.00000000000655e-4``)."""
    return round(1.0 - objective, 12)


def slo_verdict(b: Bounds, objective: float) -> Verdict:
    """PASS if ``upper <= 1 - A``; FAIL if ``lower > 1 - A``; else INCONCLUSIVE."""
    allowed = allowed_fraction(objective)
    if b.upper <= allowed:
        return Verdict.PASS
    if b.lower > allowed:
        return Verdict.FAIL
    return Verdict.INCONCLUSIVE


def zero_failure_requests(objective: float, confidence: float = 0.95,
                          method: IntervalMethod = "clopper-pearson") -> int:
    """Clean requests needed for PASS with no bad one (29,956 at 99.99 %, 95 %, exact)."""
    return _smallest_passing_n(0.0, objective, confidence, method, start=1)


def _passes(p_hat: float, n: int, objective: float, confidence: float,
            method: IntervalMethod) -> bool:
    return bounds(p_hat * n, n, confidence, method).upper <= allowed_fraction(objective)


def _smallest_passing_n(p_hat: float, objective: float, confidence: float,
                        method: IntervalMethod, *, start: int) -> int:
    lo, hi = max(start, 1) - 1, max(start, 1)  # invariant: lo fails (or is below start)
    while not _passes(p_hat, hi, objective, confidence, method):
        if hi >= _MAX_REQUESTS:
            return _MAX_REQUESTS
        lo, hi = hi, min(hi * 2, _MAX_REQUESTS)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _passes(p_hat, mid, objective, confidence, method):
            hi = mid
        else:
            lo = mid
    return hi


def needed_requests(k: int, n: int, objective: float, confidence: float = 0.95,
                    method: IntervalMethod = "clopper-pearson") -> int | None:
    """Further requests for a conclusive PASS if the observed bad fraction ``k/n`` continues.

    0 when it already passes; ``None`` when it never can (``k/n >= 1 - A``: more of the same only
    tightens the bounds around a fraction that breaks the SLO). With ``n == 0`` the answer is the
    zero-failure count. The bad count at ``N`` total requests is taken as ``N * k / n``
    (real-valued, so the answer is monotone in ``N``).
    """
    p_hat = 0.0 if n == 0 else k / n
    if n > 0 and _passes(p_hat, n, objective, confidence, method):
        return 0
    if p_hat >= allowed_fraction(objective):
        return None
    total = _smallest_passing_n(p_hat, objective, confidence, method, start=max(n, 1))
    return max(0, total - n)
