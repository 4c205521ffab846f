"""The ``local`` substrate: real processes of real servers, zones as network namespaces.

See :mod:`harness.stack.local.lifecycle` (up/down/attach), :mod:`~.plan` (names and addresses),
:mod:`~.configs` (server configuration), :mod:`~.netfaults` (isolation, partitions, loss) and
:mod:`~.record` (the on-disk journal that makes every run reapable).
"""

from __future__ import annotations

from harness.stack.local.lifecycle import attach_local, open_local_stack, start_local_stack
from harness.stack.local.netns import netns_unavailable_reason
from harness.stack.local.record import RunRecord, RunStore
from harness.stack.local.stack import LocalStack

__all__ = [
    "LocalStack",
    "RunRecord",
    "RunStore",
    "attach_local",
    "netns_unavailable_reason",
    "open_local_stack",
    "start_local_stack",
]
