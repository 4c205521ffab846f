"""Read a topology file: YAML in, a checked :class:`TopologyFile` out, or a ConfigError naming
the file, the field path, the bad value and what is allowed. Secrets are looked up here, from
the environment variables the file names (:func:`resolve_secrets`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.errors import ConfigError
from harness.stack.external.model import TopologyFile

__all__ = ["load_topology_file", "resolve_secrets", "topology_from_data"]

_MAX_BYTES = 1_000_000


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "<document>"


def topology_from_data(data: Any, *, file: str | None = None) -> TopologyFile:
    if not isinstance(data, Mapping):
        raise ConfigError("a topology file is a mapping of fields", file=file,
                          field="<document>", allowed="see docs/external.md")
    try:
        return TopologyFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        msg = str(err.get("msg", "invalid value"))
        value = err.get("input")
        allowed = None
        if err.get("type") == "extra_forbidden":
            msg, allowed = "unknown field", "see docs/external.md for the fields of this section"
        elif err.get("type") == "missing":
            msg, value = "required field is missing", None
        elif err.get("type") == "literal_error":
            allowed = str((err.get("ctx") or {}).get("expected"))
        if isinstance(value, dict | list):
            value = f"{type(value).__name__} of {len(value)} items"
        more = len(exc.errors()) - 1
        if more:
            msg += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ConfigError(msg, file=file, field=_field(tuple(err.get("loc", ()))),
                          value=value, allowed=allowed) from None


def load_topology_file(path: str | Path) -> TopologyFile:
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError("no such topology file", file=file,
                          allowed="a YAML file (write one for a running local stack with "
                                  "'chaos-harness status --topology FILE')") from None
    except OSError as exc:
        raise ConfigError(f"cannot read topology file: {exc}", file=file) from None
    if len(raw) > _MAX_BYTES:
        raise ConfigError("topology file is too large", file=file, value=len(raw),
                          allowed=f"at most {_MAX_BYTES} bytes")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=file) from None
    return topology_from_data(data, file=file)


def resolve_secrets(topo: TopologyFile, *, file: str | None = None,
                    environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variable name -> value for every secret the file names; a ConfigError
    names the first variable that is unset or empty (its value is never shown)."""
    env = os.environ if environ is None else environ
    out = {}
    for name in topo.env_names():
        value = env.get(name, "")
        if not value:
            raise ConfigError(f"environment variable {name} is not set (the topology file "
                              "reads a secret from it)", file=file, field=name,
                              allowed="export it before running the harness")
        out[name] = value
    return out
