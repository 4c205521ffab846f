"""What a run left behind, looked up from the kernel and /proc (not from its record).

Used by ``chaos-harness down`` and the tests to prove teardown: no namespace, link, iptables
rule or process carrying the run's key may survive it.
"""

from __future__ import annotations

import os
import shutil

from harness.stack.local import netns as net
from harness.stack.local.procs import find_marked

__all__ = ["leftovers"]


def leftovers(key: str) -> list[str]:
    prefix = f"ch-{key}-"
    found: list[str] = []
    if net.NETNS_DIR.is_dir():
        found += [f"netns {n}" for n in os.listdir(net.NETNS_DIR) if n.startswith(prefix)]
    found += [f"link {n}" for n in os.listdir("/sys/class/net") if n.startswith(prefix)]
    if os.geteuid() == 0 and shutil.which("iptables"):
        rules = net.iptables(["-t", "filter", "-S"], check=False).splitlines()
        tag = f"chaos-harness:{key}"
        fwd, chain = net.forward_comment(key), net.forward_chain(key)
        found += [f"iptables {r}" for r in rules
                  if f'"{tag}' in r or f" {tag}" in r or fwd in r or chain in r.split()]
    found += [f"process {pid}" for pid in find_marked(key)]
    return found
