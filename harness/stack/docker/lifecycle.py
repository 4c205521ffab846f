"""Bring a docker run up and down: testcontainers' ``DockerCompose`` with a per-run project.

``open_docker_stack`` checks for an engine first (a clear StackError within milliseconds when
there is none), writes the run record and the configs, runs ``docker compose -p <project> up
--build --detach``, waits for real readiness and yields a :class:`DockerStack`. Every exit path
(ready, a failed start, an exception in the body, Ctrl-C or SIGTERM) ends in
``stop(down=True)`` -- ``docker compose down --volumes`` -- and the record is removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, StackError
from harness.knobs import resolve_knobs
from harness.stack.docker import layout
from harness.stack.docker.compose import compose_down, compose_up
from harness.stack.docker.configs import write_config_dir
from harness.stack.docker.engine import docker_client, docker_problem
from harness.stack.docker.record import DockerRun, default_run_dir, load_run, run_files
from harness.stack.docker.stack import DockerStack, make_docker_stack
from harness.stack.qdrant_api import QDRANT_IMAGE
from harness.stack.signals import interrupts_as_keyboard
from harness.timeline import Timeline

__all__ = [
    "attach_docker",
    "open_docker_stack",
    "repo_root",
    "start_docker_stack",
]

_IMAGE_VARS = ("CHAOS_APP_IMAGE", "CHAOS_SIMULATOR_IMAGE", "CHAOS_REDIS_IMAGE",
               "CHAOS_QDRANT_IMAGE", "CHAOS_HAPROXY_IMAGE", "CHAOS_TOXIPROXY_IMAGE")
#: what docker-compose.ha.yml uses when the variables are unset
_DEFAULT_IMAGES = {"CHAOS_APP_IMAGE": "chaos-harness-app:local",
                   "CHAOS_SIMULATOR_IMAGE": "chaos-harness-simulator:local",
                   "CHAOS_QDRANT_IMAGE": QDRANT_IMAGE}


def _has_image(client: Any, name: str) -> bool:
    try:
        client.images.get(name)
    except Exception:  # ImageNotFound, or the engine went away: compose will say which
        return False
    return True


def vector_tier(client: Any) -> tuple[bool, str]:
    """(3-node Qdrant cluster?, why). The cluster runs when CHAOS_QDRANT_IMAGE is set or the
    engine already has the default Qdrant image; otherwise each replica embeds the vector store,
    as on the local substrate (no registry is needed for a run)."""
    explicit = os.environ.get("CHAOS_QDRANT_IMAGE")
    image = explicit or _DEFAULT_IMAGES["CHAOS_QDRANT_IMAGE"]
    if explicit or _has_image(client, image):
        return True, f"vector tier: 3-node Qdrant cluster ({image})"
    return False, (f"vector tier: embedded in each replica: the engine has no {image} image "
                   "(docker pull it, or set CHAOS_QDRANT_IMAGE, for the 3-node cluster); "
                   "Qdrant-node faults are unsupported")


def needs_build(client: Any) -> bool:
    """Whether compose must build the app / simulator images: only when the engine lacks them.
    scripts/images.sh builds them offline (and again when the sources change); building here
    needs the registry (``FROM python:3.11-slim-bookworm``) and PyPI."""
    return not all(_has_image(client, os.environ.get(var) or _DEFAULT_IMAGES[var])
                   for var in ("CHAOS_APP_IMAGE", "CHAOS_SIMULATOR_IMAGE"))


def repo_root() -> Path:
    """The directory holding docker-compose.ha.yml (a source checkout of this project)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / layout.COMPOSE_FILE).is_file():
            return parent
    raise StackError(f"{layout.COMPOSE_FILE} not found above {here}", component="docker",
                     hint="the docker substrate builds images from a source checkout; run it "
                          "from a git clone of chaos-harness")


def _new_run(run_id: str, overrides: Mapping[str, Any], resolved: Mapping[str, Any],
             seed: int | None, *, cluster: bool) -> DockerRun:
    run_dir = default_run_dir()
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    project = layout.project_name(run_id)
    record, state = run_files(run_dir, project)
    if record.exists():
        raise ConfigError("a docker run with this id already exists", field="run_id",
                          value=run_id, allowed="a new id (or 'chaos-harness down' it first)")
    try:
        port_base = layout.allocate_port_base(run_id)
    except RuntimeError as exc:
        raise StackError(str(exc), component="docker") from None
    run = DockerRun(
        run_id=run_id, project=project, context=str(repo_root()),
        compose_file=layout.COMPOSE_FILE, state_dir=str(state), port_base=port_base,
        api_key=secrets.token_hex(16), provider_key=secrets.token_hex(12),
        control_token=secrets.token_hex(16),
        seed=seed if seed is not None else int.from_bytes(os.urandom(2), "big"),
        knobs=dict(overrides), images={k: os.environ[k] for k in _IMAGE_VARS if k in os.environ},
        cluster=cluster)
    try:
        state.mkdir(parents=True, exist_ok=True)
        state.chmod(0o755)  # containers read the config directory as other users
        write_config_dir(run.config_dir, resolved, cluster=cluster)
        run.haproxy_runtime_dir.mkdir()
        run.haproxy_runtime_dir.chmod(0o777)  # HAProxy runs as its own user (uid 99)
        env = run.compose_variables(resolved)
        run.env_file.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())))
        run.env_file.chmod(0o600)
        run.save(record)
    except BaseException:
        shutil.rmtree(state, ignore_errors=True)
        raise
    return run


def start_docker_stack(*, knobs: Mapping[str, Any] | None = None, run_id: str | None = None,
                       timeline: Timeline | None = None, ready_timeout: float = 60.0,
                       seed: int | None = None) -> DockerStack:
    """Start a run and wait until it is ready; on any failure nothing is left behind."""
    problem = docker_problem()
    if problem:
        raise StackError(f"the docker substrate cannot run here: {problem}", component="docker",
                         hint="start Docker, or use --substrate local")
    # testcontainers' Ryuk reaper is an image from Docker Hub, which may be unreachable; the
    # harness removes its own projects (down --volumes, and the run record names each one).
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    resolved = resolve_knobs(knobs)
    client = docker_client()
    cluster, why = vector_tier(client)
    run = _new_run(run_id or f"d{secrets.token_hex(3)}", knobs or {}, resolved, seed,
                   cluster=cluster)
    stack: DockerStack | None = None
    try:
        stack = make_docker_stack(run=run, client=client, timeline=timeline)
        stack._note(why, project=run.project)
        started = time.monotonic()
        build = needs_build(client)
        compose_up(run, build=build)
        stack._note("compose up", project=run.project, seconds=time.monotonic() - started,
                    built=build)
        stack.wait_ready(ready_timeout)
        stack._note("stack ready", run_id=run.run_id, front_door=stack.topology.front_door.url)
        return stack
    except BaseException as exc:
        try:
            compose_down(run)
        except StackError as down_exc:  # keep the original error; say what is left behind
            exc.add_note(f"teardown failed too: {down_exc}")
        raise


@contextlib.contextmanager
def open_docker_stack(*, knobs: Mapping[str, Any] | None = None, run_id: str | None = None,
                      timeline: Timeline | None = None, ready_timeout: float = 60.0,
                      seed: int | None = None) -> Iterator[DockerStack]:
    """Bring a docker stack up, wait for readiness, yield it, ``down --volumes`` on exit."""
    with interrupts_as_keyboard():
        stack = start_docker_stack(knobs=knobs, run_id=run_id, timeline=timeline,
                                   ready_timeout=ready_timeout, seed=seed)
        try:
            yield stack
        finally:
            stack.down()


def attach_docker(run_id: str | None = None, *, timeline: Timeline | None = None
                  ) -> DockerStack:
    """The running docker stack (the only one, or the one named ``run_id``)."""
    runs = [load_run(p) for p in sorted(default_run_dir().glob("docker-*.json"))]
    if run_id is not None:
        runs = [r for r in runs if run_id in (r.run_id, r.project)]
    if len(runs) != 1:
        found = ", ".join(r.run_id for r in runs) or "none"
        raise StackError(
            f"expected exactly one docker stack{f' with id {run_id!r}' if run_id else ''}, "
            f"found {found}", component="docker",
            hint="start one with 'chaos-harness up --substrate docker', or pass --run-id")
    problem = docker_problem()
    if problem:
        raise StackError(problem, component="docker", hint="start Docker")
    return make_docker_stack(run=runs[0], client=docker_client(), timeline=timeline)
