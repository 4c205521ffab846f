"""Under CI, a suite whose integration tier could not run on this machine fails.

Unit tests alone prove little about a harness whose job is to drive real servers: on a machine
without root or network namespaces, the integration (and chaos) tests skip with a *machine
capability* reason, and without this guard the suite would still exit 0. With ``CI=true`` (or
``CHAOS_REQUIRE_INTEGRATION=1``) every such skip is counted and, when any happened, the session
fails with the reasons. Locally (no ``CI``) they stay ordinary skips.

A machine-capability skip is a skipped test marked ``integration`` or ``chaos`` whose reason
contains :data:`CAPABILITY` (``tests/conftest.py`` prefixes every local-stack reason with it) or
says the local substrate cannot run here (the pytest plugin, the game-day tests). Skips for the
docker substrate (no engine) are not counted.
"""

from __future__ import annotations

import os

import pytest

__all__ = ["CAPABILITY", "TierGuard", "required"]

CAPABILITY = "machine capability:"
_MARKERS = ("integration", "chaos")
#: the local stack is the integration tier every machine with root runs; the docker substrate's
#: own skips (no engine) are not counted here
_PHRASES = (CAPABILITY, "substrate 'local' cannot run here", "the local substrate cannot run here")


def required() -> bool:
    """Whether this session must run the integration tier (CI, or asked for explicitly)."""
    ci = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
    asked = os.environ.get("CHAOS_REQUIRE_INTEGRATION", "").strip() in ("1", "true", "yes")
    return ci or asked


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")


class TierGuard:
    """Registered by tests/conftest.py; counts capability skips, fails the session under CI."""

    def __init__(self) -> None:
        self.skips: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.skipped or not any(m in report.keywords for m in _MARKERS):
            return
        reason = _reason(report)
        if any(p in reason for p in _PHRASES):
            self.skips.append(f"{report.nodeid}: {reason}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.skips or not required():
            return
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"INTEGRATION TIER DID NOT RUN: {len(self.skips)} integration/chaos tests were "
                f"skipped for a machine capability under CI (run as root with network "
                f"namespaces, or unset CI to accept the skips); first: {self.skips[0]}",
                red=True)
