"""The topology file's JSON Schema, generated from the model (see :mod:`harness.schemas`).

``python -m harness.stack.external.jsonschema`` rewrites ``schema.json`` beside this module and
every other published schema; a unit test fails when a committed file and its model disagree.
"""

from __future__ import annotations

from typing import Any

from harness import schemas

__all__ = ["SCHEMA_PATH", "render", "topology_schema"]

SCHEMA_PATH = schemas.DOCUMENTS["topology"].path


def topology_schema() -> dict[str, Any]:
    return schemas.document_schema("topology")


def render() -> str:
    return schemas.render("topology")


if __name__ == "__main__":
    for written in schemas.write_all():
        print(f"wrote {written}")
