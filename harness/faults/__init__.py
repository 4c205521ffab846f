"""The fault library: every fault verified from outside when injected and when reverted.

Use a fault as a context manager so revert always runs::

    fault = build_fault("zone-isolate", target="zone=az-b")
    with fault.applied(stack, timeline, fault_id="f1") as handle:
        assert handle.landed, handle.detail
        ...  # load runs, observers watch
    # reverted, verified, and recorded in the timeline

Families (one module each): ``process`` (kill, pause), ``zone`` (zone-power, zone-isolate),
``network`` (partition, packet-loss, and the Toxiproxy toxics: latency, bandwidth, timeout,
reset-peer, slow-close, slicer, limit-data, proxy-down), ``provider`` (provider-*),
``datastore`` (redis-master-loss, qdrant-node-loss). ``chaos-harness fault list`` prints the
catalog with parameters and substrates (:func:`describe_faults`).
"""

from __future__ import annotations

from harness.faults import (
    command,
    datastore,
    drain,
    network,
    process,
    provider,
    redis_admin,
    toxics,
    zone,
)
from harness.faults.base import CAPABILITIES, Fault, FaultHandle, Injection, active_handles
from harness.faults.checks import Check
from harness.faults.heal import heal_all, load_records, revert_record, save_record
from harness.faults.params import Param
from harness.faults.registry import (
    FAULTS,
    FaultInfo,
    build_fault,
    describe_faults,
    format_fault_list,
)
from harness.faults.toxiproxy import Toxic, ToxiproxyClient, ToxiproxyError

__all__ = [
    "CAPABILITIES",
    "FAULTS",
    "Check",
    "Fault",
    "FaultHandle",
    "FaultInfo",
    "Injection",
    "Param",
    "Toxic",
    "ToxiproxyClient",
    "ToxiproxyError",
    "active_handles",
    "build_fault",
    "describe_faults",
    "format_fault_list",
    "heal_all",
    "load_records",
    "revert_record",
    "save_record",
]

_FAMILIES = (command, datastore, drain, network, process, provider, redis_admin, toxics,
             zone)  # imported to register
