"""Read experiment files: YAML in, a checked :class:`Experiment` out, or a ConfigError.

Every problem is a :class:`~harness.errors.ConfigError` that names the file, the field path
(``method[1].params.rate``), the bad value and what is allowed. Never a traceback, and nothing is
started: the runner only ever sees checked experiments.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError
from harness.experiment.model import Experiment

__all__ = ["config_error_from_validation", "experiment_from_data", "field_path",
           "load_experiment", "load_experiment_text", "load_experiments"]

_MAX_BYTES = 1_000_000


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('method', 1, 'params', 'rate')`` -> ``method[1].params.rate``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<document>"


def _annotation_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> Any:
    """The type a field path points at in ``model`` (Annotated and ``X | None`` unwrapped);
    None when the path leaves what can be followed (free-form dicts, unions)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            info = _fields(tp).get(part)
            if info is None:
                return None
            tp = info.annotation
        elif isinstance(part, int) and origin in (list, tuple) and args:
            tp = args[0]
        elif isinstance(part, str) and origin is dict and len(args) == 2:
            tp = args[1]
        else:
            return None
    return _unwrap(tp)


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the name a document uses (the alias, where there is one)."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _unwrap(tp: Any) -> Any:
    while True:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Annotated:
            tp = args[0]
        elif origin in (typing.Union, types.UnionType):
            arms = [a for a in args if a is not type(None)]
            if len(arms) != 1:
                return tp
            tp = arms[0]
        else:
            return tp


def _allowed(err: Mapping[str, Any], model: type[BaseModel] | None) -> str | list[Any] | None:
    ctx = err.get("ctx") or {}
    kind = err.get("type", "")
    loc = tuple(err.get("loc", ()))
    if kind == "extra_forbidden":
        section = _annotation_at(model, loc[:-1]) if model is not None else None
        if isinstance(section, type) and issubclass(section, BaseModel):
            return sorted(_fields(section))
        return "see docs/experiments.md for the fields of this section"
    if kind == "literal_error":
        field_type = _annotation_at(model, loc) if model is not None else None
        if typing.get_origin(field_type) is typing.Literal:
            return list(typing.get_args(field_type))
        return str(ctx.get("expected"))
    names = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "min_length": "at least",
             "max_length": "at most", "pattern": "matching"}
    bounds = [f"{names[k]} {v:g}" if isinstance(v, float) else f"{names[k]} {v}"
              for k, v in ctx.items() if k in names]
    return ", ".join(bounds) or None


def config_error_from_validation(exc: ValidationError, file: str | None, *,
                                 model: type[BaseModel] | None = None) -> ConfigError:
    """The first problem of a pydantic ValidationError as a ConfigError naming the file, the
    field path, the bad value and what is allowed. With ``model`` (the validated document's
    model), an unknown field lists the section's fields and a bad choice lists the choices."""
    err = exc.errors(include_url=False)[0]
    field = field_path(tuple(err.get("loc", ())))
    value = err.get("input")
    msg = str(err.get("msg", "invalid value"))
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    elif err.get("type") == "missing":
        msg, value = "required field is missing", None
    if isinstance(value, dict | list) and len(repr(value)) > 200:
        value = f"{type(value).__name__} of {len(value)} items"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(msg, file=file, field=field, value=value, allowed=_allowed(err, model))


def experiment_from_data(data: Any, *, file: str | None = None) -> Experiment:
    """Validate a parsed document (or a dict built in Python) into a checked Experiment."""
    if not isinstance(data, Mapping):
        raise ConfigError("an experiment is a mapping of fields", file=file, field="<document>",
                          value=type(data).__name__, allowed="a YAML mapping with name, "
                          "hypothesis, load, steady_state, method ...")
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise ConfigError("field names must be strings", file=file, field="<document>",
                          value=bad_keys[0])
    try:
        exp = Experiment.model_validate(dict(data))
    except ValidationError as exc:
        raise config_error_from_validation(exc, file) from None
    except RecursionError:
        raise ConfigError("document nests too deeply", file=file, field="<document>") from None
    exp.check(file=file)
    return exp


def load_experiment(path: str | Path) -> Experiment:
    """Read and check one experiment file."""
    path = Path(path)
    file = str(path)
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise ConfigError("experiment file is too large", file=file,
                              value=path.stat().st_size, allowed=f"at most {_MAX_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such experiment file", file=file,
                          allowed="a path to a .yaml file, e.g. experiments/app-replica-kill.yaml"
                          ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read experiment file: {exc}", file=file) from None
    return load_experiment_text(text, file=file)


def load_experiment_text(text: str, *, file: str | None = None) -> Experiment:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"not valid YAML{where}: {problem}", file=file) from None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=file) from None
    return experiment_from_data(data, file=file)


def load_experiments(paths: list[str | Path]) -> list[Experiment]:
    """Check every file before anything runs (directories: every *.yaml except game days)."""
    out: list[Experiment] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files = sorted(f for f in p.glob("*.yaml") if not f.name.startswith("gameday"))
            if not files:
                raise ConfigError("no experiment files in directory", file=str(p),
                                  allowed="a directory of *.yaml experiments")
            out.extend(load_experiment(f) for f in files)
        else:
            out.append(load_experiment(p))
    return out
