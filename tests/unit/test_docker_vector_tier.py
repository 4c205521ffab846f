"""The docker substrate without a Qdrant image: the vector tier is embedded in each replica.

Pure logic with an SDK stand-in for "which images does the engine have"; the engine tests run the
embedded stack for real.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.knobs import resolve_knobs
from harness.stack.base import QdrantCluster
from harness.stack.docker import configs, layout, lifecycle
from harness.stack.docker.record import DockerRun
from harness.stack.docker.stack import DockerClusterStack, DockerStack, make_docker_stack
from harness.stack.qdrant_api import QDRANT_IMAGE
from harness.topology import Kind


class _Images:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, name: str) -> object:
        if name not in self.present:
            raise LookupError(name)  # the SDK raises ImageNotFound
        return object()


class _Client:
    def __init__(self, *present: str) -> None:
        self.images = _Images(set(present))


def test_cluster_only_with_a_qdrant_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOS_QDRANT_IMAGE", raising=False)
    cluster, why = lifecycle.vector_tier(_Client())
    assert not cluster and "embedded" in why and QDRANT_IMAGE in why
    # the image compose runs (docker-compose.ha.yml's default), no other tag
    assert lifecycle.vector_tier(_Client(QDRANT_IMAGE))[0]
    assert not lifecycle.vector_tier(_Client("qdrant/qdrant:v1.17.0"))[0]
    monkeypatch.setenv("CHAOS_QDRANT_IMAGE", "chaos-harness-qdrant:local")
    assert lifecycle.vector_tier(_Client())[0]  # explicit: compose pulls or says why not


def test_build_only_when_the_engine_lacks_the_images(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOS_APP_IMAGE", raising=False)
    monkeypatch.delenv("CHAOS_SIMULATOR_IMAGE", raising=False)
    assert lifecycle.needs_build(_Client("chaos-harness-app:local"))
    assert not lifecycle.needs_build(_Client("chaos-harness-app:local",
                                             "chaos-harness-simulator:local"))


def test_embedded_run_has_no_qdrant_services_or_backend() -> None:
    assert not any(s.kind is Kind.QDRANT for s in layout.run_services(cluster=False))
    topo = layout.build_topology(run_id="e", port_base=21000, api_key="k", cluster=False)
    assert topo.vector_mode == "embedded" and not topo.of_kind(Kind.QDRANT)
    knobs = resolve_knobs()
    env = configs.app_env(knobs, cluster=False)
    assert env["RAG_QDRANT_MODE"] == "embedded" and env["RAG_QDRANT_URL"] == ""
    assert "backend qdrant" not in configs.haproxy_config(knobs, cluster=False)
    assert "backend qdrant" in configs.haproxy_config(knobs, cluster=True)


def _run(cluster: bool) -> DockerRun:
    return DockerRun(run_id="e", project="chaos-e", context=".", compose_file="x.yml",
                     state_dir="/nonexistent", port_base=21000, api_key="k", provider_key="p",
                     control_token="t", seed=1, cluster=cluster)


def test_only_a_cluster_run_offers_qdrant_cluster() -> None:
    client: Any = _Client()
    embedded = make_docker_stack(run=_run(False), client=client)
    cluster = make_docker_stack(run=_run(True), client=client)
    assert type(embedded) is DockerStack and not isinstance(embedded, QdrantCluster)
    assert isinstance(cluster, DockerClusterStack) and isinstance(cluster, QdrantCluster)
    assert "qdrant-az-a" not in {s.name for s in embedded.services}
