"""Durations: the one place that turns ``2``, ``"500ms"``, ``"30s"``, ``"1h"`` into seconds.

Experiments, game-day plans, fault parameters and CLI options all accept the same forms: a
number of seconds, or a number with a unit ``ms``, ``s``, ``m`` or ``h`` (SLO windows also ``d``).

* :func:`parse_duration` -- a YAML value or CLI string -> seconds, or
  :class:`~harness.errors.ConfigError` naming the file, the field and the allowed forms;
* :func:`duration_seconds` -- a string -> seconds, or None when it is not a duration;
* :data:`Duration` / :data:`SLOWindow` -- the same grammar as pydantic field types (with the JSON
  schema the experiment schema is generated from);
* :func:`openslo_duration_seconds` -- OpenSLO's own shorthand (``28d``, ``1w``; a unit is
  required, ``ms`` does not exist), for reading OpenSLO files, not ours.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import annotated_types
from pydantic import BeforeValidator, WithJsonSchema

from harness.errors import ConfigError

__all__ = ["DURATION_PATTERN", "Duration", "SLOWindow", "duration_seconds",
           "openslo_duration_seconds", "parse_duration"]

#: ``30``, ``2.5``, ``.5``, ``500ms``, ``30s``, ``5m``, ``1h`` (also the JSON schemas' pattern)
DURATION_PATTERN = r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$"
#: the same, also accepting days (``30d``): SLO windows are long
_WINDOW_PATTERN = r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$"
_DURATION = re.compile(DURATION_PATTERN)
_WINDOW = re.compile(_WINDOW_PATTERN)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

#: what a duration may look like, for error messages
ALLOWED = "a number of seconds or a string like '500ms', '30s', '5m', '1h'"
_MESSAGE = "a duration is " + ALLOWED


def duration_seconds(text: str, *, days: bool = False) -> float | None:
    """Seconds from ``"500ms"``, ``"30s"``, ``"5m"``, ``"1h"``, ``"2.5"`` (``"30d"`` too with
    ``days``); None when ``text`` is not of that form."""
    m = (_WINDOW if days else _DURATION).match(text)
    return float(m[1]) * _UNIT_S[m[2]] if m else None


def parse_duration(value: Any, *, field: str = "duration", file: str | None = None) -> float:
    """Seconds (finite, >= 0) from a number or a string such as ``"500ms"``, ``"2s"``, ``"1m"``.

    Raises :class:`~harness.errors.ConfigError` naming ``file`` and ``field``, the bad value
    and the allowed forms.
    """
    if isinstance(value, bool):
        raise ConfigError(_MESSAGE, file=file, field=field, value=value)
    parsed = float(value) if isinstance(value, int | float) else duration_seconds(str(value))
    if parsed is None:
        raise ConfigError(_MESSAGE, file=file, field=field, value=value)
    seconds = parsed
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise ConfigError("a duration must be a finite number >= 0", file=file, field=field,
                          value=value)
    return seconds


def _to_seconds(value: Any) -> Any:
    """pydantic before-validator: strings -> seconds; anything else unchanged (bools and
    negative numbers are then rejected by the float field's own checks)."""
    if isinstance(value, str):
        seconds = duration_seconds(value)
        if seconds is None:
            raise ValueError(_MESSAGE)
        return seconds
    return value


def _window_to_seconds(value: Any) -> Any:
    """Like :func:`_to_seconds`, also accepting days (``"30d"``)."""
    if isinstance(value, str):
        seconds = duration_seconds(value, days=True)
        if seconds is None:
            raise ValueError("a window is a number of seconds or a string like '28d', '720h'")
        return seconds
    return value


#: a pydantic field type: seconds (0 to 7 days) from a number or a string like ``"30s"``
Duration = Annotated[
    float,
    annotated_types.Ge(0),
    annotated_types.Le(7 * 24 * 3600),
    BeforeValidator(_to_seconds),
    WithJsonSchema({
        "anyOf": [{"type": "number", "minimum": 0},
                  {"type": "string", "pattern": DURATION_PATTERN}],
        "description": "seconds, or a string such as '500ms', '30s', '5m', '1h'",
    }),
]

#: a pydantic field type for SLO windows: seconds (1 h to 400 d), also ``"28d"``
SLOWindow = Annotated[
    float,
    annotated_types.Ge(3600),
    annotated_types.Le(400 * 86400),
    BeforeValidator(_window_to_seconds),
    WithJsonSchema({
        "anyOf": [{"type": "number", "minimum": 3600, "maximum": 400 * 86400},
                  {"type": "string", "pattern": _WINDOW_PATTERN}],
        "description": "seconds, or a string such as '30d', '28d', '720h' (1 h to 400 d)",
    }),
]


_OPENSLO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_OPENSLO_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def openslo_duration_seconds(text: object) -> float | None:
    """OpenSLO's shorthand (``"28d"``, ``"1m"``, ``"720h"``, ``"1w"``) -> seconds; None when
    ``text`` is not one."""
    m = _OPENSLO.match(text) if isinstance(text, str) else None
    return float(m[1]) * _OPENSLO_UNIT_S[m[2]] if m else None
