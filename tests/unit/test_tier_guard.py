"""Under CI, a suite whose integration tier was skipped for a machine capability fails
(tests/tier_guard.py), tested with pytester on a fake suite."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

GUARD = (Path(__file__).resolve().parents[1] / "tier_guard.py").read_text()

CONFTEST = GUARD + '''

def pytest_configure(config):
    config.addinivalue_line("markers", "integration: real servers")
    config.pluginmanager.register(TierGuard(), "guard")
'''

SUITE = '''
import pytest

def test_unit():
    pass

@pytest.mark.integration
def test_needs_root():
    pytest.skip("machine capability: the local stack needs network namespaces: not root")

@pytest.mark.integration
def test_other_skip():
    pytest.skip("vector tier is embedded here")
'''


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CHAOS_REQUIRE_INTEGRATION", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_capability_skip_fails_the_session_under_ci(suite: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*INTEGRATION TIER DID NOT RUN: 1 integration/chaos tests*"
                                 "test_needs_root*not root*"])


def test_capability_skip_is_a_plain_skip_outside_ci(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.OK
    assert "INTEGRATION TIER DID NOT RUN" not in result.stdout.str()


def test_require_integration_can_be_asked_outside_ci(suite: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOS_REQUIRE_INTEGRATION", "1")
    assert suite.runpytest_subprocess("-p", "no:cacheprovider").ret == \
        pytest.ExitCode.TESTS_FAILED


def test_other_skips_do_not_fail_ci(pytester: pytest.Pytester,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE.replace("machine capability: ", ""))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == pytest.ExitCode.OK


def test_the_real_skip_reasons_carry_the_capability_mark(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    import importlib.util
    import shutil
    from pathlib import Path

    from tier_guard import CAPABILITY

    # by path: in a whole-suite run ``conftest`` can name tests/chaos/conftest.py instead
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("_tests_root_conftest", path)
    assert spec is not None and spec.loader is not None
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    local_stack_skip_reason = root_conftest.local_stack_skip_reason

    monkeypatch.setattr(shutil, "which", lambda name: None)
    reason = local_stack_skip_reason()
    assert reason is not None and reason.startswith(CAPABILITY)
