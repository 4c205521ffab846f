"""Faults by name: the registry experiments refer to, the builder, and the catalog text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.errors import ConfigError
from harness.faults.base import Fault
from harness.faults.params import Param, validate_params
from harness.stack.base import CAPABILITY_SUBSTRATES
from harness.topology import Selector

__all__ = ["FAULTS", "FaultInfo", "build_fault", "describe_faults", "format_fault_list",
           "register"]

#: fault name -> fault class (filled by the family modules at import time)
FAULTS: dict[str, type[Fault]] = {}

F = TypeVar("F", bound=type[Fault])


def register(cls: F) -> F:
    """Class decorator: make a fault available by its ``NAME``."""
    if not cls.NAME or cls.NAME in FAULTS:
        raise ValueError(f"fault name {cls.NAME!r} is empty or registered twice")
    if cls.FAMILY not in ("zone", "process", "network", "provider", "datastore", "command"):
        raise ValueError(f"fault {cls.NAME!r}: unknown family {cls.FAMILY!r}")
    FAULTS[cls.NAME] = cls
    return cls


def build_fault(name: str, *, target: str | Selector | None = None,
                params: Mapping[str, Any] | None = None, file: str | None = None,
                field: str = "method[0]") -> Fault:
    """A validated fault spec. Errors are ConfigErrors naming ``<field>.fault|target|params.X``."""
    cls = FAULTS.get(name)
    if cls is None:
        raise ConfigError("unknown fault", file=file, field=f"{field}.fault", value=name,
                          allowed=sorted(FAULTS))
    selector: Selector | None
    if target is None or (isinstance(target, str) and not target.strip()):
        selector = None
    elif isinstance(target, Selector):
        selector = target
    else:
        selector = Selector.parse(str(target), field_name=f"{field}.target")
    if cls.TARGET == "none" and selector is not None:
        raise ConfigError(f"fault {name!r} takes no target ({cls.TARGET_HELP or 'use params'})",
                          file=file, field=f"{field}.target", value=str(selector))
    if cls.TARGET == "required" and selector is None:
        raise ConfigError(f"fault {name!r} needs a target: {cls.TARGET_HELP}", file=file,
                          field=f"{field}.target", allowed="all, zone=..., service=..., "
                                                           "kind=..., role=...")
    values = validate_params(name, cls.PARAMS, params, file=file, field=f"{field}.params")
    cls.check_params(values, selector, file=file, field=field)
    return cls(target=selector, **values)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultInfo:
    """One catalog entry for ``chaos-harness fault list`` and the docs."""

    name: str
    family: str
    summary: str
    target: str  # "required" | "optional" | "none"
    target_help: str
    params: tuple[Param, ...]
    capabilities: tuple[str, ...]
    substrates: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "family": self.family, "summary": self.summary,
            "target": self.target, "target_help": self.target_help,
            "params": [{"name": p.name, "type": p.type, "help": p.help,
                        "required": p.required, "default": None if p.required else p.default,
                        "allowed": p.allowed()} for p in self.params],
            "capabilities": list(self.capabilities), "substrates": list(self.substrates),
        }


def _substrates(caps: tuple[str, ...]) -> tuple[str, ...]:
    if not caps:
        return ("local", "docker", "external")
    return tuple(f"{c}: {', '.join(CAPABILITY_SUBSTRATES.get(c, ()))}" for c in caps)


def describe_faults() -> tuple[FaultInfo, ...]:
    """Every registered fault, by family then name."""
    out = []
    for cls in sorted(FAULTS.values(), key=lambda c: (c.FAMILY, c.NAME)):
        caps = cls.possible_capabilities()
        out.append(FaultInfo(name=cls.NAME, family=cls.FAMILY, summary=cls.SUMMARY,
                             target=cls.TARGET, target_help=cls.TARGET_HELP, params=cls.PARAMS,
                             capabilities=caps, substrates=_substrates(caps)))
    return tuple(out)


def format_fault_list(infos: tuple[FaultInfo, ...] | None = None) -> str:
    """The human-readable catalog."""
    lines = []
    family = None
    for info in infos or describe_faults():
        if info.family != family:
            family = info.family
            lines.append(f"[{family}]")
        lines.append(f"  {info.name}: {info.summary}")
        if info.target != "none":
            lines.append(f"    target ({info.target}): {info.target_help}")
        for p in info.params:
            lines.append(f"    --param {p.describe()}")
        lines.append(f"    needs: {'; '.join(info.substrates)}")
    return "\n".join(lines)
