"""The public API of the stack package is pinned: extend it on purpose, never by accident."""

from __future__ import annotations

import inspect

import harness.stack
import harness.stack.local


def test_stack_package_api() -> None:
    assert sorted(harness.stack.__all__) == sorted([
        "CAPABILITY_SUBSTRATES", "SUBSTRATES", "Killable", "NetworkFaults", "Pausable",
        "PeerAddressed", "ProcessProbe", "ProcessState", "ProviderControl", "Proxied",
        "QdrantCluster", "ServiceStatus", "Stack", "StackStatus",
        "ZoneIsolatable", "attach", "available_substrates", "open_stack",
        # the external substrate (#15)
        "CONFIRM_ENV", "HAProxyRuntime", "RedisAdmin", "TOPOLOGY_ENV"])
    assert sorted(harness.stack.local.__all__) == sorted([
        "LocalStack", "RunRecord", "RunStore", "attach_local", "netns_unavailable_reason",
        "open_local_stack", "start_local_stack"])


def test_open_stack_signature_matches_the_contract() -> None:
    params = inspect.signature(harness.stack.open_stack).parameters
    assert list(params) == ["substrate", "knobs", "run_id", "timeline", "ready_timeout",
                            "topology", "confirmed"]  # the last two: substrate external
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert params["substrate"].default == "local" and params["ready_timeout"].default == 60.0
    assert next(iter(inspect.signature(harness.stack.attach).parameters)) == "run_id"


def test_available_substrates_names_both() -> None:
    subs = harness.stack.available_substrates()
    assert set(subs) == {"local", "docker", "external"}
    assert all(v is None or (isinstance(v, str) and v) for v in subs.values())
