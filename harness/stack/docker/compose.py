"""``docker compose`` for one run: the project-scoped driver, ``up`` and ``down``.

Both the lifecycle (bringing a run up, tearing a failed start down) and the stack (``down()``)
use it, so it lives apart from both: the stack no longer reaches back into the lifecycle that
creates it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cached_property

from testcontainers.compose import DockerCompose

from harness.errors import StackError
from harness.stack.docker.record import DockerRun, default_run_dir, run_files

__all__ = ["QDRANT_PROFILE", "ProjectCompose", "compose_down", "compose_for", "compose_up",
           "stderr_tail"]

QDRANT_PROFILE = "qdrant"


@dataclass
class ProjectCompose(DockerCompose):
    """``DockerCompose`` with an explicit project name (``-p``), so runs never collide."""

    project_name: str = ""

    @cached_property
    def compose_command_property(self) -> list[str]:
        base: list[str] = DockerCompose.compose_command_property.func(self)  # type: ignore[attr-defined]
        return [*base[:2], "--project-name", self.project_name, *base[2:]]


def compose_for(run: DockerRun, *, build: bool = False) -> ProjectCompose:
    """The run's compose driver. ``up [--build] --detach``: readiness is ours (``--wait`` would
    only see healthchecks); no ``--quiet-*`` flags (output is captured anyway, and
    ``--quiet-build`` needs a newer Compose than the substrate requires). The Qdrant nodes
    are in the ``qdrant`` profile, enabled for a cluster run."""
    return ProjectCompose(context=run.context, compose_file_name=run.compose_file,
                          env_file=str(run.env_file), build=build, wait=False,
                          project_name=run.project,
                          profiles=[QDRANT_PROFILE] if run.cluster else None)


def stderr_tail(exc: subprocess.CalledProcessError, lines: int = 25) -> list[str]:
    out = (exc.stderr or b"") + (exc.stdout or b"")
    return out.decode(errors="replace").splitlines()[-lines:]


def compose_up(run: DockerRun, *, build: bool) -> None:
    try:
        compose_for(run, build=build).start()
    except subprocess.CalledProcessError as exc:
        raise StackError(f"'docker compose up' failed with exit code {exc.returncode}",
                         component="docker", log_tail=stderr_tail(exc),
                         hint="the first run builds the app image and pulls official images "
                              "(needs network to PyPI and the registries)") from exc


def compose_down(run: DockerRun) -> None:
    """``docker compose down --volumes`` for the project, then forget the run (idempotent)."""
    record, state = run_files(default_run_dir(), run.project)
    try:
        if run.env_file.exists():
            compose_for(run).stop(down=True)
    except subprocess.CalledProcessError as exc:
        raise StackError("'docker compose down' failed; containers may be left behind",
                         component="docker", log_tail=stderr_tail(exc),
                         hint=f"docker compose -p {run.project} down --volumes") from exc
    record.unlink(missing_ok=True)
    shutil.rmtree(state, ignore_errors=True)
