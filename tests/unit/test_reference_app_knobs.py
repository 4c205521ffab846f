"""The app reads exactly the harness's app knobs, under the same names, with the same defaults."""

from __future__ import annotations

import pytest

from harness.knobs import KNOBS, app_environment, resolve_knobs
from reference_app.config import KNOB_ENV, Settings, load_settings

WIRING = {"RAG_API_KEY": "k", "RAG_PRIMARY_URL": "http://127.0.0.1:1/v1"}


def test_same_knob_variables_and_defaults() -> None:
    harness_env = {k.env: (k.type, k.default) for k in KNOBS.values() if k.env}
    assert harness_env == dict(KNOB_ENV)


def test_settings_defaults_equal_knob_defaults() -> None:
    settings = load_settings(WIRING)
    for knob in KNOBS.values():
        if knob.env:
            assert getattr(settings, knob.env[4:].lower()) == knob.default, knob.name


@pytest.mark.parametrize("overrides", [
    {"app.fallback_enabled": False, "app.llm_max_retries": 3, "app.breaker_reset_s": 0.5},
    {"app.cache_enabled": "false", "app.top_k": 7, "app.redis_via_toxiproxy": True},
])
def test_app_environment_round_trips_through_the_app(overrides: dict[str, object]) -> None:
    values = resolve_knobs(overrides)
    settings = load_settings({**WIRING, **app_environment(values)})
    for knob in KNOBS.values():
        if knob.env:
            assert getattr(settings, knob.env[4:].lower()) == values[knob.name], knob.name


def test_settings_is_frozen() -> None:
    settings = load_settings(WIRING)
    assert isinstance(settings, Settings)
    with pytest.raises(AttributeError):
        settings.top_k = 9  # type: ignore[misc]
