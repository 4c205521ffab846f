"""Fault parameters, the registry and the catalog: validation with field paths, no servers."""

from __future__ import annotations

import pytest

import harness.faults as faults
from harness.durations import parse_duration
from harness.errors import ConfigError
from harness.faults import FAULTS, build_fault, describe_faults, format_fault_list
from harness.faults.params import Param, validate_params
from harness.faults.provider import PROVIDER_FAULTS
from harness.simulators.faults import FAULT_KINDS

EXPECTED_FAULTS = {
    "kill", "pause", "zone-power", "zone-isolate", "partition", "packet-loss", "latency",
    "bandwidth", "timeout", "reset-peer", "slow-close", "slicer", "limit-data", "proxy-down",
    "provider-5xx", "provider-429", "provider-latency", "provider-hang", "provider-slow-stream",
    "provider-stall-stream", "provider-disconnect", "provider-malformed", "provider-outage",
    "redis-master-loss", "qdrant-node-loss", "qdrant-leader-partition", "server-drain",
    "sentinel-failover", "redis-master-hang", "user-command",
}


def test_public_api_is_pinned() -> None:
    assert set(faults.__all__) == {
        "CAPABILITIES", "FAULTS", "Check", "Fault", "FaultHandle", "FaultInfo", "Injection",
        "Param", "Toxic", "ToxiproxyClient", "ToxiproxyError", "active_handles", "build_fault",
        "describe_faults", "format_fault_list", "heal_all", "load_records",
        "revert_record", "save_record"}


def test_registry_holds_the_whole_catalog() -> None:
    assert set(FAULTS) == EXPECTED_FAULTS
    families = {cls.FAMILY for cls in FAULTS.values()}
    assert families == {"zone", "process", "network", "provider", "datastore", "command"}


@pytest.mark.parametrize(("text", "seconds"), [
    (2, 2.0), (2.5, 2.5), ("500ms", 0.5), ("2s", 2.0), ("1m", 60.0), ("1h", 3600.0), ("0", 0.0),
    (" 1.5s ", 1.5)])
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["-1s", "fast", "", True, "1d", float("nan"), -3])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ConfigError, match="duration"):
        parse_duration(bad, field="method[0].for")


def test_unknown_fault_names_field_and_allowed_names() -> None:
    with pytest.raises(ConfigError) as info:
        build_fault("zone-los", target="zone=az-a", file="exp.yaml", field="method[2]")
    err = info.value
    assert err.field == "method[2].fault" and err.file == "exp.yaml" and err.value == "zone-los"
    assert "zone-power" in str(err.allowed) and "exp.yaml" in str(err)


def test_bad_param_value_names_path_value_and_allowed() -> None:
    with pytest.raises(ConfigError) as info:
        build_fault("packet-loss", params={"place": "az-a", "rate": 1.5})
    err = info.value
    assert err.field == "method[0].params.rate" and err.value == 1.5
    assert "[0.01, 1]" in str(err.allowed)


def test_unknown_param_lists_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        build_fault("latency", params={"proxy": "redis-az-a", "delay": 3})
    assert info.value.field == "method[0].params.delay"
    assert "latency_ms" in str(info.value.allowed)


def test_missing_required_param() -> None:
    with pytest.raises(ConfigError) as info:
        build_fault("packet-loss", params={"rate": 0.2})
    assert info.value.field == "method[0].params.place"


def test_choices_are_enforced() -> None:
    with pytest.raises(ConfigError) as info:
        build_fault("provider-5xx", params={"provider": "tertiary"})
    assert "primary" in str(info.value.allowed)
    with pytest.raises(ConfigError):
        build_fault("latency", params={"proxy": "redis-az-a", "stream": "sideways"})


def test_cli_strings_are_coerced() -> None:
    f = build_fault("latency", params={"proxy": "redis-az-a", "latency_ms": "250",
                                       "jitter_ms": "25", "toxicity": "0.5"})
    assert f.params == {"proxy": "redis-az-a", "stream": "downstream", "toxicity": 0.5,
                        "latency_ms": 250.0, "jitter_ms": 25.0}
    k = build_fault("kill", target="service=app-az-a", params={"restart_after": "500ms"})
    assert k.params["restart_after"] == 0.5
    p = build_fault("partition", params={"a": "az-a", "b": "az-b,edge"})
    assert p.params == {"a": ["az-a"], "b": ["az-b", "edge"]}
    assert build_fault("partition", params={"a": ["az-a"], "b": ["az-c"]}).params["b"] == ["az-c"]


def test_list_param_items_are_validated_with_index() -> None:
    with pytest.raises(ConfigError) as info:
        build_fault("partition", params={"a": "az-a", "b": ["az-b", "moon"]})
    assert info.value.field == "method[0].params.b[1]"


def test_partition_sides_must_be_disjoint() -> None:
    with pytest.raises(ConfigError, match="both sides") as info:
        build_fault("partition", params={"a": "az-a,az-b", "b": "az-b"})
    assert info.value.field == "method[0].params.b"


def test_target_rules() -> None:
    with pytest.raises(ConfigError, match="needs a target") as info:
        build_fault("kill")
    assert info.value.field == "method[0].target"
    with pytest.raises(ConfigError, match="takes no target"):
        build_fault("partition", target="zone=az-a", params={"a": "az-a", "b": "az-b"})
    with pytest.raises(ConfigError, match="unknown target key") as info:
        build_fault("kill", target="host=x")
    assert info.value.field == "method[0].target"
    with pytest.raises(ConfigError, match="availability zones"):
        build_fault("zone-power", target="zone=edge")
    with pytest.raises(ConfigError, match="cannot target 'app'"):
        build_fault("qdrant-node-loss", target="kind=app")
    assert str(build_fault("zone-isolate", target="role=redis-master").target) == \
        "role=redis-master"


def test_toxic_needs_exactly_one_of_proxy_or_target() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        build_fault("latency")
    with pytest.raises(ConfigError, match="exactly one"):
        build_fault("latency", target="service=provider-primary",
                    params={"proxy": "provider-primary"})
    assert build_fault("proxy-down", target="role=redis-master").target is not None


def test_specs_are_frozen_values() -> None:
    a = build_fault("provider-5xx", params={"rate": 0.5})
    b = build_fault("provider-5xx", params={"rate": "0.5"})
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.rate = 1.0  # type: ignore[misc]


def test_a_toxic_on_the_qdrant_proxy_needs_a_qdrant_cluster() -> None:
    assert build_fault("latency", params={"proxy": "qdrant", "latency_ms": 100}) \
        .required_capabilities() == ("Proxied", "QdrantCluster")
    assert build_fault("latency", params={"proxy": "provider-primary", "latency_ms": 100}) \
        .required_capabilities() == ("Proxied",)


def test_mode_changes_required_capabilities() -> None:
    assert build_fault("redis-master-loss").required_capabilities() == ("Killable",)
    assert build_fault("redis-master-loss", params={"mode": "isolate"}) \
        .required_capabilities() == ("ZoneIsolatable",)
    assert build_fault("qdrant-node-loss").required_capabilities() == ("QdrantCluster",
                                                                       "Killable")


def test_provider_faults_match_the_simulator_kinds() -> None:
    """Every simulator fault kind has a fault, with the simulator's parameter names."""
    kinds = {cls.KIND: cls for cls in PROVIDER_FAULTS.values()}
    assert set(kinds) == set(FAULT_KINDS)
    for kind, cls in kinds.items():
        ours = {p.name for p in cls.PARAMS} - {"provider", "rate"}
        assert ours == set(FAULT_KINDS[kind]), kind
        for p in cls.PARAMS:
            if p.name in FAULT_KINDS[kind] and p.type != "str":
                _, default, lo, hi = FAULT_KINDS[kind][p.name]
                assert (p.default, p.minimum, p.maximum) == (default, lo, hi), (kind, p.name)


def test_catalog_documents_every_fault() -> None:
    infos = describe_faults()
    assert {i.name for i in infos} == EXPECTED_FAULTS
    for info in infos:
        assert info.summary and info.substrates, info.name
        as_json = info.to_json()
        assert as_json["name"] == info.name and isinstance(as_json["params"], list)
    text = format_fault_list()
    for name in EXPECTED_FAULTS:
        assert f"  {name}: " in text
    assert "--param rate:" in text and "needs: QdrantCluster" in text


def test_validate_params_defaults_and_nullable() -> None:
    declared = (Param(name="n", type="int", default=3, minimum=1, help="h"),
                Param(name="d", type="duration", default=None, nullable=True, help="h"))
    assert validate_params("x", declared, {}) == {"n": 3, "d": None}
    assert validate_params("x", declared, {"d": None, "n": "7"}) == {"n": 7, "d": None}
    with pytest.raises(ConfigError):
        validate_params("x", declared, {"n": 2.5})
    with pytest.raises(ConfigError):
        validate_params("x", declared, {"n": True})
