"""The ``docker`` substrate: ``docker-compose.ha.yml`` driven by testcontainers + the Docker SDK.

Same Topology as the local substrate (service names, zones, endpoint names), with every endpoint
published on 127.0.0.1 from a per-run block of host ports, a per-run compose project, and real
zone isolation through Docker network disconnects. See docs/docker.md.

Nothing here needs an engine until a stack is opened: :func:`docker_problem` says, within
milliseconds, why the substrate cannot run (no engine, no Compose v2 plugin) or returns None.
"""

from __future__ import annotations

from harness.stack.docker.engine import compose_problem, docker_problem, engine_problem
from harness.stack.docker.layout import build_topology, project_name
from harness.stack.docker.lifecycle import (
    ProjectCompose,
    attach_docker,
    open_docker_stack,
    start_docker_stack,
)
from harness.stack.docker.stack import DockerStack

__all__ = [
    "DockerStack",
    "ProjectCompose",
    "attach_docker",
    "build_topology",
    "compose_problem",
    "docker_problem",
    "engine_problem",
    "open_docker_stack",
    "project_name",
    "start_docker_stack",
]
