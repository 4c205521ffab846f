"""The topology file's JSON Schema, generated from the model.

``python -m harness.stack.external.jsonschema`` rewrites ``schema.json`` beside this module; a
unit test fails when the committed file and the model disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.stack.external.model import TopologyFile

__all__ = ["SCHEMA_PATH", "render", "topology_schema"]

SCHEMA_PATH = Path(__file__).with_name("schema.json")


def topology_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://chaos-harness.dev/schemas/topology-v1.json",
        **TopologyFile.model_json_schema(mode="validation"),
    }


def render() -> str:
    return json.dumps(topology_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render())
    print(f"wrote {SCHEMA_PATH}")
