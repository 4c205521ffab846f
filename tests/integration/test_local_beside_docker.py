"""The local substrate on a machine where dockerd runs (FORWARD policy DROP).

dockerd sets the iptables FORWARD policy to DROP; with bridge netfilter on, that silently drops
the traffic between the local stack's zone namespaces (Redis replicas never link). The local
substrate therefore adds an accept rule for its own bridge at the top of DOCKER-USER. These tests
prove that the stack comes up beside dockerd, that *its* rule carries the traffic (the rule's
packet counter grows: it sits above any broader rule in the chain), and that ``down`` removes it.
"""

from __future__ import annotations

import re
import subprocess
import time

import httpx
import pytest

from harness.faults import heal_all
from harness.stack.docker.engine import engine_problem
from harness.stack.local import netns as net
from harness.stack.local.verify import leftovers

pytestmark = [pytest.mark.integration, pytest.mark.root]


def _forward_policy() -> str:
    head = net.iptables(["-t", "filter", "-S", "FORWARD"], check=False).splitlines()[:1]
    return head[0].split()[-1] if head else "?"


def _docker_user_rows() -> list[tuple[int, str]]:
    """(packets, rule text) of each DOCKER-USER rule, in chain order."""
    out = net.iptables(["-t", "filter", "-L", net.DOCKER_USER, "-v", "-n", "-x"], check=False)
    rows = []
    for line in out.splitlines()[2:]:
        m = re.match(r"\s*(\d+)\s+\d+\s+(.*)$", line)
        if m:
            rows.append((int(m.group(1)), m.group(2)))
    return rows


def _our_packets(key: str) -> tuple[int, int]:
    """(position in DOCKER-USER, packets) of the run's accept rule."""
    comment = net.forward_comment(key)
    for i, (pkts, text) in enumerate(_docker_user_rows()):
        if comment in text:
            return i, pkts
    raise AssertionError(f"no DOCKER-USER rule with comment {comment!r}: {_docker_user_rows()}")


def _broad_accept(text: str) -> bool:
    """An ACCEPT rule not tied to one bridge (``-i ch-+ -o ch-+``, or any interface)."""
    words = text.split()
    return bool(words) and words[0] == "ACCEPT" and any(w in ("*", "ch-+") for w in words[3:5])


@pytest.fixture
def dockerd(stack_skip_reason) -> None:
    reason = stack_skip_reason(need_netns=True)
    if reason:
        pytest.skip(reason)
    problem = engine_problem()
    if problem:
        pytest.skip(f"needs a running dockerd (scripts/setup.sh starts one): {problem}")
    if subprocess.run(["iptables", "-w", "5", "-S", net.DOCKER_USER],
                      capture_output=True, check=False).returncode != 0:
        pytest.skip("dockerd runs without its iptables chains (--iptables=false)")


@pytest.mark.slow
def test_local_stack_runs_beside_dockerd_on_its_own_rule(dockerd, remember_run_key) -> None:
    from harness.stack import open_stack

    assert _forward_policy() == "DROP", "dockerd is up, so FORWARD's policy should be DROP"
    with open_stack(substrate="local", ready_timeout=90.0) as stack:
        key = stack.record.key  # type: ignore[attr-defined]
        remember_run_key(key)
        # Ready means Redis replicas linked and Qdrant/app traffic crossed the bridge.
        pos, before = _our_packets(key)
        above = [text for _, text in _docker_user_rows()[:pos]]
        assert not any(_broad_accept(t) for t in above), (
            f"our rule must sit above every broader accept rule, found above it: {above}")
        assert before > 0, "the stack became ready, so our rule must have accepted its traffic"
        # Traffic between zones now (replication pings, an answer that reads the cache).
        with httpx.Client(timeout=10.0) as client:
            for _ in range(5):
                client.post(f"{stack.topology.front_door.url}/v1/answer",
                            headers={"X-API-Key": stack.topology.api_key},
                            json={"question": "How does Sentinel fail over?"})
        time.sleep(1.5)
        _, after = _our_packets(key)
        assert after > before, f"our rule's packet counter did not grow ({before} -> {after})"
        # Healing deletes the run's fault rules, never its forwarding rule.
        heal_all(stack)
        _our_packets(key)
    assert leftovers(key) == []
    assert not any(net.forward_comment(key) in t for _, t in _docker_user_rows())


def test_forwarding_rules_come_and_go(dockerd) -> None:
    """allow/disallow on a bare bridge: the rule lands in DOCKER-USER, above the chain's other
    rules, and disallow leaves no rule and no chain behind (twice is fine)."""
    key, bridge = "fwdt01", "ch-fwdt01-br"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        added = net.allow_forwarding(key, bridge)
        assert added and net.DOCKER_USER in added[0]
        pos, _ = _our_packets(key)
        assert pos == 0
    finally:
        removed = net.disallow_forwarding(key)
        net.disallow_forwarding(key)
        subprocess.run(["ip", "link", "del", bridge], check=False)
    assert removed
    assert leftovers(key) == []
