"""The on-disk record of one docker run: enough for another process to attach and tear down.

``<run dir>/docker-<project>.json`` (run dir as for the local substrate:
``$CHAOS_HARNESS_RUN_DIR``, else ``/run/chaos-harness`` as root, else
``/tmp/chaos-harness-<uid>``) holds the compose project, files and ports; the per-run config
directory sits beside it. Written before ``docker compose up`` so a crashed harness can be
cleaned up with ``docker compose -p <project> down --volumes`` (see docs/docker.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.stack.docker.layout import port_environment

__all__ = ["DockerRun", "default_run_dir", "load_run", "run_files"]


def default_run_dir() -> Path:
    env = os.environ.get("CHAOS_HARNESS_RUN_DIR")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/run/chaos-harness")
    return Path(f"/tmp/chaos-harness-{os.geteuid()}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerRun:
    run_id: str
    project: str
    context: str  # directory holding docker-compose.ha.yml (the repository root)
    compose_file: str
    state_dir: str  # per-run directory: config/, compose.env
    port_base: int
    api_key: str
    provider_key: str
    control_token: str
    seed: int
    knobs: Mapping[str, Any] = field(default_factory=dict)  # overrides as given
    images: Mapping[str, str] = field(default_factory=dict)  # CHAOS_*_IMAGE overrides
    #: the vector tier: a 3-node Qdrant cluster (compose profile ``qdrant``) when the engine has
    #: a Qdrant image, else embedded in each replica (as on the local substrate)
    cluster: bool = True

    @property
    def config_dir(self) -> Path:
        return Path(self.state_dir) / "config"

    @property
    def haproxy_runtime_dir(self) -> Path:
        """Bind-mounted into HAProxy: its runtime API socket ``admin.sock`` appears here."""
        return Path(self.state_dir) / "haproxy-runtime"

    @property
    def env_file(self) -> Path:
        return Path(self.state_dir) / "compose.env"

    def compose_variables(self, resolved_knobs: Mapping[str, Any]) -> dict[str, str]:
        """Everything docker-compose.ha.yml interpolates, for this run."""
        env = {
            "COMPOSE_PROJECT_NAME": self.project,
            "CHAOS_CONFIG_DIR": str(self.config_dir),
            "CHAOS_HAPROXY_RUNTIME_DIR": str(self.haproxy_runtime_dir),
            "CHAOS_API_KEY": self.api_key,
            "CHAOS_PROVIDER_KEY": self.provider_key,
            "CHAOS_CONTROL_TOKEN": self.control_token,
            "CHAOS_SEED": str(self.seed),
            "CHAOS_PROVIDER_LATENCY_MS": f"{resolved_knobs['provider.base_latency_ms']:g}",
            "CHAOS_PROVIDER_TOKENS_PER_S": f"{resolved_knobs['provider.tokens_per_s']:g}",
            **port_environment(self.port_base),
        }
        env.update(self.images)
        return env

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["knobs"] = dict(self.knobs)
        d["images"] = dict(self.images)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DockerRun:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True))
        tmp.chmod(0o600)
        tmp.replace(path)


def run_files(run_dir: Path, project: str) -> tuple[Path, Path]:
    """(record file, state directory) of a project."""
    return run_dir / f"docker-{project}.json", run_dir / f"docker-{project}"


def load_run(path: Path) -> DockerRun:
    return DockerRun.from_json(json.loads(path.read_text()))
