"""The ``external`` substrate: verify a deployment the harness did not start.

``open_external_stack(path, confirmed=...)`` reads a topology file (:mod:`.model`, schema in
``schema.json``), looks its secrets up in the environment, and yields an
:class:`~harness.stack.external.stack.ExternalStack` whose capabilities are the sections the
file gives. Leaving the block forgets the deployment; nothing of it is started or stopped.
``topology_file_for(stack)`` writes a file describing a running local or docker stack
(``chaos-harness status --topology FILE``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from harness.stack.external.capabilities import make_external_stack
from harness.stack.external.loader import load_topology_file, resolve_secrets
from harness.stack.external.model import TopologyFile
from harness.stack.external.stack import ExternalStack, capabilities
from harness.stack.external.writer import topology_file_for, write_topology_file
from harness.timeline import Timeline

__all__ = [
    "ExternalStack",
    "TopologyFile",
    "capabilities",
    "load_topology_file",
    "make_external_stack",
    "open_external_stack",
    "resolve_secrets",
    "topology_file_for",
    "write_topology_file",
]


@contextlib.contextmanager
def open_external_stack(path: str | Path, *, timeline: Timeline | None = None,
                        confirmed: bool = False, ready_timeout: float = 30.0,
                        ) -> Iterator[ExternalStack]:
    """The deployment ``path`` describes, checked reachable; forgotten on exit."""
    spec = load_topology_file(path)
    secrets = resolve_secrets(spec, file=str(path))
    stack = make_external_stack(spec, file=str(path), secrets=secrets, timeline=timeline,
                                confirmed=confirmed)
    try:
        stack.wait_ready(ready_timeout)
        yield stack
    finally:
        stack.down()
