"""The Topology the local substrate builds: contract names, endpoints, selectors, JSON."""

from __future__ import annotations

import pytest

from harness.stack.local.plan import build_topology, make_plan
from harness.topology import Kind, Selector, Topology

CONTRACT_NAMES = {
    "app-az-a", "app-az-b", "app-az-c", "redis-az-a", "redis-az-b", "redis-az-c",
    "sentinel-az-a", "sentinel-az-b", "sentinel-az-c", "haproxy", "toxiproxy",
    "provider-primary", "provider-fallback",
}


@pytest.fixture
def topo() -> Topology:
    return build_topology(make_plan("ab12cd", netns_mode=True, octet=9), api_key="k",
                          cluster=False)


def test_service_names_and_zones_match_the_contract(topo: Topology) -> None:
    assert {s.name for s in topo.services} == CONTRACT_NAMES
    assert {s.zone for s in topo.of_kind(Kind.PROVIDER)} == {"external"}
    assert {s.zone for s in (topo.service("haproxy"), topo.service("toxiproxy"))} == {"edge"}
    assert [s.name for s in topo.in_zone("az-b")] == ["app-az-b", "redis-az-b", "sentinel-az-b"]
    assert topo.vector_mode == "embedded" and topo.zone_isolation
    assert topo.front_door.url == "http://10.213.9.1:8080"


def test_cluster_mode_adds_qdrant_nodes_and_proxy() -> None:
    plan = make_plan("ab12cd", netns_mode=False, octet=120)
    topo = build_topology(plan, api_key="k", cluster=True)
    assert {s.name for s in topo.of_kind(Kind.QDRANT)} == {"qdrant-az-a", "qdrant-az-b",
                                                          "qdrant-az-c"}
    assert topo.service("qdrant-az-b").endpoint("p2p").port == 6335
    assert "qdrant" in topo.service("toxiproxy").endpoints
    assert topo.service("haproxy").endpoint("qdrant").address == "127.0.120.1:6333"
    assert not topo.zone_isolation and topo.vector_mode == "cluster"


def test_round_trip_and_selectors(topo: Topology) -> None:
    again = Topology.from_json(topo.to_json())
    assert again == topo
    assert [s.name for s in Selector.parse("zone=az-c,kind=redis").resolve(topo)] == [
        "redis-az-c"]
    assert len(Selector.parse("service=app").resolve(topo)) == 3
    master = Selector.parse("role=redis-master").resolve(topo, lambda r: ["redis-az-b"])
    assert [s.name for s in master] == ["redis-az-b"]
    ctl = topo.service("provider-primary").endpoint("control")
    assert (ctl.host, ctl.port) == ("10.213.9.20", 9101)
