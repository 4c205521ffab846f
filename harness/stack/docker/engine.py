"""Is there a Docker engine (and the Compose v2 plugin) to run the docker substrate on?

Both checks are cheap: a ping over the engine socket fails within milliseconds when no engine
listens, and ``docker compose version`` is a local command. The answer is a reason string a
person can act on, or None when the substrate is usable.
"""

from __future__ import annotations

import gc
import importlib
import os
import shutil
import subprocess
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["compose_problem", "docker_client", "docker_problem", "engine_problem"]

_FALLBACK = "start Docker or use --substrate local"


def docker_client(timeout: float = 10.0) -> Any:
    """A Docker SDK client from the environment (DOCKER_HOST, ...), without pinging it."""
    # Imported late (only this substrate needs the SDK) and by name: the repository's docker/
    # folder (Dockerfiles) would otherwise shadow the SDK for mypy as a namespace package.
    sdk: Any = importlib.import_module("docker")
    return sdk.from_env(timeout=timeout)


def _missing_socket() -> str | None:
    """When the engine address is a unix socket that does not exist, say so (no SDK needed)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return None
    path = host.removeprefix("unix://")
    if os.path.exists(path):
        return None
    where = f"DOCKER_HOST={host}" if "DOCKER_HOST" in os.environ else "DOCKER_HOST is unset"
    return f"unix socket {path} does not exist ({where})"


def engine_problem(*, timeout: float = 2.0, client_factory: Callable[..., Any] | None = None
                   ) -> str | None:
    """None when a Docker engine answers a ping, else why not (with what to do)."""
    missing = None if client_factory else _missing_socket()
    if missing:
        return f"no Docker engine reachable: {missing}; {_FALLBACK}"
    factory = client_factory or docker_client
    # The SDK leaks the socket of a refused connect (ResourceWarning when it is collected).
    problem = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = factory(timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
        except Exception as exc:  # DockerException, requests errors, a bad DOCKER_HOST ...
            detail = " ".join(str(exc).split()) or type(exc).__name__
            problem = f"no Docker engine reachable: {detail}; {_FALLBACK}"
        if problem:
            gc.collect()  # collect the leaked socket while its warning is still ignored
    return problem


def compose_problem(*, docker_bin: str | None = None, timeout: float = 10.0) -> str | None:
    """None when ``docker compose`` (the v2 plugin testcontainers drives) is installed."""
    binary = docker_bin or shutil.which("docker")
    if binary is None:
        return "the docker command-line client is not on PATH; install Docker or use --substrate local"
    try:
        proc = subprocess.run([binary, "compose", "version"], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"'docker compose version' failed: {exc}; install the Docker Compose v2 plugin"
    if proc.returncode != 0:
        said = " ".join((proc.stderr or proc.stdout).split())[:200]
        return (f"the Docker Compose v2 plugin is missing ('docker compose version' said: {said}); "
                "install docker-compose-plugin (or Docker Desktop), or use --substrate local")
    return None


def docker_problem(*, timeout: float = 2.0) -> str | None:
    """Why the docker substrate cannot run here, or None. The engine is checked first."""
    return engine_problem(timeout=timeout) or compose_problem()
