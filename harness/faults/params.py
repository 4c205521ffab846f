"""Fault parameters: declared once per fault, validated like knobs (ConfigError with field paths).

A :class:`Param` describes one parameter (type, default, bounds, choices, help). The same
declaration validates a YAML value (``0.5``, ``[az-a, az-b]``) and a CLI string (``0.5``,
``az-a,az-b``, ``500ms``), and documents the fault in ``chaos-harness fault list``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from harness.durations import parse_duration
from harness.errors import ConfigError

__all__ = ["REQUIRED", "Param", "validate_params"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Default of a parameter that must be given.
REQUIRED: Final = _Required()

_TYPES = ("int", "float", "str", "bool", "duration")


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    """One parameter of a fault."""

    name: str
    type: str  # one of _TYPES; durations are seconds (float)
    help: str
    default: Any = REQUIRED
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    many: bool = False  # a list of values (YAML list or comma-separated string)
    nullable: bool = False  # None is allowed (the default may be None)

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"param {self.name!r}: type {self.type!r} not in {_TYPES}")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def allowed(self) -> str:
        if self.choices:
            text = ", ".join(self.choices)
        elif self.type == "bool":
            text = "true or false"
        elif self.type in ("int", "float", "duration"):
            lo = "-inf" if self.minimum is None else f"{self.minimum:g}"
            hi = "inf" if self.maximum is None else f"{self.maximum:g}"
            unit = " seconds (or '500ms', '2s')" if self.type == "duration" else ""
            text = f"{'float' if self.type == 'duration' else self.type} in [{lo}, {hi}]{unit}"
        else:
            text = "a string"
        if self.many:
            text = f"a list of ({text})"
        return text

    def describe(self) -> str:
        """``name: help (allowed; default X)`` for ``fault list``."""
        default = "required" if self.required else f"default {self.default!r}"
        return f"{self.name}: {self.help} ({self.allowed()}; {default})"

    def coerce(self, value: Any, *, file: str | None = None, field: str | None = None) -> Any:
        """Validate and convert one value (YAML value or CLI string)."""
        field = field or self.name
        if value is None and self.nullable:
            return None
        if self.many:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not items:
                raise ConfigError(f"parameter {self.name!r} takes a non-empty list", file=file,
                                  field=field, value=value, allowed=self.allowed())
            return tuple(self._one(v.strip() if isinstance(v, str) else v, file, f"{field}[{i}]")
                         for i, v in enumerate(items))
        return self._one(value, file, field)

    def _one(self, value: Any, file: str | None, field: str) -> Any:
        bad = ConfigError(f"invalid value for parameter {self.name!r}", file=file, field=field,
                          value=value, allowed=self.allowed())
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("true", "yes", "on", "1"):
                return True
            if text in ("false", "no", "off", "0"):
                return False
            raise bad
        if self.type == "str":
            if not isinstance(value, str) or not value or (self.choices
                                                             and value not in self.choices):
                raise bad
            return value
        if isinstance(value, bool):
            raise bad
        try:
            if self.type == "duration":
                v: float = parse_duration(value, field=field, file=file)
            elif self.type == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                v = int(value)
            else:
                v = float(value)
        except (TypeError, ValueError, OverflowError, ConfigError):
            raise bad from None
        if v != v or (self.minimum is not None and v < self.minimum) or (
                self.maximum is not None and v > self.maximum):
            raise bad
        return v


def validate_params(fault: str, declared: tuple[Param, ...], given: Mapping[str, Any] | None, *,
                    file: str | None = None, field: str = "params") -> dict[str, Any]:
    """Defaults overlaid with validated ``given``; unknown or missing names are ConfigErrors."""
    by_name = {p.name: p for p in declared}
    given = dict(given or {})
    out: dict[str, Any] = {}
    for name in given:
        if name not in by_name:
            raise ConfigError(f"unknown parameter for fault {fault!r}", file=file,
                              field=f"{field}.{name}", value=name,
                              allowed=sorted(by_name) or "no parameters")
    for p in declared:
        if p.name in given:
            out[p.name] = p.coerce(given[p.name], file=file, field=f"{field}.{p.name}")
        elif p.required:
            raise ConfigError(f"fault {fault!r} needs parameter {p.name!r}", file=file,
                              field=f"{field}.{p.name}", allowed=p.allowed())
        else:
            out[p.name] = p.default
    return out
