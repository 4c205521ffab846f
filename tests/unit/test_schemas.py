"""Every published JSON Schema is generated from its pydantic model and committed in step with it;
the shipped documents validate against the committed schemas (what editors and CI linters see)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.schemas import DOCUMENTS, render

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("key", sorted(DOCUMENTS))
def test_committed_schema_is_generated_from_its_model(key: str) -> None:
    doc = DOCUMENTS[key]
    assert doc.path.read_text() == render(key), (
        f"{doc.path.relative_to(ROOT)} is stale: run python -m harness.schemas")


@pytest.mark.parametrize("key", sorted(DOCUMENTS))
def test_committed_schema_is_a_valid_draft_2020_12_schema(key: str) -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(DOCUMENTS[key].path.read_text()))


@pytest.mark.parametrize(("key", "files"), [
    ("gameday-plan", [ROOT / "experiments" / "gameday.yaml",
                      *sorted((ROOT / "experiments" / "plans").glob("*.yaml"))]),
    ("gate-policy", sorted((ROOT / "fixtures" / "policies").glob("*.yaml"))),
    ("report", sorted((ROOT / "fixtures" / "policies" / "examples").glob("report-*.json"))),
])
def test_shipped_documents_match_the_published_schema(key: str, files: list[Path]) -> None:
    assert files
    validator = jsonschema.Draft202012Validator(json.loads(DOCUMENTS[key].path.read_text()))
    for f in files:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(f.read_text()))]
        assert not errors, (f.name, errors)


def test_report_schema_lets_consumers_meet_fields_it_does_not_name() -> None:
    """report.json v1 promises readers may ignore unknown fields, so the harness may add some."""
    rep = json.loads((ROOT / "fixtures" / "policies" / "examples" / "report-pass.json").read_text())
    rep["new_top_level"] = 1
    rep["faults"][0]["new_fault_field"] = {"x": 1}
    rep["slos"][0]["interval"] = "clopper-pearson"
    validator = jsonschema.Draft202012Validator(json.loads(DOCUMENTS["report"].path.read_text()))
    assert not [e.message for e in validator.iter_errors(rep)]
