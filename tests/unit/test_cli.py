"""The command-line adapter: every subcommand is registered, knobs are listed, exit codes hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import COMMANDS, EXIT, build_parser, main
from harness.knobs import KNOBS

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "app-replica-kill.yaml"


def test_every_documented_subcommand_is_registered() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)  # type: ignore[arg-type]


def test_knobs_lists_every_knob_with_default_and_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["knobs", "--json"]) == 0
    listed = {k["name"]: k for k in json.loads(capsys.readouterr().out)}
    assert set(listed) == set(KNOBS)
    assert listed["haproxy.retries"]["default"] == 3
    assert listed["app.fallback_enabled"]["env"] == "RAG_FALLBACK_ENABLED"
    assert main(["knobs"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in KNOBS)


def test_a_bad_knob_is_a_usage_error_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(EXPERIMENT), "--set", "haproxy.retries=lots"])
    err = capsys.readouterr().err
    assert code == EXIT["usage"]
    assert "haproxy.retries" in err and "int in [0, 20]" in err


def test_no_subcommand_prints_help_and_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT["usage"]
    assert "COMMAND" in capsys.readouterr().out
