"""The topology file (model, schema, secrets) and the external substrate's pure parts:
capabilities from sections, hints naming what to add, admission, redaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError, UnsupportedFault
from harness.experiment.model import Experiment
from harness.faults import build_fault
from harness.stack.base import HAProxyRuntime, ProviderControl, Proxied, QdrantCluster, RedisAdmin
from harness.stack.external import capabilities, make_external_stack
from harness.stack.external.jsonschema import SCHEMA_PATH, render
from harness.stack.external.loader import load_topology_file, resolve_secrets, topology_from_data
from harness.stack.external.safety import admit, touch_plan
from harness.topology import Kind

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-live-DO-NOT-LEAK-4242"

MINIMAL: dict[str, Any] = {
    "version": 1, "name": "staging",
    "front_door": {"url": "http://127.0.0.1:18080",
                   "auth": {"header": "X-API-Key", "value_env": "T_API_KEY"}},
    "limits": {"max_rate": 50},
}
FULL: dict[str, Any] = {
    **MINIMAL,
    "apps": [{"name": "app-az-a", "zone": "az-a", "url": "http://127.0.0.1:18001",
              "haproxy_server": "web1"},
             {"name": "app-az-b", "zone": "az-b"}],
    "haproxy": {"runtime_api": "tcp://127.0.0.1:19999", "backend": "web"},
    "redis": {"master_name": "cache", "admin": True,
              "sentinels": [{"name": "s1", "zone": "az-a", "address": "127.0.0.1:26379"}],
              "nodes": [{"name": "r1", "zone": "az-a", "address": "127.0.0.1:6379"}]},
    "qdrant": {"collection": "docs",
               "nodes": [{"name": "q1", "zone": "az-b", "url": "http://127.0.0.1:6333"}]},
    "toxiproxy": {"api": "http://127.0.0.1:8474", "proxies": {"redis-r1": "r1"}},
    "providers": [{"name": "primary", "url": "http://127.0.0.1:9001",
                   "control_url": "http://127.0.0.1:9101", "token_env": "T_TOKEN"}],
    "prometheus": {"url": "http://127.0.0.1:9090"},
}
ENV = {"T_API_KEY": SECRET, "T_TOKEN": "tok-123"}


def _stack(data: dict[str, Any], confirmed: bool = True) -> Any:
    spec = topology_from_data(data, file="topo.yaml")
    return make_external_stack(spec, file="topo.yaml",
                               secrets=resolve_secrets(spec, environ=ENV), confirmed=confirmed)


@pytest.fixture
def stacks() -> Any:
    made: list[Any] = []

    def make(data: dict[str, Any], confirmed: bool = True) -> Any:
        made.append(_stack(data, confirmed))
        return made[-1]

    yield make
    for s in made:
        s.down()


def test_committed_schema_matches_model() -> None:
    assert SCHEMA_PATH.read_text() == render(), (
        "harness/stack/external/schema.json is stale: run "
        "python -m harness.stack.external.jsonschema")


def test_schema_accepts_full_file_and_rejects_a_literal_secret() -> None:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validate(FULL, schema)
    bad = {**MINIMAL, "front_door": {"url": "http://h:1", "auth": {"value": SECRET}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


@pytest.mark.parametrize(("patch", "field"), [
    ({"front_door": {"url": "https://h:1/x"}}, "front_door.url"),
    ({"limits": {"max_rate": 0}}, "limits.max_rate"),
    ({"haproxy": {"runtime_api": "h:1"}}, "haproxy.runtime_api"),
    ({"front_door": {"url": "http://h:1", "auth": {"value_env": "T", "value": "x"}}},
     "front_door.auth.value"),
    ({"apps": [{"name": "a", "zone": "mars"}]}, "apps[0].zone"),
])
def test_bad_files_name_file_and_field(patch: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        topology_from_data({**MINIMAL, **patch}, file="topo.yaml")
    assert err.value.file == "topo.yaml" and err.value.field == field


def test_missing_secret_is_named_but_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(json.dumps(MINIMAL))
    spec = load_topology_file(path)
    with pytest.raises(ConfigError, match="T_API_KEY is not set"):
        resolve_secrets(spec, environ={})
    assert resolve_secrets(spec, environ=ENV) == {"T_API_KEY": SECRET}


def test_capabilities_follow_the_sections(stacks: Any) -> None:
    bare = stacks(MINIMAL)
    assert capabilities(bare) == ()
    for proto in (Proxied, ProviderControl, QdrantCluster, HAProxyRuntime, RedisAdmin):
        assert not isinstance(bare, proto)
    full = stacks(FULL)
    assert set(capabilities(full)) == {"Proxied", "ProviderControl", "QdrantCluster",
                                       "HAProxyRuntime", "RedisAdmin"}
    assert full.haproxy_server("app-az-a") == "web1" and full.haproxy_backend == "web"
    assert full.provider_control("primary") == ("http://127.0.0.1:9101", "tok-123")
    no_admin = stacks({**FULL, "redis": {**FULL["redis"], "admin": False}})
    assert "RedisAdmin" not in capabilities(no_admin)
    assert no_admin.sentinel_master == "cache"  # observers still watch Sentinel
    topo = full.topology
    assert [s.name for s in topo.of_kind(Kind.APP)] == ["app-az-a", "app-az-b"]
    assert topo.substrate == "external" and topo.vector_mode == "cluster"
    assert topo.service("provider-primary").endpoint("control").port == 9101


@pytest.mark.parametrize(("fault", "params", "capability", "hint"), [
    ("latency", {"proxy": "p"}, "Proxied", "toxiproxy:"),
    ("provider-5xx", {}, "ProviderControl", "providers:"),
    ("server-drain", {}, "HAProxyRuntime", "haproxy: {runtime_api"),
    ("sentinel-failover", {}, "RedisAdmin", "admin: true"),
    ("kill", {}, "Killable", "user-command"),
    ("zone-isolate", {}, "ZoneIsolatable", "user-command"),
    ("qdrant-node-loss", {}, "QdrantCluster", "qdrant:"),
])
def test_missing_capability_says_what_to_add(stacks: Any, fault: str, params: dict[str, Any],
                                             capability: str, hint: str) -> None:
    target = {"server-drain": "service=app-az-a", "kill": "service=app-az-a",
              "zone-isolate": "zone=az-b"}.get(fault)
    f = build_fault(fault, target=target, params=params)
    with pytest.raises(UnsupportedFault) as err:
        f.check_supported(stacks(MINIMAL))
    assert err.value.capability == capability
    assert hint in str(err.value) and "topo.yaml" in str(err.value)
    if capability not in ("Killable", "ZoneIsolatable", "QdrantCluster"):
        f.check_supported(stacks(FULL))


def _exp(**over: Any) -> Experiment:
    data: dict[str, Any] = {"name": "e", "hypothesis": "h", "load": {"rate": 20},
                            "stop_conditions": [{"max_bad_fraction": 0.5}],
                            "method": [{"fault": "provider-5xx", "duration": 5}]}
    data.update(over)
    return Experiment.model_validate(data)


def test_admission_needs_confirmation_rate_cap_and_stop_conditions(stacks: Any) -> None:
    faults = [build_fault("provider-5xx")]
    admit(stacks(FULL), _exp(), faults)  # confirmed, under the cap, with a stop condition
    with pytest.raises(ConfigError, match="--yes-touch-external") as err:
        admit(stacks(FULL, confirmed=False), _exp(), faults)
    assert "provider-5xx" in str(err.value)  # the plan is shown
    with pytest.raises(ConfigError) as err:
        admit(stacks(FULL), _exp(load={"rate": 51}), faults)
    assert err.value.field == "limits.max_rate"
    with pytest.raises(ConfigError) as err:
        admit(stacks(FULL), _exp(stop_conditions=[]), faults)
    assert err.value.field == "stop_conditions"


def test_touch_plan_names_commands_and_redacts_secrets(stacks: Any) -> None:
    stack = stacks(FULL)
    cmd = build_fault("user-command", params={
        "inject_command": f"kubectl delete pod web-1 --token {SECRET}",
        "probe": "tcp-closed 10.0.0.1:8000"})
    lines = touch_plan(stack, _exp(), [cmd, build_fault("sentinel-failover")])
    text = "\n".join(lines)
    assert "kubectl delete pod web-1" in text and "SENTINEL FAILOVER cache" in text
    assert SECRET not in text and "***" in text
    assert stack.status().api_key == "***"


def test_other_auth_header_goes_to_request_headers(stacks: Any) -> None:
    stack = stacks({**MINIMAL, "front_door": {"url": "http://h:1", "auth": {
        "header": "Authorization", "prefix": "Bearer", "value_env": "T_API_KEY"}}})
    assert stack.request_headers == {"Authorization": f"Bearer {SECRET}"}
    assert stack.topology.api_key == ""


def test_probe_grammar() -> None:
    from harness.faults.probes_spec import parse_probe, revert_probe_for

    assert str(revert_probe_for(parse_probe("tcp-closed h:1"))) == "tcp-open h:1"
    assert str(revert_probe_for(parse_probe("haproxy app/a1 MAINT"))) == "haproxy app/a1 UP"
    assert str(revert_probe_for(parse_probe("master-changed"))) == "replication-converged"
    for bad in ("tcp-closed", "haproxy app MAINT", "http ftp://x 200", "reboot"):
        with pytest.raises(ConfigError):
            parse_probe(bad)
    with pytest.raises(ConfigError) as err:
        build_fault("user-command", params={"inject_command": "true", "probe": "nope"},
                    field="method[2]")
    assert err.value.field == "method[2].params.probe"


def test_open_stack_external_needs_a_file_and_takes_no_knobs(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.stack import TOPOLOGY_ENV, attach, open_stack

    monkeypatch.delenv(TOPOLOGY_ENV, raising=False)
    with pytest.raises(ConfigError, match="topology file"), open_stack(substrate="external"):
        pass
    path = tmp_path / "t.yaml"
    path.write_text(json.dumps(MINIMAL))
    monkeypatch.setenv(TOPOLOGY_ENV, str(path))
    with pytest.raises(ConfigError, match="knobs"), open_stack(
            substrate="external", knobs={"haproxy.retries": 0}):
        pass
    with pytest.raises(ConfigError, match="not attached"):
        attach(substrate="external")


def test_admission_refuses_knobs(stacks: Any) -> None:
    with pytest.raises(ConfigError) as err:
        admit(stacks(FULL), _exp(stack={"knobs": {"app.fallback_enabled": False}}),
              [build_fault("provider-5xx")])
    assert err.value.field == "stack.knobs"


def test_example_external_experiments_load_and_are_admissible(stacks: Any) -> None:
    from harness.experiment.checks import build_faults
    from harness.experiment.loader import load_experiment

    files = sorted((ROOT / "experiments" / "external").glob("*.yaml"))
    assert len(files) >= 5
    stack = stacks(FULL)
    for f in files:
        exp = load_experiment(f)
        admit(stack, exp.with_overrides(rate=stack.max_rate), build_faults(exp, file=str(f)))


def test_prometheus_up_answer_becomes_subjects(stacks: Any) -> None:
    from harness.probes.prometheus import up_states

    answer = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"job": "rag", "instance": "10.0.1.11:8000"}, "value": [1.0, "1"]},
        {"metric": {"job": "redis", "instance": "10.0.1.12:9121"}, "value": [1.0, "0"]}]}}
    assert up_states(answer) == {"prom/rag/10.0.1.11:8000": True,
                                 "prom/redis/10.0.1.12:9121": False}
    with pytest.raises(ValueError):
        up_states({"status": "error"})
    assert stacks(FULL).prometheus_url == "http://127.0.0.1:9090"
    assert not hasattr(stacks(MINIMAL), "prometheus_url")
