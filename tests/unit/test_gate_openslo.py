"""OpenSLO SLO documents (v1 and v1alpha) read into gate objectives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.gate import load_openslo, parse_openslo

ROOT = Path(__file__).resolve().parents[2]


def slo(objectives: list[Any], *, version: str = "openslo/v1", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": version, "kind": "SLO", "metadata": {"name": "avail", **meta},
            "spec": {"service": "rag", "objectives": objectives}}


def test_v1_file_with_service_doc_and_ratio_metric() -> None:
    [obj] = load_openslo(ROOT / "fixtures/openslo/rag-availability.yaml")
    assert obj.slo == "availability" and obj.report_slo == "availability"
    assert obj.target == pytest.approx(0.9999) and obj.indicator == "ratio"
    assert obj.time_window == "28d" and obj.op is None and obj.api_version == "openslo/v1"
    assert obj.objective == "four nines"


def test_v1alpha_target_percent_threshold_and_annotation() -> None:
    [obj] = load_openslo(ROOT / "fixtures/openslo/rag-latency-v1alpha.yaml")
    assert obj.api_version == "openslo/v1alpha" and obj.target == pytest.approx(0.999)
    assert obj.op == "lte" and obj.threshold_ms == 2000 and obj.indicator == "ratio"
    assert obj.report_slo == "availability" and obj.time_window == "28 Day"


def test_name_map_beats_annotation_and_seconds_unit() -> None:
    doc = slo([{"target": 0.99, "op": "lt", "value": 1.5}],
              annotations={"chaos-harness/slo": "a", "chaos-harness/threshold-unit": "s"})
    [obj] = parse_openslo([doc], name_map={"avail": "b"})
    assert obj.report_slo == "b" and obj.threshold_ms == 1500 and obj.indicator == "threshold"
    [obj] = parse_openslo([doc])
    assert obj.report_slo == "a"


def test_several_objectives_and_other_kinds_ignored() -> None:
    docs = [{"apiVersion": "openslo/v1", "kind": "AlertPolicy", "metadata": {"name": "x"}},
            slo([{"target": 0.999}, {"targetPercent": 99.99, "displayName": "strict"}])]
    objs = parse_openslo(docs)
    assert [o.target for o in objs] == pytest.approx([0.999, 0.9999])
    assert objs[0].objective == "objectives[0]" and objs[1].objective == "strict"


@pytest.mark.parametrize(("docs", "field", "allowed"), [
    ([slo([{"target": 0.99}], version="openslo/v2")], "documents[0].apiVersion", "openslo/v1"),
    ([slo([{"target": 1.5}])], "documents[0].spec.objectives[0].target", "(0, 1)"),
    ([slo([{"targetPercent": 100}])], "documents[0].spec.objectives[0].targetPercent",
     "(0, 100)"),
    ([slo([{"target": 0.9, "targetPercent": 90}])], "documents[0].spec.objectives[0]",
     "targetPercent"),
    ([slo([{}])], "documents[0].spec.objectives[0]", "target"),
    ([slo([{"target": 0.9, "op": "eq", "value": 3}])],
     "documents[0].spec.objectives[0].op", "'lte'"),
    ([slo([{"target": 0.9, "op": "lt", "value": "fast"}])],
     "documents[0].spec.objectives[0].value", ">= 0"),
    ([slo([])], "documents[0].spec.objectives", "list"),
    ([{"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {}, "spec": {}}],
     "documents[0].metadata.name", "string"),
    ([slo([{"target": 0.9}], annotations={"chaos-harness/threshold-unit": "h"})],
     "documents[0].metadata.annotations.chaos-harness/threshold-unit", "'ms'"),
])
def test_bad_documents_name_field_and_allowed(docs: list[Any], field: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_openslo(docs, file="slo.yaml")
    assert err.value.field == field and err.value.file == "slo.yaml"
    assert allowed in str(err.value.allowed)


def test_file_without_slo_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "svc.yaml"
    p.write_text("apiVersion: openslo/v1\nkind: Service\nmetadata: {name: rag}\n")
    with pytest.raises(ConfigError, match="no OpenSLO document of kind SLO"):
        load_openslo(p)
