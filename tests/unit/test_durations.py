"""harness.durations: the one duration grammar (experiments, plans, fault parameters, CLI)."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from harness.durations import (
    Duration,
    SLOWindow,
    duration_seconds,
    openslo_duration_seconds,
    parse_duration,
)
from harness.errors import ConfigError


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("2s", 2.0), ("5m", 300.0), ("1h", 3600.0), ("2.5", 2.5), (".5s", 0.5),
    (" 3 s ", 3.0)])
def test_duration_seconds(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


def test_days_only_for_windows() -> None:
    assert duration_seconds("30d") is None
    assert duration_seconds("30d", days=True) == 30 * 86400.0
    assert duration_seconds("fast") is None


def test_parse_duration_error_names_file_field_and_forms() -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration("5q", field="load.warmup", file="x.yaml")
    assert info.value.field == "load.warmup" and info.value.file == "x.yaml"
    assert "'500ms', '30s', '5m', '1h'" in str(info.value)


def test_pydantic_types_use_the_same_grammar() -> None:
    assert TypeAdapter(Duration).validate_python("500ms") == 0.5
    assert TypeAdapter(SLOWindow).validate_python("28d") == 28 * 86400.0
    with pytest.raises(ValidationError, match="a duration is a number of seconds"):
        TypeAdapter(Duration).validate_python("1d")


def test_openslo_shorthand_is_its_own_grammar() -> None:
    assert openslo_duration_seconds("1w") == 7 * 86400.0
    assert openslo_duration_seconds("500ms") is None
    assert openslo_duration_seconds(28) is None
