"""The experiment model and loader: valid files load, bad ones give a ConfigError naming the
file, the field path, the value and what is allowed (no servers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import ConfigError
from harness.experiment import Experiment, FaultStep, load_experiment
from harness.experiment.jsonschema import SCHEMA_PATH, render
from harness.experiment.loader import field_path, load_experiment_text, load_experiments

ROOT = Path(__file__).resolve().parents[2]

BASE: dict[str, Any] = {
    "name": "app-replica-kill",
    "description": "Kill one app replica.",
    "hypothesis": "HAProxy retries and redispatch hide the loss of one replica.",
    "stack": {"knobs": {"haproxy.retries": 3}},
    "load": {"rate": 50, "warmup": "2s", "arrivals": "constant"},
    "steady_state": {"duration": "5s", "slos": [{"objective": 0.9999,
                                                  "latency_threshold_ms": 1500}]},
    "method": [{"fault": "kill", "target": "service=app-az-a", "start": "10s",
                "duration": "20s", "params": {"signal": "KILL"}}],
    "stop_conditions": [{"max_bad_fraction": 0.5, "window": "5s"}],
    "trials": 2, "seed": 7, "recovery": "15s",
}


def load(doc: Any, tmp_path: Path | None = None) -> Experiment:
    return load_experiment_text(yaml.safe_dump(doc), file="exp.yaml")


def test_valid_document_loads_with_durations_in_seconds() -> None:
    exp = load(BASE)
    assert exp.load.warmup == 2.0 and exp.method[0].start == 10.0
    assert exp.trial_s == 45.0  # last fault end 30 s + recovery 15 s
    assert exp.planned_s == 2 + 5 + 2 * 45 + 10  # + the steady-state check after recovery
    assert exp.planned_requests == 50 * 2 * 45
    assert exp.stack.knobs == {"haproxy.retries": 3}


def test_python_built_model_equals_yaml_model() -> None:
    exp = Experiment.model_validate(BASE)
    exp.check()
    assert exp == load(BASE)
    built = Experiment(name="x", hypothesis="h",
                       method=(FaultStep(fault="kill", target="service=app-az-a",
                                         duration=5),))
    built.check()
    assert built.trial_s == 5 + 10


def test_nested_knobs_are_flattened() -> None:
    exp = load(_with("stack.knobs", {"haproxy": {"retries": 0, "redispatch": False}}))
    assert exp.stack.knobs == {"haproxy.retries": 0, "haproxy.redispatch": False}


def test_model_is_frozen() -> None:
    exp = load(BASE)
    with pytest.raises(Exception, match="frozen"):
        exp.trials = 3  # type: ignore[misc]


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(BASE))
    keys = path.replace("]", "").replace("[", ".").split(".")
    cur = doc
    for k in keys[:-1]:
        cur = cur[int(k)] if k.isdigit() else cur.setdefault(k, {})
    last = keys[-1]
    if value is _DELETE:
        del cur[last]
    else:
        cur[int(last) if last.isdigit() else last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(("path", "value", "field", "allowed"), [
    ("load.rate", -5, "load.rate", "> 0"),
    ("load.generator", "wrk", "load.generator", "'openloop'"),
    ("load.warmup", "5 parsecs", "load.warmup", None),
    ("trials", 0, "trials", ">= 1"),
    ("trials", "3", "trials", None),
    ("seed", True, "seed", None),
    ("confidence", 2, "confidence", "<= 0.9999"),
    ("steady_state.slos.0.objective", 1.5, "steady_state.slos[0].objective", "< 1"),
    ("method.0.duration", 0, "method[0].duration", "> 0"),
    ("method.0.bogus", 1, "method[0].bogus", None),
    ("colour", "red", "colour", None),
    ("hypothesis", _DELETE, "hypothesis", None),
    ("stack.knobs", {"haproxy.retries": 99}, "stack.knobs.haproxy.retries", "int in [0, 20]"),
    ("stack.knobs", {"haproxy": {"retries": 99}}, "stack.knobs.haproxy.retries", "int in"),
    ("stack.knobs", {"nope.knob": 1}, "stack.knobs.nope.knob", "haproxy.retries"),
    ("method.0.fault", "meteor-strike", "method[0].fault", "kill"),
    ("method.0.target", "planet=mars", "method[0].target", "'zone'"),
    ("method.0.params", {"signal": "HUP"}, "method[0].params.signal", "KILL"),
    ("load.duration", "5s", "load.duration", "at least 30"),
    ("load.mix", {"repeat": "zipf", "cache_hit_target": 0.5}, "load.mix.cache_hit_target",
     "repeat: generated"),
    ("load.mix", {"repeat": "unique", "nonce": "abc"}, "load.mix.nonce", "repeat: generated"),
    ("load.mix", {"repeat": "generated", "cache_hit_target": 1.0}, "load.mix.cache_hit_target",
     None),
    ("load.mix", {"repeat": "generated", "cache_hit_target": -0.1},
     "load.mix.cache_hit_target", None),
    ("load.mix", {"repeat": "generated", "nonce": "no spaces!"}, "load.mix.nonce", None),
    ("load.mix", {"repeat": "popular"}, "load.mix.repeat", "generated"),
])
def test_bad_field_names_file_field_value_and_allowed(path: str, value: Any, field: str,
                                                      allowed: str | None) -> None:
    with pytest.raises(ConfigError) as ei:
        load(_with(path, value))
    err = ei.value
    assert err.file == "exp.yaml"
    assert err.field == field, str(err)
    if allowed:
        assert allowed in str(err.allowed), str(err)
    assert "Traceback" not in str(err)


def test_second_fault_params_path() -> None:
    doc = _with("method", [BASE["method"][0], {"fault": "kill",
                                               "target": "service=app-az-b", "duration": 5,
                                               "params": {"signal": 3.5}}])
    with pytest.raises(ConfigError) as ei:
        load(doc)
    assert ei.value.field == "method[1].params.signal"


@pytest.mark.parametrize("text", ["[1, 2", "- a\n- b\n", "42", "", "name: [x", "\t- :"])
def test_not_a_mapping_or_not_yaml(text: str) -> None:
    with pytest.raises(ConfigError, match=r"exp\.yaml"):
        load_experiment_text(text, file="exp.yaml")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such experiment file"):
        load_experiment(tmp_path / "nope.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read"):
        load_experiment(tmp_path / "bin.yaml")
    with pytest.raises(ConfigError, match="no experiment files"):
        load_experiments([tmp_path / "empty"] if (tmp_path / "empty").mkdir() is None else [])


def test_field_path() -> None:
    assert field_path(("method", 1, "params", "rate")) == "method[1].params.rate"
    assert field_path(()) == "<document>"


def test_seeded_schedule_replays_and_differs_per_trial() -> None:
    doc = _with("method.0.start_jitter", "10s")
    exp = load(doc)
    a, b = exp.schedule(7, 1), exp.schedule(7, 1)
    assert a == b
    assert 10.0 <= a[0].start_s <= 20.0 and a[0].end_s == pytest.approx(a[0].start_s + 20)
    assert {exp.schedule(7, t)[0].start_s for t in range(1, 6)} != {a[0].start_s}
    assert exp.schedule(8, 1) != a


def test_overlapping_faults_sorted_by_start() -> None:
    doc = _with("method", [
        {"fault": "kill", "target": "service=app-az-a", "start": 20, "duration": 10},
        {"fault": "kill", "target": "service=app-az-b", "start": 5, "duration": 30}])
    sched = load(doc).schedule(1, 1)
    assert [s.index for s in sched] == [1, 0] and sched[0].fault_id == "f1-kill"


def test_with_overrides_rechecks() -> None:
    exp = load(BASE)
    q = exp.with_overrides(knobs={"haproxy.retries": "0"}, seed=3, trials=1, duration_scale=0.5)
    assert q.stack.knobs["haproxy.retries"] == "0" and q.seed == 3 and q.trials == 1
    assert q.trial_s == pytest.approx(22.5)
    with pytest.raises(ConfigError, match=r"haproxy\.retries"):
        exp.with_overrides(knobs={"haproxy.retries": "lots"})


def test_committed_json_schema_matches_model() -> None:
    assert SCHEMA_PATH.read_text() == render(), (
        "harness/experiment/schema.json is stale: run python -m harness.experiment.jsonschema")


def test_json_schema_accepts_the_base_document() -> None:
    import jsonschema

    jsonschema.validate(BASE, json.loads(SCHEMA_PATH.read_text()))


def test_every_catalog_experiment_loads() -> None:
    files = sorted(p for p in (ROOT / "experiments").glob("*.yaml")
                   if not p.name.startswith("gameday"))
    assert len(files) >= 13
    exps = load_experiments(files)
    assert len({e.name for e in exps}) == len(exps)
    for e, f in zip(exps, files, strict=True):
        assert e.name == f.stem, f"{f}: name should match the file name"
        assert e.hypothesis.strip() and e.description.strip()


def test_public_api_is_pinned() -> None:
    import harness.experiment as pkg
    import harness.report as rep

    assert sorted(pkg.__all__) == sorted([
        "SLO", "Experiment", "ExperimentResult", "FaultStep", "LoadSpec", "MixSpec",
        "StackSpec", "SteadyState", "StopCondition", "WritesSpec", "experiment_from_data",
        "load_experiment", "load_experiments", "run_experiment"])
    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
    for name in rep.__all__:
        assert getattr(rep, name) is not None
