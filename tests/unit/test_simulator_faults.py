from __future__ import annotations

import pytest

from harness.simulators.faults import FAULT_KINDS, FaultSet, validate_fault
from harness.simulators.provider import make_answer

CONTRACT_KINDS = {"error", "rate_limit", "latency", "hang", "slow_stream", "stall_stream",
                  "disconnect", "malformed", "outage"}


def test_every_contract_kind_exists() -> None:
    assert set(FAULT_KINDS) == CONTRACT_KINDS


def test_defaults_and_normalisation() -> None:
    assert validate_fault("error", {}) == {"status": 500, "rate": 1.0}
    assert validate_fault("rate_limit", {"retry_after_s": 2}) == {"retry_after_s": 2.0,
                                                                 "rate": 1.0}
    assert validate_fault("outage", {"mode": "503"})["mode"] == "503"


@pytest.mark.parametrize(("kind", "params", "needle"), [
    ("boom", {}, "unknown fault kind 'boom'"),
    ("error", {"code": 500}, "has no parameter 'code'"),
    ("error", {"status": 200}, r"error.status must be in \[400, 599\]"),
    ("error", {"rate": 1.5}, r"error.rate must be in \[0, 1\]"),
    ("latency", {"ms": "slow"}, "must be a number"),
    ("stall_stream", {"after_tokens": 1.5}, "must be an integer"),
    ("outage", {"mode": "refuse"}, "must be one of reset, 503"),
])
def test_bad_faults_say_what_is_allowed(kind: str, params: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        validate_fault(kind, params)


def test_rate_draws_are_seeded_and_near_the_rate() -> None:
    def run(seed: int) -> list[str]:
        fs = FaultSet(seed)
        fs.set("error", {"status": 503, "rate": 0.3})
        return [fs.plan().action for _ in range(2000)]

    a, b = run(7), run(7)
    assert a == b
    assert run(8) != a
    assert 0.25 < a.count("error") / 2000 < 0.35


def test_precedence_and_shaping() -> None:
    fs = FaultSet(1)
    fs.set("latency", {"ms": 100, "jitter_ms": 0})
    fs.set("disconnect", {"after_tokens": 2})
    plan = fs.plan()
    assert plan.action == "ok" and plan.extra_delay_s == pytest.approx(0.1)
    assert plan.disconnect_after == 2
    fs.set("hang", {})
    assert fs.plan().action == "hang"
    fs.set("outage", {})
    assert fs.plan().action == "outage"
    assert fs.clear("outage") == ["outage"] and fs.clear("outage") == []
    assert sorted(fs.clear()) == ["disconnect", "hang", "latency"]
    assert fs.plan().action == "ok" and fs.plan().extra_delay_s == 0.0


def test_jitter_stays_in_range() -> None:
    fs = FaultSet(3)
    fs.set("latency", {"ms": 50, "jitter_ms": 20})
    delays = [fs.plan().extra_delay_s for _ in range(500)]
    assert min(delays) >= 0.030 - 1e-9 and max(delays) <= 0.070 + 1e-9
    assert max(delays) - min(delays) > 0.02


def test_answers_are_deterministic_and_use_the_context() -> None:
    msgs = [{"role": "system", "content": "s"},
            {"role": "user", "content": "Context:\n[kb-1] Redis fails over fast. Second. Third."
                                        "\n\nQuestion: how fast?"}]
    a = make_answer("primary", msgs)
    assert a == make_answer("primary", msgs)
    assert a.startswith("Redis fails over fast. Second.") and "how fast?" in a
    assert make_answer("fallback", msgs) != a
    assert "No context" in make_answer("primary", [{"role": "user", "content": "hi"}])
