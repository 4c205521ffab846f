"""Chaos tests share the session's local stack (``local_stack`` from tests/conftest.py) through
the plugin's ``chaos_stack`` fixture; experiments that override knobs get their own stack."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def chaos_stack(local_stack: Any) -> Any:
    return local_stack
