"""Bringing a local run up and down, and finding it again from another process.

Order: reap stale runs -> allocate a subnet and write the run record (under the store lock) ->
network -> configs -> processes (slowest first: app replicas import LangChain for seconds) ->
readiness. Any failure or interrupt on the way tears down everything already created before the
exception propagates. SIGTERM and SIGHUP are turned into KeyboardInterrupt while a stack is
being started or used, so ``finally`` blocks run.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, StackError
from harness.knobs import resolve_knobs
from harness.polling import PollTimeout, poll_until
from harness.stack.local import configs, netns, qdrant
from harness.stack.local.netfaults import NetworkFaultsMixin
from harness.stack.local.plan import (
    PROVIDERS,
    QDRANT_P2P_PORT,
    RunPlan,
    build_topology,
    choose_octet,
    make_plan,
    run_key,
)
from harness.stack.local.procs import ProcSpec, proc_start_time, spawn
from harness.stack.local.qdrant import QdrantClusterMixin
from harness.stack.local.record import RunRecord, RunStore
from harness.stack.local.stack import LocalStack
from harness.stack.signals import interrupts_as_keyboard
from harness.timeline import Timeline
from harness.topology import EDGE, EXTERNAL, ZONES

__all__ = ["attach_local", "interrupts_as_keyboard", "open_local_stack", "start_local_stack"]


class LocalNetnsStack(NetworkFaultsMixin, LocalStack):
    """Namespace mode: adds ZoneIsolatable and NetworkFaults."""


class LocalClusterStack(QdrantClusterMixin, LocalStack):
    """Loopback mode with a Qdrant cluster."""


class LocalNetnsClusterStack(QdrantClusterMixin, NetworkFaultsMixin, LocalStack):
    """Namespace mode with a Qdrant cluster."""


def _stack_class(netns_mode: bool, cluster: bool) -> type[LocalStack]:
    return {(False, False): LocalStack, (True, False): LocalNetnsStack,
            (False, True): LocalClusterStack, (True, True): LocalNetnsClusterStack}[
        (netns_mode, cluster)]


def make_stack(store: RunStore, rec: RunRecord, timeline: Timeline | None) -> LocalStack:
    cls = _stack_class(rec.netns_mode, rec.extra["topology"]["vector_mode"] == "cluster")
    return cls(store=store, record=rec, timeline=timeline)


def corpus_path() -> str:
    env = os.environ.get("CHAOS_HARNESS_CORPUS")
    if env:
        return env
    return str(Path(__file__).resolve().parents[3] / "fixtures" / "corpus" / "documents.jsonl")


def _new_record(store: RunStore, run_id: str, netns_mode: bool) -> tuple[RunPlan, RunRecord]:
    key = run_key(run_id)
    with store.lock():
        if store.path(key).exists():
            raise ConfigError("a run with this id already exists", field="run_id", value=run_id,
                              allowed="a new id, or 'chaos-harness down' first")
        occupied = netns.occupied_networks() if netns_mode else []
        octet = choose_octet(key, taken=store.taken_octets(netns_mode), occupied=occupied,
                             lowest=1 if netns_mode else 100)
        plan = make_plan(run_id, netns_mode=netns_mode, octet=octet)
        rec = RunRecord(run_id=run_id, key=key, owner_pid=os.getpid(),
                        owner_start=proc_start_time(os.getpid()), netns_mode=netns_mode,
                        octet=octet, state_dir=str(store.state_dir(key)),
                        namespaces=list(plan.namespaces), links=list(plan.links), tag=plan.tag)
        store.save(rec)
    return plan, rec


def _proc_specs(plan: RunPlan, rec: RunRecord, knobs: Mapping[str, Any], *, cluster: bool,
                qdrant_bin: str | None) -> list[ProcSpec]:
    """Every process of the run, slowest to start first; writes their config files."""
    sd = Path(rec.state_dir)
    py = sys.executable
    x = rec.extra

    def spec(service: str, argv: list[str], place: str, env: Mapping[str, str] | None = None,
             cwd: Path | None = None) -> ProcSpec:
        d = cwd or sd / service
        d.mkdir(parents=True, exist_ok=True)
        return ProcSpec(service=service, argv=tuple(argv), env=dict(env or {}),
                        netns=plan.netns(place), cwd=str(d), log=str(sd / f"{service}.log"))

    def write(name: str, text: str) -> str:
        (sd / name).write_text(text)
        return str(sd / name)

    out = []
    for zone in ZONES:
        env = configs.app_env(plan, zone, knobs, api_key=x["api_key"],
                              provider_key=x["provider_key"], corpus=x["corpus"],
                              collection=qdrant.COLLECTION, cluster=cluster)
        env.update(qdrant.app_qdrant_env())
        out.append(spec(f"app-{zone}", [py, "-m", "reference_app", "--host", plan.ip(zone),
                                        "--port", env["RAG_PORT"]], zone, env))
    for i, name in enumerate(PROVIDERS):
        out.append(spec(f"provider-{name}", configs.provider_argv(
            py, plan, name, knobs, token=x["provider_token"], seed=x["seed"] + i), EXTERNAL))
    for zone in ZONES:
        d = sd / f"redis-{zone}"
        d.mkdir(parents=True, exist_ok=True)
        cfg = write(f"redis-{zone}.conf", configs.redis_config(plan, zone, knobs, data_dir=str(d)))
        out.append(spec(f"redis-{zone}", ["redis-server", cfg], zone))
    for zone in ZONES:
        d = sd / f"sentinel-{zone}"
        d.mkdir(parents=True, exist_ok=True)
        cfg = write(f"sentinel-{zone}.conf",
                    configs.sentinel_config(plan, zone, knobs, data_dir=str(d)))
        out.append(spec(f"sentinel-{zone}", ["redis-sentinel", cfg], zone))
    toxi = write("toxiproxy.json", configs.dumps_toxiproxy(plan, cluster=cluster))
    out.append(spec("toxiproxy", ["toxiproxy-server", "-host", plan.ip(EDGE), "-port",
                                  "8474", "-config", toxi, "-proxy-metrics"], EDGE))
    hap = write("haproxy.cfg", configs.haproxy_config(
        plan, knobs, stats_socket=str(sd / "haproxy.sock"), cluster=cluster))
    out.append(spec("haproxy", ["haproxy", "-db", "-f", hap], EDGE))
    if cluster and qdrant_bin:
        for zone in ZONES:
            d = sd / f"qdrant-{zone}"
            out.append(spec(f"qdrant-{zone}", configs.qdrant_argv(qdrant_bin, plan, zone), zone,
                            configs.qdrant_env(plan, zone, storage=str(d)), cwd=d))
    return out


def _check_binaries() -> None:
    import shutil

    missing = [b for b in ("redis-server", "redis-sentinel", "haproxy", "toxiproxy-server")
               if shutil.which(b) is None]
    if missing:
        raise StackError(f"missing binaries {missing} (expected on PATH)", component="local",
                         hint="run scripts/setup.sh (installs Redis, HAProxy, Toxiproxy)")


def _wait_listening(stack: LocalStack, service: str, host: str, port: int,
                    timeout: float = 30.0) -> None:
    def refused() -> StackError:
        return StackError(f"expected {host}:{port} to accept connections within "
                          f"{timeout:g} s", component=service,
                          log_tail=stack.log_tail(service, 25))

    def accepts() -> bool:
        if netns.tcp_connect(host, port, netns=None, source=None, timeout=0.5):
            return True
        if not stack.is_running(service):  # it exited: no point waiting out the timeout
            raise refused()
        return False

    try:
        poll_until(accepts, timeout, interval=0.1, what=f"{host}:{port} accepting connections")
    except PollTimeout:
        raise refused() from None


def start_local_stack(*, knobs: Mapping[str, Any] | None = None, run_id: str | None = None,
                      timeline: Timeline | None = None, ready_timeout: float = 60.0,
                      store: RunStore | None = None) -> LocalStack:
    """Start a run and wait until it is ready; on any failure nothing is left behind."""
    values = resolve_knobs(knobs)
    _check_binaries()
    store = store or RunStore()
    store.reap_stale()
    no_netns = netns.netns_unavailable_reason()
    qbin, qwhy = qdrant.qdrant_binary()
    cluster = qbin is not None
    if qbin is not None:
        qwhy += "; " + qdrant.client_compatibility(qdrant.binary_version(qbin))[1]
    plan, rec = _new_record(store, run_id or secrets.token_hex(3), no_netns is None)
    stack: LocalStack | None = None
    try:
        Path(rec.state_dir).mkdir(parents=True, exist_ok=True)
        notes = [f"vector tier: {'3-node Qdrant cluster, ' if cluster else 'embedded, '}{qwhy}"]
        if no_netns:
            notes.append(f"zones are loopback addresses, zone isolation unsupported: {no_netns}")
        topo = build_topology(plan, api_key=secrets.token_hex(16), cluster=cluster)
        rec.extra.update(topology=topo.to_json(), knobs=dict(knobs or {}), notes=notes,
                         provider_token=secrets.token_hex(16),
                         provider_key=secrets.token_hex(12), api_key=topo.api_key,
                         corpus=corpus_path(), seed=int.from_bytes(os.urandom(2), "big"))
        store.save(rec)
        if plan.netns_mode:
            netns.create_network(plan)
        for spec in _proc_specs(plan, rec, values, cluster=cluster, qdrant_bin=qbin):
            rec.set_proc(spec, None)  # journal first: a SIGKILL right after spawn is reapable
            store.save(rec)
            proc = spawn(spec, rec.key)
            rec.set_proc(spec, proc.pid)
            store.save(rec)
            if stack is None:
                stack = make_stack(store, rec, timeline)
            stack._children[spec.service] = proc
            if spec.service == f"qdrant-{ZONES[0]}":  # the others bootstrap from it
                _wait_listening(stack, spec.service, plan.ip(ZONES[0]), QDRANT_P2P_PORT)
        assert stack is not None
        stack.wait_ready(ready_timeout)
        rec = stack._refresh()
        rec.state = "running"
        store.save(rec)
        stack._note("stack ready", run_id=rec.run_id, front_door=topo.front_door.url)
        return stack
    except BaseException:
        if stack is not None:
            stack.down()
        else:
            store.teardown(rec)
        raise


@contextlib.contextmanager
def open_local_stack(*, knobs: Mapping[str, Any] | None = None, run_id: str | None = None,
                     timeline: Timeline | None = None,
                     ready_timeout: float = 60.0) -> Iterator[LocalStack]:
    with interrupts_as_keyboard():
        stack = start_local_stack(knobs=knobs, run_id=run_id, timeline=timeline,
                                  ready_timeout=ready_timeout)
        try:
            yield stack
        finally:
            stack.down()


def attach_local(run_id: str | None = None, *, store: RunStore | None = None,
                 timeline: Timeline | None = None) -> LocalStack:
    """The running local stack (the only one, or the one named ``run_id``)."""
    store = store or RunStore()
    live = [r for r in store.all() if not r.stale and r.state == "running"]
    if run_id is not None:
        live = [r for r in live if run_id in (r.run_id, r.key)]
    elif any(r.detached for r in live):  # prefer what 'chaos-harness up' left running
        live = [r for r in live if r.detached]
    if len(live) != 1:
        found = ", ".join(r.run_id for r in live) or "none"
        raise StackError(
            f"expected exactly one running local stack{f' with id {run_id!r}' if run_id else ''}"
            f", found {found}", component="local",
            hint="start one with 'chaos-harness up', or pass --run-id")
    return make_stack(store, live[0], timeline)


