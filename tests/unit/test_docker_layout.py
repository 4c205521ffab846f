"""The docker substrate's Topology has the same shape as the local one; ports and project names."""

from __future__ import annotations

import pytest

from harness.stack.docker import layout
from harness.stack.local.plan import build_topology as local_topology
from harness.stack.local.plan import make_plan
from harness.topology import Topology


def _docker(base: int = layout.DEFAULT_PORT_BASE) -> Topology:
    return layout.build_topology(run_id="r1", port_base=base, api_key="secret")


def _local() -> Topology:
    return local_topology(make_plan("r1", netns_mode=False, octet=9), api_key="secret",
                          cluster=True)


def test_same_services_kinds_zones_and_endpoint_names_as_local() -> None:
    docker, local = _docker(), _local()
    shape = {s.name: (s.kind, s.zone, set(s.endpoints)) for s in docker.services}
    assert shape == {s.name: (s.kind, s.zone, set(s.endpoints) | ({"runtime"} if s.name ==
                                                                   "haproxy" else set()))
                     for s in local.services}
    for s in docker.services:  # same schemes per endpoint too
        for name, ep in s.endpoints.items():
            if name in local.service(s.name).endpoints:
                assert ep.scheme == local.service(s.name).endpoint(name).scheme, (s.name, name)
    assert docker.zones == local.zones
    assert (docker.substrate, docker.vector_mode, docker.zone_isolation) == ("docker", "cluster",
                                                                            True)


def test_every_endpoint_is_a_distinct_loopback_port_of_the_run_block() -> None:
    base = 24000
    topo = _docker(base)
    ports = [(e.host, e.port) for s in topo.services for e in s.endpoints.values()]
    assert len(ports) == len(set(ports))
    assert all(h == "127.0.0.1" and base <= p < base + layout.PORT_BLOCK for h, p in ports)
    assert topo.front_door.url == f"http://127.0.0.1:{base}"
    assert topo.service("toxiproxy").endpoint("main").port == base + 3


def test_topology_round_trips_through_json() -> None:
    topo = _docker()
    assert Topology.from_json(topo.to_json()) == topo


def test_port_variables_are_unique_shell_names() -> None:
    names = [layout.port_variable(s.name, p.endpoint) for s in layout.SERVICES for p in s.ports]
    assert len(names) == len(set(names))
    assert all(n.replace("_", "").isalnum() and n.isupper() for n in names)
    assert layout.port_variable("app-az-a", "main") == "CHAOS_PORT_APP_AZ_A_MAIN"
    assert set(layout.port_environment(21000)) == set(names)


def test_port_block_avoids_the_ephemeral_range() -> None:
    lo, hi = layout.PORT_RANGE
    assert hi <= 32768 and lo >= 1024


def test_allocation_is_deterministic_and_skips_busy_ports() -> None:
    first = layout.allocate_port_base("run-x", is_free=lambda p: True)
    assert first == layout.allocate_port_base("run-x", is_free=lambda p: True)
    assert (first - layout.PORT_RANGE[0]) % layout.PORT_BLOCK == 0
    busy = first + 21  # one port of that block is taken: the next block is chosen
    second = layout.allocate_port_base("run-x", is_free=lambda p: p != busy)
    assert second != first and busy not in range(second, second + layout.PORT_BLOCK)
    spread = {layout.allocate_port_base(f"run-{i}", is_free=lambda p: True) for i in range(8)}
    assert len(spread) > 4  # concurrent runs start from different blocks


def test_allocation_fails_clearly_when_nothing_is_free() -> None:
    with pytest.raises(RuntimeError, match="no block of 50 free ports"):
        layout.allocate_port_base("r", is_free=lambda p: False)


def test_allocation_probes_real_sockets() -> None:
    base = layout.allocate_port_base("probe-real")
    assert layout.PORT_RANGE[0] <= base < layout.PORT_RANGE[1]


@pytest.mark.parametrize(("run_id", "project"), [
    ("abc123", "chaos-abc123"), ("Run.ID_7", "chaos-run-id_7"), ("???", "chaos-run"),
])
def test_project_names_are_valid_compose_names(run_id: str, project: str) -> None:
    assert layout.project_name(run_id) == project
    assert len(layout.project_name("x" * 200)) <= 63


def test_zone_services_are_on_zone_and_interzone_only() -> None:
    for s in layout.SERVICES:
        if s.zone.startswith("az-"):
            assert s.networks == (s.zone, layout.INTERZONE_NETWORK)
    assert set(layout.EDGE_SERVICES) == {"haproxy", "toxiproxy"}
