"""Shared fixtures.

``local_stack``: one real local stack (three zones in network namespaces) for the whole session,
started on first use and torn down at the end. Skips with the reason when this machine cannot
run it (not root, no namespaces, a missing binary). Tests that inject faults should use
``healed_stack``, which heals everything and waits for readiness after each test so the next
one starts from a clean, fully redundant stack.

At the end of the session every run this pytest process started must have left nothing behind
(processes, namespaces, links, iptables rules); otherwise the session fails.

Under CI (``CI=true``) a session in which integration or chaos tests were skipped for a machine
capability (no root, no namespaces, a missing binary) fails: see ``tests/tier_guard.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from tier_guard import CAPABILITY, TierGuard

from harness.errors import StackError

_STARTED_KEYS: list[str] = []
LOCAL_BINARIES = ("redis-server", "redis-sentinel", "haproxy", "toxiproxy-server")


def local_stack_skip_reason(*, need_netns: bool = True) -> str | None:
    """Why a local stack cannot run here (None: it can)."""
    missing = [b for b in LOCAL_BINARIES if shutil.which(b) is None]
    if missing:
        return f"{CAPABILITY} missing binaries {missing}: run scripts/setup.sh"
    if need_netns:
        from harness.stack.local.netns import netns_unavailable_reason

        reason = netns_unavailable_reason()
        if reason:
            return f"{CAPABILITY} the local stack needs network namespaces: {reason}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(TierGuard(), "chaos-tier-guard")


def remember_run(key: str) -> None:
    """Register a run key for the end-of-session leak check."""
    _STARTED_KEYS.append(key)


@pytest.fixture
def stack_skip_reason() -> object:
    """``stack_skip_reason(need_netns=True) -> str | None`` for tests that start their own."""
    return local_stack_skip_reason


@pytest.fixture
def remember_run_key() -> object:
    """``remember_run_key(key)``: include a run in the end-of-session leak check."""
    return remember_run


@pytest.fixture(scope="session")
def local_stack() -> Iterator[object]:
    """A ready local stack (namespace mode), shared by the session."""
    reason = local_stack_skip_reason()
    if reason:
        pytest.skip(reason)
    from harness.stack import open_stack

    try:
        cm = open_stack(substrate="local", ready_timeout=90.0)
        stack = cm.__enter__()
    except StackError as exc:
        pytest.fail(f"the local stack would not start: {exc}")
    remember_run(stack.record.key)  # type: ignore[attr-defined]
    try:
        yield stack
    finally:
        cm.__exit__(None, None, None)


@pytest.fixture
def healed_stack(local_stack: object) -> Iterator[object]:
    """``local_stack``, healed (``harness.faults.heal_all``, as the runner heals) and ready
    again after the test."""
    from harness.faults import heal_all

    yield local_stack
    heal_all(local_stack)  # type: ignore[arg-type]
    local_stack.wait_ready(60.0)  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if a stack started by this process left anything behind: the runs
    registered with ``remember_run`` and every run record this process still owns."""
    from harness.stack.local.record import RunStore, default_run_dir

    keys = set(_STARTED_KEYS)
    if default_run_dir().is_dir():
        keys |= {r.key for r in RunStore().all()
                 if r.owner_pid == os.getpid() and not r.detached}
    if not keys:
        return
    from harness.stack.local.verify import leftovers

    left = {k: v for k in sorted(keys) if (v := leftovers(k))}
    if left:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"LEAK: runs left things behind: {left}", red=True)
