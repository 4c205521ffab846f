"""Every published JSON Schema, generated from the pydantic model that validates the document.

``python -m harness.schemas`` rewrites all of them (``python -m harness.experiment.jsonschema``
and ``python -m harness.stack.external.jsonschema`` do the same); a unit test fails when a
committed file and its model disagree. Editors can use the schemas for completion
(``# yaml-language-server: $schema=...``). ``harness/report/schema.json`` is generated too: the
harness writes reports rather than users, and checks each one against that schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from pydantic import BaseModel

__all__ = ["DOCUMENTS", "Document", "document_schema", "render", "write_all"]

_HARNESS = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Document:
    """One published schema: where it lives, its ``$id`` and the model it is generated from."""

    key: str
    path: Path
    schema_id: str
    model: str  # "module:Class", imported on use (the models import this package's loaders)

    def model_class(self) -> type[BaseModel]:
        module, _, name = self.model.partition(":")
        cls: type[BaseModel] = getattr(import_module(module), name)
        return cls


DOCUMENTS: dict[str, Document] = {d.key: d for d in (
    Document("experiment", _HARNESS / "experiment" / "schema.json",
             "https://chaos-harness.dev/schemas/experiment-v1.json",
             "harness.experiment.model:Experiment"),
    Document("gameday-plan", _HARNESS / "gameday" / "plan.schema.json",
             "https://chaos-harness.dev/schemas/gameday-plan-v1.json",
             "harness.gameday.plan_model:PlanFile"),
    Document("gate-policy", _HARNESS / "gate" / "policy.schema.json",
             "https://chaos-harness.dev/schemas/gate-policy-v1.json",
             "harness.gate.policy_model:PolicyFile"),
    Document("report", _HARNESS / "report" / "schema.json",
             "https://chaos-harness.dev/schemas/report-v1.json",
             "harness.report.model:Report"),
    Document("topology", _HARNESS / "stack" / "external" / "schema.json",
             "https://chaos-harness.dev/schemas/topology-v1.json",
             "harness.stack.external.model:TopologyFile"),
)}


def document_schema(key: str) -> dict[str, Any]:
    """The JSON Schema of one document, generated from its model."""
    doc = DOCUMENTS[key]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": doc.schema_id,
        **doc.model_class().model_json_schema(mode="validation"),
    }


def render(key: str) -> str:
    """The text of a schema file, as committed."""
    return json.dumps(document_schema(key), indent=2, sort_keys=True) + "\n"


def write_all() -> list[Path]:
    """Rewrite every published schema file from its model."""
    for doc in DOCUMENTS.values():
        doc.path.write_text(render(doc.key))
    return [d.path for d in DOCUMENTS.values()]


if __name__ == "__main__":
    for written in write_all():
        print(f"wrote {written}")
