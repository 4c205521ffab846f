"""Incomplete beta, Clopper-Pearson / Wilson bounds, verdicts and request planning."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.special import betainc, betaincinv, normal_quantile
from harness.analysis.stats import (
    allowed_fraction,
    bounds,
    clopper_pearson,
    needed_requests,
    slo_verdict,
    wilson,
    zero_failure_requests,
)
from harness.analysis.verdict import Verdict


def exact_betainc(a: int, b: int, x: Fraction) -> float:
    """I_x(a, b) for integer a, b: P(Binomial(a + b - 1, x) >= a), in exact rationals."""
    n = a + b - 1
    return float(sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1)))


# -- the special functions ------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b", "x", "expected"), [
    (1.0, 1.0, 0.3, 0.3),  # uniform
    (2.0, 3.0, 0.4, 0.5248),  # P(Bin(4, 0.4) >= 2)
    (0.5, 0.5, 0.5, 0.5),  # symmetric arcsine
    (5.0, 5.0, 0.5, 0.5),
    (0.5, 0.5, 0.25, 1.0 / 3.0),  # (2/pi) asin(sqrt(x))
    (3.0, 1.0, 0.7, 0.343),  # x^a
    (1.0, 4.0, 0.2, 1 - 0.8**4),  # 1 - (1-x)^b
])
def test_betainc_known_values(a: float, b: float, x: float, expected: float) -> None:
    assert betainc(a, b, x) == pytest.approx(expected, rel=1e-13, abs=1e-15)


def test_betainc_half_integer_matches_student_t() -> None:
    # Student t with 1 df is Cauchy: P(|T| > 1) = 0.5 = I_{nu/(nu+t^2)}(nu/2, 1/2) at t=1.
    assert betainc(0.5, 0.5, 0.5) == pytest.approx(0.5, rel=1e-14)
    # nu = 2: P(|T| > t) = 1 - t / sqrt(2 + t^2) = I_{2/(2+t^2)}(1, 1/2); t = 2.
    assert betainc(1.0, 0.5, 2 / 6) == pytest.approx(1 - 2 / math.sqrt(6), rel=1e-13)


@given(a=st.integers(1, 60), b=st.integers(1, 60),
       x=st.fractions(min_value=Fraction(1, 1000), max_value=Fraction(999, 1000),
                      max_denominator=1000))
@settings(max_examples=80, deadline=None)
def test_betainc_matches_exact_binomial_sum(a: int, b: int, x: Fraction) -> None:
    assert betainc(a, b, float(x)) == pytest.approx(exact_betainc(a, b, x), rel=1e-11,
                                                    abs=1e-14)


def tolerance(a: float, b: float) -> float:
    """Accuracy of betainc: ~1e-14, degrading with size as a*ln(x) + b*ln(1-x) - ln B(a, b)
    cancels (absolute error ~1e-16 per unit of max(a, b))."""
    return 4e-15 * max(a, b, 100.0)


@given(a=st.floats(0.1, 1e6), b=st.floats(0.1, 1e6), p=st.floats(1e-6, 1 - 1e-6))
@settings(max_examples=200, deadline=None)
def test_betaincinv_inverts_betainc(a: float, b: float, p: float) -> None:
    x = betaincinv(a, b, p)
    assert 0.0 <= x <= 1.0
    tol = tolerance(a, b)
    if betainc(a, b, x) == pytest.approx(p, rel=tol, abs=tol):
        return
    # Where the floats are too coarse to hit p (steep I near x = 1 or 0), x must be within a
    # few ulps of the crossing.
    below, above = x, x
    for _ in range(4):
        below, above = math.nextafter(below, 0.0), math.nextafter(above, 1.0)
    assert betainc(a, b, below) - tol <= p <= betainc(a, b, above) + tol


@given(a=st.floats(0.1, 1e4), b=st.floats(0.1, 1e4), i=st.integers(0, 2**20))
@settings(max_examples=200, deadline=None)
def test_betainc_symmetry(a: float, b: float, i: int) -> None:
    x = i / 2**20  # dyadic, so 1 - x is exact
    assert betainc(a, b, x) == pytest.approx(1 - betainc(b, a, 1 - x), abs=tolerance(a, b))


@pytest.mark.parametrize(("a", "b", "p"), [(3329.0, 0.5, 0.99999), (1e6, 0.1, 0.5),
                                           (0.5, 3329.0, 1e-5)])
def test_betaincinv_keeps_precision_near_both_ends(a: float, b: float, p: float) -> None:
    x = betaincinv(a, b, p)
    below, above = math.nextafter(x, 0.0), math.nextafter(x, 1.0)
    assert betainc(a, b, below) <= p + 1e-12 and betainc(a, b, above) >= p - 1e-12
    # the complement roots agree (to the spacing of floats near 1, where 1 - x is coarse)
    assert betaincinv(b, a, 1 - p) == pytest.approx(1 - x, rel=1e-6, abs=4.5e-16)


def test_special_function_domains() -> None:
    with pytest.raises(ValueError, match="a > 0"):
        betainc(0, 1, 0.5)
    with pytest.raises(ValueError, match="0 <= x <= 1"):
        betainc(1, 1, 1.5)
    with pytest.raises(ValueError, match="0 <= p <= 1"):
        betaincinv(1, 1, -0.1)
    assert betaincinv(2, 3, 0.0) == 0.0 and betaincinv(2, 3, 1.0) == 1.0
    assert normal_quantile(0.975) == pytest.approx(1.959963984540054, rel=1e-12)
    with pytest.raises(ValueError):
        normal_quantile(1.0)


# -- bounds -----------------------------------------------------------------------------------
def test_clopper_pearson_matches_r_binom_test() -> None:
    # R: binom.test(5, 10)$conf.int and binom.test(1, 10)$conf.int (two-sided 95 % = one-sided
    # bounds at 97.5 %).
    b = clopper_pearson(5, 10, 0.975)
    assert (b.lower, b.upper) == (pytest.approx(0.1870860, abs=1e-7),
                                  pytest.approx(0.8129140, abs=1e-7))
    b = clopper_pearson(1, 10, 0.975)
    assert (b.lower, b.upper) == (pytest.approx(0.002528579, abs=1e-9),
                                  pytest.approx(0.4450161, abs=1e-7))


def test_clopper_pearson_closed_forms_at_the_edges() -> None:
    b = clopper_pearson(0, 100, 0.95)
    assert b.lower == 0.0 and b.upper == pytest.approx(1 - 0.05 ** (1 / 100), rel=1e-12)
    b = clopper_pearson(100, 100, 0.95)
    assert b.upper == 1.0 and b.lower == pytest.approx(0.05 ** (1 / 100), rel=1e-12)
    assert clopper_pearson(0, 0) == clopper_pearson(0, 0)
    assert (clopper_pearson(0, 0).lower, clopper_pearson(0, 0).upper) == (0.0, 1.0)


def test_wilson_known_value() -> None:
    # one-sided 95 % (z = 1.6449) for 3 of 1000
    z = 1.6448536269514722
    p, n = 0.003, 1000
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    b = wilson(3, 1000)
    assert (b.lower, b.upper) == (pytest.approx(centre - half), pytest.approx(centre + half))
    assert wilson(0, 10).lower == 0.0 and wilson(10, 10).upper == 1.0


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="0 <= k <= n"):
        clopper_pearson(5, 3)
    with pytest.raises(ValueError, match="confidence"):
        wilson(1, 3, confidence=1.0)
    with pytest.raises(ValueError, match="unknown interval method"):
        bounds(1, 3, 0.95, "bayes")  # type: ignore[arg-type]


counts = st.integers(1, 10**7).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@given(kn=counts, method=st.sampled_from(["clopper-pearson", "wilson"]),
       conf=st.sampled_from([0.9, 0.95, 0.99]))
@settings(max_examples=200, deadline=None)
def test_bounds_contain_the_point_estimate(kn: tuple[int, int], method: str, conf: float) -> None:
    k, n = kn
    b = bounds(k, n, conf, method)  # type: ignore[arg-type]
    assert 0.0 <= b.lower <= k / n <= b.upper <= 1.0


@given(kn=counts, conf=st.sampled_from([0.9, 0.95]))
@settings(max_examples=150, deadline=None)
def test_bounds_are_monotone_in_k_and_n(kn: tuple[int, int], conf: float) -> None:
    k, n = kn
    b = clopper_pearson(k, n, conf)
    if k < n:
        more_bad = clopper_pearson(k + 1, n, conf)
        assert more_bad.lower >= b.lower and more_bad.upper >= b.upper
        more_good = clopper_pearson(k, n + 1, conf)  # one more good request
        assert more_good.upper <= b.upper and more_good.lower <= b.lower


@given(kn=counts)
@settings(max_examples=100, deadline=None)
def test_clopper_pearson_is_wider_than_wilson_at_zero(kn: tuple[int, int]) -> None:
    _, n = kn
    assert clopper_pearson(0, n).upper >= wilson(0, n).upper


# -- verdicts and planning --------------------------------------------------------------------
def test_zero_failure_rule_at_four_nines() -> None:
    assert zero_failure_requests(0.9999, 0.95) == 29_956
    assert slo_verdict(clopper_pearson(0, 29_956), 0.9999) is Verdict.PASS
    assert slo_verdict(clopper_pearson(0, 29_955), 0.9999) is Verdict.INCONCLUSIVE
    assert zero_failure_requests(0.999, 0.95) == 2_995
    assert zero_failure_requests(0.9999, 0.99) == 46_050


@given(objective=st.sampled_from([0.99, 0.995, 0.999, 0.9995, 0.9999]),
       conf=st.sampled_from([0.9, 0.95, 0.99]))
@settings(max_examples=15, deadline=None)
def test_zero_failure_count_is_minimal_and_near_rule_of_three(objective: float,
                                                            conf: float) -> None:
    n = zero_failure_requests(objective, conf)
    allowed = allowed_fraction(objective)
    assert clopper_pearson(0, n, conf).upper <= allowed < clopper_pearson(0, n - 1, conf).upper
    assert n == math.ceil(math.log(1 - conf) / math.log1p(-allowed) - 1e-9)
    assert n == pytest.approx(-math.log(1 - conf) / allowed, rel=0.01)  # ~3 / (1 - A) at 95 %


def test_verdicts() -> None:
    assert slo_verdict(clopper_pearson(0, 100_000), 0.9999) is Verdict.PASS
    assert slo_verdict(clopper_pearson(50, 100_000), 0.9999) is Verdict.FAIL
    assert slo_verdict(clopper_pearson(3, 30_000), 0.9999) is Verdict.INCONCLUSIVE


def test_needed_requests() -> None:
    assert needed_requests(0, 29_956, 0.9999) == 0
    assert needed_requests(0, 1_000, 0.9999) == 29_956 - 1_000
    assert needed_requests(0, 0, 0.9999) == 29_956
    assert needed_requests(20, 100_000, 0.9999) is None  # 2e-4 >= 1e-4: can never pass
    assert needed_requests(1, 10_000, 0.9999) is None  # exactly at the objective
    assert needed_requests(2, 100_000, 0.9999) == 0  # upper bound 6.3e-5 already passes
    extra = needed_requests(6, 100_000, 0.9999)
    assert extra is not None and extra > 0
    total = 100_000 + extra
    p = 6 / 100_000
    assert clopper_pearson(p * total, total).upper <= 1e-4
    assert clopper_pearson(p * (total - 1), total - 1).upper > 1e-4
