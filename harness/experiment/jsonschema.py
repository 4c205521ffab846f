"""The experiment file's JSON Schema, generated from the model.

``python -m harness.experiment.jsonschema`` rewrites ``harness/experiment/schema.json``; a unit
test fails when the committed file and the model disagree. Editors can use the schema for
completion (``# yaml-language-server: $schema=...``). Fault parameters are free-form here: they
are checked per fault by ``harness.faults.build_fault`` (see ``chaos-harness fault list``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.experiment.model import Experiment

__all__ = ["SCHEMA_PATH", "experiment_schema"]

SCHEMA_PATH = Path(__file__).with_name("schema.json")


def experiment_schema() -> dict[str, Any]:
    schema = Experiment.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://chaos-harness.dev/schemas/experiment-v1.json",
        **schema,
    }


def render() -> str:
    return json.dumps(experiment_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render())
    print(f"wrote {SCHEMA_PATH}")
