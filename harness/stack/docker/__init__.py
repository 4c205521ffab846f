"""The ``docker`` substrate: ``docker-compose.ha.yml`` driven by testcontainers + the Docker SDK.

Same Topology as the local substrate (service names, zones, endpoint names), with every endpoint
published on 127.0.0.1 from a per-run block of host ports, a per-run compose project, and real
zone isolation through Docker network disconnects. See docs/docker.md.

Nothing here needs an engine until a stack is opened: :func:`docker_problem` says, within
milliseconds, why the substrate cannot run (no engine, no Compose v2 plugin) or returns None.
The heavy parts (testcontainers, the SDK, the stack) are imported on first use, so asking
``available_substrates()`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness.stack.docker.engine import compose_problem, docker_problem, engine_problem

if TYPE_CHECKING:
    from harness.stack.docker.compose import ProjectCompose
    from harness.stack.docker.layout import build_topology, project_name
    from harness.stack.docker.lifecycle import (
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

_LAZY = {
    "DockerStack": "harness.stack.docker.stack",
    "ProjectCompose": "harness.stack.docker.compose",
    "attach_docker": "harness.stack.docker.lifecycle",
    "open_docker_stack": "harness.stack.docker.lifecycle",
    "start_docker_stack": "harness.stack.docker.lifecycle",
    "build_topology": "harness.stack.docker.layout",
    "project_name": "harness.stack.docker.layout",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
