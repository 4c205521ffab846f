"""The most useful error of a JSON Schema validation, also through generated "X or null" unions.

pydantic writes an optional field as ``anyOf: [X, {type: null}]`` where a hand-written schema says
``type: [X, null]``. jsonschema reports a failed ``anyOf`` as "not valid under any of the given
schemas" at the union; :func:`best_error` reports it as the hand-written schema was reported:
from inside X when the value is an X (the missing field, the bad enum value), else as a type
error. The report writer and the gate's report reader both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

__all__ = ["best_error"]

def _branch_types(error: jsonschema.ValidationError, root: Mapping[str, Any]) -> list[str] | None:
    """The JSON types of an anyOf/oneOf whose every branch names one (``$defs`` refs resolved).

    A generated schema writes "a number or null" as ``anyOf: [{type: number}, {type: null}]``;
    this lets a value of neither type be reported as a type error, not as "not valid under any
    of the given schemas".
    """
    if error.validator not in ("anyOf", "oneOf"):
        return None
    types: list[str] = []
    for branch in error.validator_value:
        ref = branch.get("$ref", "") if isinstance(branch, Mapping) else ""
        if ref.startswith("#/$defs/"):
            branch = root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
        t = branch.get("type") if isinstance(branch, Mapping) else None
        if not isinstance(t, str):
            return None
        types.append(t)
    return types


def _through_nullable(error: jsonschema.ValidationError, root: Mapping[str, Any],
                      validator: jsonschema.protocols.Validator,
                      ) -> tuple[jsonschema.ValidationError, tuple[str, str] | None]:
    """Report a failed "X or null" (anyOf / oneOf of typed branches) as the hand-written
    ``type: [X, null]`` was: inside X when the value is an X, else as a type error
    (message, allowed)."""
    while (types := _branch_types(error, root)) is not None:
        matching = [i for i, t in enumerate(types) if validator.is_type(error.instance, t)]
        if not matching:
            return error, (f"{error.instance!r} is not of type {', '.join(map(repr, types))}",
                           f"a value of type {' or '.join(types)}")
        inner = jsonschema.exceptions.best_match(
            e for e in error.context or [] if list(e.relative_schema_path)[:1] == matching[:1])
        if len(matching) != 1 or inner is None:
            break
        error = inner
    return error, None


def best_error(validator: jsonschema.protocols.Validator, document: object,
               ) -> tuple[jsonschema.ValidationError, tuple[str, str] | None] | None:
    """The error to report (None when ``document`` is valid), and for a value of none of a
    union's types the (message, allowed) to report it with."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return None
    return _through_nullable(error, validator.schema, validator)
