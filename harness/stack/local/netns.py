"""Kernel networking of a local run: namespaces, bridge, veths, iptables rules.

Zones and the external place are network namespaces, each joined to the run's bridge by a veth;
the bridge holds the edge address in the root namespace. Zone namespaces get no default route
(a stray reverse-DNS lookup must not leave the sandbox). Every function here is idempotent on
teardown: deleting what is already gone is not an error.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import shlex
import shutil
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from harness.errors import StackError
from harness.polling import PollTimeout, poll_until
from harness.stack.local.plan import RunPlan
from harness.topology import EDGE, EXTERNAL, ZONES

__all__ = [
    "allow_forwarding",
    "create_network",
    "delete_tagged_rules",
    "destroy_network",
    "disallow_forwarding",
    "forward_comment",
    "iptables",
    "link_is_up",
    "netns_pids",
    "netns_unavailable_reason",
    "occupied_networks",
    "set_link",
    "tcp_connect",
]

NETNS_DIR = Path("/var/run/netns")


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 10.0,
        component: str = "network") -> subprocess.CompletedProcess[str]:
    try:
        res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                             check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"command {shlex.join(argv)} failed: {exc}", component=component) from exc
    if check and res.returncode != 0:
        raise StackError(
            f"command {shlex.join(argv)} exited {res.returncode} (expected 0)",
            component=component, log_tail=(res.stderr or res.stdout).strip().splitlines()[-5:])
    return res


def _in_ns(netns: str | None, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


@functools.lru_cache(maxsize=1)
def _probe_netns() -> str | None:
    if os.geteuid() != 0:
        return "not running as root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed (apt-get install iproute2 iptables)"
    probe = f"ch-probe-{os.getpid()}"
    res = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                         check=False)
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    if res.returncode != 0:
        return f"cannot create a network namespace: {res.stderr.strip()}"
    return None


def netns_unavailable_reason() -> str | None:
    """None when zones can be namespaces; else why not (the stack then uses loopback)."""
    if os.environ.get("CHAOS_HARNESS_NO_NETNS", "") not in ("", "0"):
        return "CHAOS_HARNESS_NO_NETNS is set"
    return _probe_netns()


def occupied_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 route destination and interface network on this host."""
    nets: list[ipaddress.IPv4Network] = []
    for argv in (["ip", "-j", "-4", "route", "show", "table", "all"], ["ip", "-j", "-4", "addr"]):
        res = run(argv, check=False)
        try:
            data = json.loads(res.stdout or "[]")
        except json.JSONDecodeError:
            continue
        for item in data:
            for dst in [item.get("dst")] + [
                    f"{a['local']}/{a['prefixlen']}" for a in item.get("addr_info", [])]:
                if not dst or dst == "default":
                    continue
                try:
                    net = ipaddress.IPv4Network(dst, strict=False)
                except ValueError:
                    continue
                if not net.is_loopback:
                    nets.append(net)
    return nets


def _batch(lines: Sequence[Sequence[str]], *, netns: str | None = None) -> None:
    """Run ``ip`` commands in one process (``ip -batch``): 6 processes instead of ~30."""
    argv = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
    text = "\n".join(shlex.join(line) for line in lines) + "\n"
    try:
        res = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=20,
                             check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"{shlex.join(argv)} failed: {exc}", component="network") from exc
    if res.returncode != 0:
        raise StackError(f"{shlex.join(argv)} exited {res.returncode} (expected 0)",
                         component="network",
                         log_tail=[*text.splitlines(), *res.stderr.strip().splitlines()[-5:]])


def create_network(plan: RunPlan) -> None:
    """Bridge with the edge address, one namespace + veth per zone and for 'external', and the
    forwarding accept rules for the bridge (see :func:`allow_forwarding`)."""
    br = plan.bridge
    root: list[list[str]] = [
        ["link", "add", br, "type", "bridge"],
        ["addr", "add", f"{plan.ip(EDGE)}/{plan.prefixlen}", "dev", br],
        ["link", "set", br, "up"],
    ]
    places = (*ZONES, EXTERNAL)
    for place in places:
        ns, veth = plan.netns(place), plan.veth(place)
        assert ns is not None
        root += [
            ["netns", "add", ns],
            ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns],
            ["link", "set", veth, "master", br, "up"],
        ]
    _batch(root)
    for place in places:
        _batch([["addr", "add", f"{plan.ip(place)}/{plan.prefixlen}", "dev", "eth0"],
                ["link", "set", "lo", "up"], ["link", "set", "eth0", "up"]],
               netns=plan.netns(place))
    allow_forwarding(plan.key, br)


def netns_pids(ns: str) -> list[int]:
    res = run(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in res.stdout.split() if x.isdigit()]


def destroy_network(namespaces: Sequence[str], links: Sequence[str]) -> list[str]:
    """Delete namespaces and links that still exist; returns what was deleted."""
    done = []
    for ns in namespaces:
        if (NETNS_DIR / ns).exists():
            run(["ip", "netns", "del", ns], check=False)
            done.append(f"netns {ns}")
    for link in links:
        if Path("/sys/class/net", link).exists():
            run(["ip", "link", "del", link], check=False)
            done.append(f"link {link}")
    return done


def set_link(name: str, up: bool, *, peer_netns: str | None = None,
             settle: float = 5.0) -> None:
    """Set a bridge-side veth down or up; "up" returns once the kernel carries traffic again.

    ``ip link set up`` only flags the device: the carrier change is applied later by the
    kernel's link watcher (rate-limited to about once a second), and until then the device's
    queue discards what is sent, so a connect made right after "up" loses its SYN and waits for
    the 1 s retransmission. Up therefore waits, at most ``settle`` seconds, until both ends
    (this one, and ``eth0`` in ``peer_netns`` when given) report operstate ``up``.
    """
    run(["ip", "link", "set", name, "up" if up else "down"])
    if not up:
        return
    try:
        poll_until(lambda: _operstate(name) == "up" and (
            peer_netns is None or _operstate("eth0", peer_netns) == "up"), settle,
            interval=0.02, what=f"link {name} up at both ends")
    except PollTimeout as exc:
        raise StackError(f"link {name} was set up but did not come up within {settle:g} s "
                         f"(operstate {_operstate(name)!r}); check `ip link show {name}`",
                         component="network") from exc


def _operstate(name: str, netns: str | None = None) -> str:
    if netns is None:
        try:
            return Path("/sys/class/net", name, "operstate").read_text().strip()
        except OSError:
            return "absent"
    res = run(["ip", "-n", netns, "-j", "link", "show", name], check=False)
    try:
        return str(json.loads(res.stdout)[0].get("operstate", "")).lower()
    except (ValueError, IndexError, AttributeError):
        return "absent"


def link_is_up(name: str) -> bool:
    try:
        flags = int(Path("/sys/class/net", name, "flags").read_text().strip(), 16)
    except OSError:
        return False
    return bool(flags & 0x1)


def iptables(args: Sequence[str], *, netns: str | None = None, check: bool = True) -> str:
    return run(_in_ns(netns, ["iptables", "-w", "5", *args]), check=check,
               component="iptables").stdout


def delete_tagged_rules(tag: str, *, netns: str | None = None) -> list[str]:
    """Delete every filter-table rule whose comment contains ``tag``; returns the rules."""
    if netns and not (NETNS_DIR / netns).exists():
        return []
    out = iptables(["-t", "filter", "-S"], netns=netns, check=False)
    deleted = []
    for line in out.splitlines():
        if not line.startswith("-A ") or tag not in line:
            continue
        parts = shlex.split(line)
        comment = parts[parts.index("--comment") + 1] if "--comment" in parts else ""
        if comment != tag and not comment.startswith(tag + ":"):
            continue
        iptables(["-t", "filter", "-D", *parts[1:]], netns=netns, check=False)
        deleted.append(line[3:])
    return deleted


#: Docker's documented chain for user rules, jumped to from the top of FORWARD by dockerd
DOCKER_USER = "DOCKER-USER"


def forward_comment(key: str) -> str:
    """The comment on a run's forwarding accept rules. Deliberately not ``chaos-harness:<key>``:
    healing deletes every rule with the run's tag, and these rules must live as long as the run."""
    return f"chaos-harness-forward:{key}"


def forward_chain(key: str) -> str:
    """The run's own chain (used when no DOCKER-USER chain exists); at most 15 characters."""
    return f"CH-{key}-FWD"


def _chain_exists(chain: str) -> bool:
    return run(["iptables", "-w", "5", "-t", "filter", "-S", chain], check=False,
               component="iptables").returncode == 0


def allow_forwarding(key: str, bridge: str) -> list[str]:
    """Accept bridged traffic between this run's zones even where the FORWARD policy is DROP.

    dockerd sets the FORWARD policy to DROP; with bridge netfilter on, that drops the traffic
    between our namespaces. The accept rule matches only this run's bridge (``-i br -o br``) and
    goes into ``DOCKER-USER`` when that chain exists (Docker jumps to it before its own rules
    and never flushes it), otherwise into a chain of our own jumped to from the top of FORWARD
    (it keeps working if dockerd starts later: dockerd inserts above it but never flushes
    FORWARD). Partition DROP rules are inserted at the top of FORWARD after this, so they still
    win. Returns the rules added."""
    comment = forward_comment(key)
    accept = ["-i", bridge, "-o", bridge, "-m", "comment", "--comment", comment, "-j", "ACCEPT"]
    if _chain_exists(DOCKER_USER):
        iptables(["-I", DOCKER_USER, *accept])
        return [f"-I {DOCKER_USER} {shlex.join(accept)}"]
    chain = forward_chain(key)
    if not _chain_exists(chain):
        iptables(["-N", chain])
    iptables(["-A", chain, *accept])
    jump = ["-m", "comment", "--comment", comment, "-j", chain]
    iptables(["-I", "FORWARD", *jump])
    return [f"-A {chain} {shlex.join(accept)}", f"-I FORWARD {shlex.join(jump)}"]


def disallow_forwarding(key: str) -> list[str]:
    """Remove what :func:`allow_forwarding` added (idempotent); returns what was removed."""
    if shutil.which("iptables") is None or os.geteuid() != 0:
        return []
    done = [f"iptables -D {r}" for r in delete_tagged_rules(forward_comment(key))]
    chain = forward_chain(key)
    if _chain_exists(chain):
        iptables(["-F", chain], check=False)
        iptables(["-X", chain], check=False)
        done.append(f"iptables -X {chain}")
    return done


BR_NF = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


def ensure_bridge_netfilter() -> None:
    """FORWARD rules see bridged traffic only with br_netfilter on; turn it on or explain."""
    try:
        if BR_NF.read_text().strip() == "1":
            return
        BR_NF.write_text("1\n")
    except OSError as exc:
        raise StackError(
            f"bridge netfilter is off (expected {BR_NF} = 1, so iptables FORWARD rules filter "
            f"traffic between zones): {exc}", component="iptables",
            hint="modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1"
        ) from exc


def tcp_connect(host: str, port: int, *, netns: str | None, source: str | None,
                timeout: float) -> bool:
    """A real TCP connect from inside a namespace (or from here, bound to ``source``)."""
    if netns is None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            try:
                if source:
                    s.bind((source, 0))
                s.connect((host, port))
            except OSError:
                return False
            return True
    code = ("import socket,sys\n"
            "s=socket.socket();s.settimeout(float(sys.argv[3]))\n"
            "try: s.connect((sys.argv[1],int(sys.argv[2])))\n"
            "except OSError: sys.exit(1)\n")
    argv = _in_ns(netns, ["python3", "-S", "-c", code, host, str(port), str(timeout)])
    try:
        res = subprocess.run(argv, capture_output=True, timeout=timeout + 5, check=False)
    except subprocess.TimeoutExpired:
        return False
    return res.returncode == 0
