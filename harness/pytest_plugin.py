"""pytest plugin (entry point ``pytest11``): chaos experiments as tests.

* marker ``chaos`` (registered here too, so the plugin works in any project);
* options, in the group ``chaos-harness``: ``--chaos-substrate``, ``--chaos-report-dir``,
  ``--chaos-seed``, ``--chaos-collect-experiments``, ``--chaos-inconclusive=fail|skip``;
* fixture ``chaos_stack`` (session): one running stack for the whole session, torn down at the
  end (also on Ctrl-C); skipped with the reason when the substrate cannot run here;
* fixture ``run_experiment`` (function): ``run_experiment("experiments/x.yaml")`` or
  ``run_experiment(Experiment(...), trials=2)`` -> :class:`~harness.experiment.runner.
  ExperimentResult`; key figures go into the JUnit XML through ``record_property``;
* with ``--chaos-collect-experiments``, experiment YAML files are collected as test items: FAIL
  fails the item; INCONCLUSIVE fails it too unless ``--chaos-inconclusive=skip`` (an experiment
  that proved nothing is never green by default); an experiment the substrate cannot run is
  skipped with the reason.

An experiment that overrides knobs gets its own stack (knobs are fixed when a stack starts);
others share ``chaos_stack``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.experiment.model import Experiment
    from harness.experiment.runner import ExperimentResult

__all__ = ["chaos_stack", "run_experiment"]

_GROUP = "chaos-harness"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(_GROUP, "chaos-harness: chaos experiments against a real stack")
    group.addoption("--chaos-substrate", default="local", metavar="NAME",
                    help="substrate for chaos_stack and experiments (local | docker | "
                         "external: the deployment in $CHAOS_TOPOLOGY, confirmed by "
                         "$CHAOS_YES_TOUCH_EXTERNAL=1); default: local")
    group.addoption("--chaos-report-dir", default="reports", metavar="DIR",
                    help="where run reports are written (reports/<run-id>/); default: reports")
    group.addoption("--chaos-seed", type=int, default=None, metavar="N",
                    help="seed for every experiment (default: the file's seed, else random)")
    group.addoption("--chaos-collect-experiments", action="store_true", default=False,
                    help="collect experiment YAML files (*.yaml with a 'method' or "
                         "'hypothesis', not gameday*) as test items")
    group.addoption("--chaos-inconclusive", default="fail", choices=("fail", "skip"),
                    help="what a collected experiment ending INCONCLUSIVE does: fail the item "
                         "(default: it proved nothing) or skip it with the reasons")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos: runs whole experiments against a real stack (pytest -m chaos)")
    sub = config.getoption("--chaos-substrate", default="local")
    if sub not in ("local", "docker", "external"):
        raise pytest.UsageError(f"--chaos-substrate: unknown substrate {sub!r}; "
                                f"use 'local', 'docker' or 'external'")


def _substrate_or_skip(config: pytest.Config) -> str:
    from harness.stack import available_substrates

    name: str = config.getoption("--chaos-substrate")
    reason = available_substrates().get(name, f"unknown substrate {name!r}")
    if reason is not None:
        pytest.skip(f"substrate {name!r} cannot run here: {reason}")
    return name


class _SharedStack:
    """The session's one default-knob stack, opened on first use and closed at exit."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._exit = ExitStack()
        self._stack: Any = None
        config.add_cleanup(self.close)

    def get(self) -> Any:
        if self._stack is None:
            from harness.stack import open_stack

            substrate = _substrate_or_skip(self._config)
            self._stack = self._exit.enter_context(open_stack(substrate=substrate))
        return self._stack

    def close(self) -> None:
        self._stack = None
        self._exit.close()


_SHARED = pytest.StashKey[_SharedStack]()


def _shared(config: pytest.Config) -> _SharedStack:
    if _SHARED not in config.stash:
        config.stash[_SHARED] = _SharedStack(config)
    return config.stash[_SHARED]


@pytest.fixture(scope="session")
def chaos_stack(request: pytest.FixtureRequest) -> Any:
    """One running stack (default knobs) shared by the session's chaos tests and collected
    experiment files; torn down when the session ends (also on Ctrl-C)."""
    return _shared(request.config).get()


def _result_properties(record: Callable[[str, object], None], result: ExperimentResult) -> None:
    from harness.report import junit_properties

    for key, value in junit_properties(result.report).items():
        record(f"chaos.{key}", value)
    record("chaos.report", str(result.files.json))


def _execute(config: pytest.Config, experiment: str | Path | Experiment,
             overrides: dict[str, Any], shared_stack: Callable[[], Any]) -> ExperimentResult:
    from harness.experiment.loader import load_experiment
    from harness.experiment.runner import run_experiment as run

    exp = load_experiment(experiment) if isinstance(experiment, str | Path) else experiment
    file = str(experiment) if isinstance(experiment, str | Path) else None
    seed = overrides.pop("seed", config.getoption("--chaos-seed"))
    knobs = overrides.pop("knobs", None)
    if seed is not None or knobs or overrides:
        exp = exp.with_overrides(seed=seed, knobs=knobs, **overrides)
    substrate = _substrate_or_skip(config)
    stack = None if exp.stack.knobs else shared_stack()
    return run(exp, file=file, stack=stack, substrate=substrate,
               report_dir=config.getoption("--chaos-report-dir"))


@pytest.fixture
def run_experiment(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]
                   ) -> Callable[..., ExperimentResult]:
    """``run_experiment(path_or_model, *, seed=, knobs=, trials=, rate=, duration_scale=)``."""

    def _run(experiment: str | Path | Experiment, **overrides: Any) -> ExperimentResult:
        result = _execute(request.config, experiment, dict(overrides),
                          lambda: request.getfixturevalue("chaos_stack"))
        _result_properties(record_property, result)
        return result

    return _run


# -- experiment files as test items --------------------------------------------------------------
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.getoption("--chaos-collect-experiments"):
        return None
    if file_path.suffix not in (".yaml", ".yml") or file_path.name.startswith("gameday"):
        return None
    head = file_path.read_text(encoding="utf-8", errors="replace")[:20_000]
    if "hypothesis:" not in head:
        return None
    return ExperimentFile.from_parent(parent, path=file_path)


class ExperimentFile(pytest.File):
    """An experiment YAML file: one test item that runs it through ``run_experiment``."""

    def collect(self) -> Iterator[pytest.Item]:
        item = pytest.Function.from_parent(self, name=self.path.stem,
                                           callobj=_experiment_test(self.path))
        item.add_marker(pytest.mark.chaos)
        yield item


def _experiment_test(path: Path) -> Callable[..., None]:
    def run_experiment_file(run_experiment: Callable[..., ExperimentResult],
                            request: pytest.FixtureRequest) -> None:
        from harness.experiment.loader import load_experiment

        __tracebackhide__ = True
        exp = load_experiment(path)
        result = run_experiment(exp)
        if result.skipped:
            pytest.skip(f"{exp.name}: {result.skipped}")
        if result.verdict == "INCONCLUSIVE":
            if request.config.getoption("--chaos-inconclusive") == "skip":
                pytest.skip(f"{exp.name}: INCONCLUSIVE: {'; '.join(result.reasons)} "
                            f"(report: {result.files.html})")
            raise ExperimentFailed(exp.name, result, hint="pass --chaos-inconclusive=skip to "
                                                          "skip INCONCLUSIVE experiments")
        if result.verdict == "FAIL":
            raise ExperimentFailed(exp.name, result)

    return run_experiment_file


def pytest_exception_interact(node: pytest.Item | pytest.Collector, call: Any,
                              report: pytest.TestReport | pytest.CollectReport) -> None:
    """ConfigError / FAIL of a collected experiment: the message, not a traceback."""
    from harness.errors import HarnessError

    exc = call.excinfo.value if call.excinfo else None
    if isinstance(exc, ExperimentFailed | HarnessError) and isinstance(node, pytest.Function) \
            and isinstance(node.parent, ExperimentFile):
        report.longrepr = str(exc)


class ExperimentFailed(Exception):
    def __init__(self, name: str, result: ExperimentResult, *, hint: str = "") -> None:
        reasons = "\n  ".join(result.reasons) or "see the report"
        tail = f"\n  ({hint})" if hint else ""
        super().__init__(f"experiment {name!r}: {result.verdict}\n  {reasons}\n  report: "
                         f"{result.files.html}{tail}")
