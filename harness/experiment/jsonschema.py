"""The experiment file's JSON Schema, generated from the model (see :mod:`harness.schemas`).

``python -m harness.experiment.jsonschema`` rewrites ``harness/experiment/schema.json`` and every
other published schema; a unit test fails when a committed file and its model disagree. Editors
can use the schema for completion (``# yaml-language-server: $schema=...``). Fault parameters are
free-form here: they are checked per fault by ``harness.faults.build_fault`` (see
``chaos-harness fault list``).
"""

from __future__ import annotations

from typing import Any

from harness import schemas

__all__ = ["SCHEMA_PATH", "experiment_schema", "render"]

SCHEMA_PATH = schemas.DOCUMENTS["experiment"].path


def experiment_schema() -> dict[str, Any]:
    return schemas.document_schema("experiment")


def render() -> str:
    return schemas.render("experiment")


if __name__ == "__main__":
    for written in schemas.write_all():
        print(f"wrote {written}")
