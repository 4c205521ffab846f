"""Substrates that bring the reference HA stack up and down.

``open_stack(substrate="local")`` is the entry point: a context manager that starts the stack,
waits for real readiness and tears everything down on exit (also on error and Ctrl-C/SIGTERM).
``attach()`` finds the stack a ``chaos-harness up`` left running. ``available_substrates()`` says
which substrates can run here, and if not, why.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
from collections.abc import Iterator, Mapping
from typing import Any

from harness.errors import ConfigError, StackError
from harness.stack.base import (
    CAPABILITY_SUBSTRATES,
    HAProxyRuntime,
    Killable,
    NetworkFaults,
    Pausable,
    PeerAddressed,
    ProcessProbe,
    ProcessState,
    ProviderControl,
    Proxied,
    QdrantCluster,
    RedisAdmin,
    ServiceStatus,
    Stack,
    StackStatus,
    ZoneIsolatable,
)
from harness.timeline import Timeline

__all__ = [
    "CAPABILITY_SUBSTRATES",
    "CONFIRM_ENV",
    "SUBSTRATES",
    "TOPOLOGY_ENV",
    "HAProxyRuntime",
    "Killable",
    "NetworkFaults",
    "Pausable",
    "PeerAddressed",
    "ProcessProbe",
    "ProcessState",
    "ProviderControl",
    "Proxied",
    "QdrantCluster",
    "RedisAdmin",
    "ServiceStatus",
    "Stack",
    "StackStatus",
    "ZoneIsolatable",
    "attach",
    "available_substrates",
    "open_stack",
]

SUBSTRATES = ("local", "docker", "external")
#: where ``open_stack(substrate="external")`` finds its topology file and confirmation when the
#: caller does not pass them (set by ``--topology`` / ``--yes-touch-external``)
TOPOLOGY_ENV = "CHAOS_TOPOLOGY"
CONFIRM_ENV = "CHAOS_YES_TOUCH_EXTERNAL"
_LOCAL_BINARIES = ("redis-server", "redis-sentinel", "haproxy", "toxiproxy-server")


def _local_problem() -> str | None:
    missing = [b for b in _LOCAL_BINARIES if shutil.which(b) is None]
    if missing:
        return f"missing binaries {missing}: run scripts/setup.sh"
    return None


def _docker_problem() -> str | None:
    try:
        engine = importlib.import_module("harness.stack.docker.engine")
    except ImportError as exc:
        return f"docker substrate not installed: {exc}"
    problem: str | None = engine.docker_problem()
    return problem


def available_substrates() -> dict[str, str | None]:
    """Substrate name -> None when usable here, else the reason it is not.

    ``local`` without root or namespaces still works (loopback zones, no zone isolation):
    see ``harness.stack.local.netns_unavailable_reason()``.
    """
    return {"local": _local_problem(), "docker": _docker_problem(),
            "external": None if os.environ.get(TOPOLOGY_ENV) else
            f"needs a topology file (--topology FILE, or ${TOPOLOGY_ENV})"}


def _check_substrate(substrate: str) -> None:
    if substrate not in SUBSTRATES:
        raise ConfigError("unknown substrate", field="substrate", value=substrate,
                          allowed=SUBSTRATES)


@contextlib.contextmanager
def open_stack(*, substrate: str = "local", knobs: Mapping[str, Any] | None = None,
               run_id: str | None = None, timeline: Timeline | None = None,
               ready_timeout: float = 60.0, topology: str | None = None,
               confirmed: bool = False) -> Iterator[Stack]:
    """Bring a stack up, wait for readiness, yield it, tear it down on exit.

    ``external``: open the deployment the topology file describes (``topology``, else
    ``$CHAOS_TOPOLOGY``); nothing is started or stopped. ``confirmed`` (or
    ``$CHAOS_YES_TOUCH_EXTERNAL=1``) lets runs touch it; knobs cannot be set on it.
    """
    _check_substrate(substrate)
    if substrate == "external":
        path = topology or os.environ.get(TOPOLOGY_ENV)
        if not path:
            raise ConfigError("the external substrate needs a topology file", field="--topology",
                              allowed=f"--topology FILE or ${TOPOLOGY_ENV}")
        if knobs:
            raise ConfigError("knobs configure the reference stack; an external deployment is "
                              "configured by its owners", field="knobs", value=dict(knobs),
                              allowed="no knobs with substrate 'external'")
        from harness.stack.external import open_external_stack

        with open_external_stack(path, timeline=timeline, ready_timeout=ready_timeout,
                                 confirmed=confirmed or os.environ.get(CONFIRM_ENV) == "1",
                                 ) as ext:
            yield ext
        return
    if substrate == "local":
        from harness.stack.local import open_local_stack

        with open_local_stack(knobs=knobs, run_id=run_id, timeline=timeline,
                              ready_timeout=ready_timeout) as stack:
            yield stack
        return
    problem = _docker_problem()
    if problem:
        raise StackError(f"the docker substrate cannot run here: {problem}",
                         component="docker", hint="use substrate 'local'")
    docker = importlib.import_module("harness.stack.docker")
    with docker.open_docker_stack(knobs=knobs, run_id=run_id, timeline=timeline,
                                  ready_timeout=ready_timeout) as stack:
        yield stack


def attach(run_id: str | None = None, *, substrate: str = "local",
           timeline: Timeline | None = None) -> Stack:
    """The running stack started by ``chaos-harness up`` (found through its state on disk)."""
    _check_substrate(substrate)
    if substrate == "external":
        raise ConfigError("an external deployment is not attached to: it is opened from its "
                          "topology file", field="--substrate", value=substrate,
                          allowed="chaos-harness run --substrate external --topology FILE")
    if substrate == "local":
        from harness.stack.local import attach_local

        return attach_local(run_id, timeline=timeline)
    docker = importlib.import_module("harness.stack.docker")
    stack: Stack = docker.attach_docker(run_id, timeline=timeline)
    return stack
