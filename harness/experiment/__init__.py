"""Experiments: the model, the loader, and the runner (the only orchestrator).

``load_experiment(path)`` reads and checks a YAML file; ``run_experiment(exp, ...)`` runs it
against a stack and writes the report. The runner is imported on first use, so checking a file
never imports the side-effect layers.
"""

from __future__ import annotations

from typing import Any

from harness.experiment.loader import experiment_from_data, load_experiment, load_experiments
from harness.experiment.model import (
    SLO,
    Experiment,
    FaultStep,
    LoadSpec,
    MixSpec,
    StackSpec,
    SteadyState,
    StopCondition,
    WritesSpec,
)

__all__ = [
    "SLO",
    "Experiment",
    "ExperimentResult",
    "FaultStep",
    "LoadSpec",
    "MixSpec",
    "StackSpec",
    "SteadyState",
    "StopCondition",
    "WritesSpec",
    "experiment_from_data",
    "load_experiment",
    "load_experiments",
    "run_experiment",
]


def __getattr__(name: str) -> Any:
    if name in ("run_experiment", "ExperimentResult"):
        from harness.experiment import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'harness.experiment' has no attribute {name!r}")
