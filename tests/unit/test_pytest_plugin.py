"""The pytest plugin, tested with pytester (no servers: the runner is replaced where a stack
would be needed, and a test asserts no stack is ever started for a bad file).

Sessions that patch the runner run in a subprocess (``runpytest_subprocess``): in-process they
would leak the patch into this session, and numpy cannot be imported twice in one process."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET

import pytest

pytest_plugins = ["pytester"]

GOOD = """\
name: tiny
description: d
hypothesis: nothing breaks
load: {rate: 5, warmup: 1s}
steady_state: {duration: 1s}
method:
  - fault: provider-5xx
    duration: 2s
"""

# A conftest for the inner session: the runner returns a result built from a real report
# (written by harness.report) instead of driving a stack; open_stack must never be called.
FAKE_RUNNER = '''
import pytest, harness.stack, harness.experiment.runner as runner
from harness.experiment.runner import ExperimentResult
from harness.report import write_report

CALLS = []

def _never(*a, **kw):
    raise AssertionError("a stack was started")

harness.stack.open_stack = _never

def fake_run(exp, *, file=None, stack=None, substrate="local", report_dir="reports", **kw):
    CALLS.append((exp.name, exp.seed, stack, substrate, report_dir, dict(exp.stack.knobs)))
    verdict = {"tiny": "PASS", "bad-one": "FAIL", "unsure": "INCONCLUSIVE"}.get(exp.name, "PASS")
    rep = {
        "schema": "chaos-harness/report", "version": 1, "run_id": "r-" + exp.name,
        "experiment": {"name": exp.name, "description": "", "hypothesis": exp.hypothesis,
                       "file": file},
        "seed": exp.seed or 0, "substrate": substrate, "vector_mode": "embedded",
        "started_at": "2026-11-22T00:00:00Z", "duration_s": 1.0, "knobs": {},
        "verdict": verdict, "verdict_reasons": ["because " + verdict],
        "slos": [{"name": "availability", "objective": 0.9999, "latency_threshold_ms": 2000.0,
                  "degraded_is_good": True, "good": 10, "total": 10, "bad": 0,
                  "bad_fraction": 0.0, "lower": 0.0, "upper": 0.3, "confidence": 0.95,
                  "verdict": verdict, "needed_requests": 30000}],
        "error_budget": {"objective": 0.9999, "allowed_bad": 0.001, "bad": 0, "consumed": 0.0},
        "burn": {"windows": [], "alerts": []},
        "latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 2.5, "p999": 3.0, "max": 3.0},
        "generator": {"kind": "openloop", "rate": 5.0, "sent": 10, "dropped": 0,
                      "fell_behind": False, "lateness_p99_ms": 0.1, "max_lateness_ms": 0.2},
        "faults": [], "trials": [], "distributions": {}, "projection": None, "skipped": None,
        "files": {},
    }
    files = write_report(rep, directory=f"{report_dir}/{rep['run_id']}")
    return ExperimentResult(run_id=rep["run_id"], verdict=verdict,
                            reasons=tuple(rep["verdict_reasons"]), skipped=None, report=rep,
                            files=files)

runner.run_experiment = fake_run

@pytest.fixture(scope="session")
def chaos_stack():
    return "the-shared-stack"

def pytest_sessionfinish(session):
    print("CALLS", CALLS)
'''


@pytest.fixture(autouse=True)
def _ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def test_options_are_in_one_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    out = result.stdout.str()
    assert "chaos-harness" in out
    for opt in ("--chaos-substrate", "--chaos-report-dir", "--chaos-seed",
                "--chaos-collect-experiments", "--chaos-inconclusive"):
        assert opt in out
    group = out.split("chaos-harness:", 1)[1]
    assert group.index("--chaos-seed") < group.index("--chaos-collect-experiments")


def test_chaos_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.chaos:*"])
    pytester.makepyfile("import pytest\n@pytest.mark.chaos\ndef test_x():\n    pass\n")
    assert pytester.runpytest("--strict-markers", "-m", "chaos").ret == 0


def test_unknown_substrate_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--chaos-substrate", "mainframe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown substrate 'mainframe'*"])


def test_experiment_files_collected_only_when_asked(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", tiny=GOOD, gameday_nightly="hypothesis: x\n",
                      other="just: data\n")
    assert "tiny" not in pytester.runpytest("--collect-only", "-q").stdout.str()
    result = pytester.runpytest("--collect-only", "-q", "--chaos-collect-experiments")
    out = result.stdout.str()
    assert "tiny.yaml::tiny" in out
    assert "gameday" not in out and "other" not in out


def test_bad_experiment_file_fails_with_config_error_and_no_stack(
        pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_RUNNER)
    pytester.makefile(".yaml", broken=GOOD.replace("rate: 5", "rate: -5"))
    result = pytester.runpytest_subprocess("--chaos-collect-experiments", "-p",
                                           "no:cacheprovider", "-s")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CALLS []*"])
    result.stdout.fnmatch_lines(["*broken.yaml*field 'load.rate'*"])
    assert "Traceback" not in result.stdout.str()


def test_collected_items_map_verdicts_and_record_properties(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_RUNNER)
    pytester.makefile(".yaml", tiny=GOOD, **{
        "bad-one": GOOD.replace("name: tiny", "name: bad-one"),
        "unsure": GOOD.replace("name: tiny", "name: unsure")})
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("--chaos-collect-experiments", "--chaos-seed", "42",
                                "--chaos-report-dir", "out", f"--junitxml={junit}", "-rs",
                                "-p", "no:cacheprovider", "-m", "chaos",
                                "--chaos-inconclusive=skip")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*experiment 'bad-one': FAIL*", "*unsure: INCONCLUSIVE*"])
    root = ET.parse(junit).getroot()
    case = root.find(".//testcase[@name='tiny']")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["chaos.verdict"] == "PASS" and props["chaos.seed"] == "42"
    assert props["chaos.latency.p99_ms"] == "2.5"
    assert (pytester.path / "out" / "r-tiny" / "report.html").exists()


def test_inconclusive_fails_by_default_and_skips_only_when_asked(
        pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_RUNNER)
    pytester.makefile(".yaml", unsure=GOOD.replace("name: tiny", "name: unsure"))
    common = ("--chaos-collect-experiments", "-p", "no:cacheprovider", "-rs")
    result = pytester.runpytest_subprocess(*common)
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*experiment 'unsure': INCONCLUSIVE*",
                                 "*--chaos-inconclusive=skip*"])
    assert "Traceback" not in result.stdout.str()
    result = pytester.runpytest_subprocess(*common, "--chaos-inconclusive=skip")
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.OK
    result = pytester.runpytest_subprocess(*common, "--chaos-inconclusive=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_run_experiment_fixture_with_path_and_model(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_RUNNER)
    pytester.makefile(".yaml", tiny=GOOD)
    pytester.makepyfile(test_fixture=textwrap.dedent('''
        import pytest
        from harness.experiment import Experiment, FaultStep

        @pytest.mark.chaos
        def test_path(run_experiment):
            result = run_experiment("tiny.yaml", trials=2)
            assert result.verdict == "PASS"
            assert result.files.json.exists()

        @pytest.mark.chaos
        def test_model_with_knobs_gets_its_own_stack(run_experiment):
            exp = Experiment(name="built", hypothesis="h",
                             method=(FaultStep(fault="provider-5xx", duration=2),))
            result = run_experiment(exp, knobs={"haproxy.retries": 0})
            assert result.verdict == "PASS"
    '''))
    junit = pytester.path / "j.xml"
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider",
                                           f"--junitxml={junit}", "--chaos-report-dir", "rep")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "('tiny', None, 'the-shared-stack', 'local', 'rep', {})" in out
    assert "('built', None, None, 'local', 'rep', {'haproxy.retries': 0})" in out
    props = [p.get("name") for p in ET.parse(junit).getroot().iter("property")]
    assert "chaos.verdict" in props and "chaos.report" in props
