"""Read YAML documents and validate them, turning the first problem into a ConfigError.

Gate policies and game-day plans are pydantic models (:func:`validate_model`, errors converted
by the experiment loader's converter); their published JSON Schemas are generated from the models
(``python -m harness.schemas``). ``report.json`` files, which the harness writes rather than
users, are checked against ``harness/report/schema.json`` (:func:`validate`), generated the same
way from ``harness.report.model.Report``. Either way a bad file is reported as ``file: field 'a.b[2].c': message
(got VALUE); allowed: ...`` so the user knows exactly what to change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import jsonschema
import yaml
from pydantic import BaseModel, BeforeValidator, StrictInt, ValidationError

from harness.errors import ConfigError
from harness.experiment.loader import config_error_from_validation
from harness.schema_errors import best_error

__all__ = ["Integer", "NotBool", "Version1", "field_path", "load_schema", "read_yaml_documents",
           "read_yaml_mapping", "validate", "validate_model"]

M = TypeVar("M", bound=BaseModel)


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a boolean is not allowed here")
    return value


def _integral(value: Any) -> Any:
    """JSON Schema's ``integer`` includes ``3.0``; keep accepting it, as the int it is."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: Rejects true/false where a number is meant (lax pydantic would read them as 1/0).
NotBool = BeforeValidator(_not_bool)
#: ``version: 1`` of a versioned document.
Version1 = Annotated[Literal[1], NotBool]
#: A JSON Schema ``integer``: an int, or a float without a fraction; never a bool or a string.
Integer = Annotated[StrictInt, BeforeValidator(_integral)]


def validate_model(model: type[M], data: object, *, file: str | None) -> M:
    """Validate a parsed document into ``model``; ConfigError naming file, field and allowed."""
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping of fields", file=file, field="<document>",
                          value=type(data).__name__, allowed="a YAML mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise config_error_from_validation(exc, file, model=model) from None
    except RecursionError:
        raise ConfigError("document nests too deeply", file=file, field="<document>") from None


@cache
def load_schema(package: str, name: str) -> Mapping[str, Any]:
    """A JSON Schema shipped inside a package (``harness/<pkg>/<name>``)."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    schema: Mapping[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def field_path(parts: object) -> str:
    """``["faults", 0, "max_failover_s"]`` -> ``faults[0].max_failover_s``."""
    out = ""
    for p in parts:  # type: ignore[attr-defined]
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "(document)"


def _allowed(error: jsonschema.ValidationError) -> str | list[object] | None:
    s = error.schema if isinstance(error.schema, Mapping) else {}
    v = error.validator
    if v == "enum":
        return list(s.get("enum", []))
    if v == "const":
        return [s.get("const")]
    if v == "type":
        t = s.get("type")
        return f"a value of type {' or '.join(t) if isinstance(t, list) else t}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bounds = []
        for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"),
                        ("maximum", "<="), ("exclusiveMaximum", "<")):
            if key in s:
                bounds.append(f"{op} {s[key]}")
        return "a number " + " and ".join(bounds)
    if v == "additionalProperties":
        return sorted(s.get("properties", {}))
    if v == "required":
        return None
    if v in ("minItems", "minLength"):
        return f"at least {error.validator_value} item(s)"
    if v in ("anyOf", "oneOf"):
        return "; or ".join(str(sub.get("description") or sub.get("required") or sub)
                            for sub in s.get(v, []))
    return None


def validate(document: object, schema: Mapping[str, Any], *, file: str | None) -> None:
    """Raise ConfigError for the most relevant schema violation of ``document``."""
    validator = jsonschema.Draft202012Validator(schema)
    found = best_error(validator, document)
    if found is None:
        return
    error, type_error = found
    path = list(error.absolute_path)
    value: object = error.instance
    message = error.message
    allowed = _allowed(error)
    if type_error:
        message, allowed = type_error
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in known)
        path.append(extra[0] if extra else "?")
        value = extra[0] if extra else None
        message = "unknown field"
    elif error.validator == "required":
        missing = [r for r in error.validator_value if r not in error.instance]
        path.append(missing[0] if missing else "?")
        value = None
        message = "required field is missing"
    elif isinstance(value, (Mapping, list)):
        value = None  # the message already names the structure; don't dump it
    raise ConfigError(message, file=file, field=field_path(path), value=value,
                      allowed=allowed)


def read_yaml_documents(path: str | Path) -> list[Any]:
    """All YAML documents of a file (ConfigError when unreadable or not YAML)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(p),
                          allowed="a path to an existing YAML file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", file=str(p)) from None
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}",
                          file=str(p)) from None


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Exactly one YAML document, a mapping."""
    docs = read_yaml_documents(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise ConfigError("expected exactly one YAML document holding a mapping", file=str(path),
                          value=f"{len(docs)} document(s)" if len(docs) != 1 else
                          type(docs[0]).__name__)
    return docs[0]
