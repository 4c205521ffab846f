"""``user-command``: the user's own inject and revert commands as a fault step.

For the faults only the deployment's owners can cause (``kubectl delete pod ...``, ``docker
kill ...``, a NetworkPolicy applied, a cloud API call), the step runs ``inject`` and, on revert,
``revert`` (optional: Kubernetes restarts a deleted pod by itself), each with a timeout, its
output captured (tail, secrets of the topology file redacted) into the verification detail. The
harness's own probe (:mod:`harness.faults.probes_spec`) decides whether the fault landed and
whether it is gone, never the command's exit code alone: a command that exits 0 but changes
nothing leaves the fault "not landed", and the verdict INCONCLUSIVE.

Commands are split like a shell would (``shlex``) and run without a shell, in the harness's
environment; ``shell: true`` runs them with ``/bin/sh -c`` (pipes, ``$VARS``).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.errors import ConfigError, FaultError
from harness.faults.base import Fault, Injection
from harness.faults.checks import Check
from harness.faults.params import Param
from harness.faults.probes_spec import parse_probe, revert_probe_for, run_probe
from harness.faults.registry import register
from harness.stack.base import Stack
from harness.topology import Selector

__all__ = ["CommandResult", "UserCommand", "run_command"]

_OUTPUT_TAIL = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResult:
    command: str
    returncode: int | None  # None: killed at the timeout
    seconds: float
    output: str  # stdout + stderr tail, redacted

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def summary(self) -> str:
        how = (f"timed out after {self.seconds:.1f}s" if self.returncode is None
               else f"exited {self.returncode} in {self.seconds:.1f}s")
        out = " ".join(self.output.split())[-300:]
        return f"`{self.command}` {how}" + (f" (output: {out})" if out else "")


def _redact(stack: Stack, text: str) -> str:
    redact = getattr(stack, "redact", None)
    return str(redact(text)) if callable(redact) else text


def run_command(stack: Stack, command: str, *, timeout_s: float, shell: bool) -> CommandResult:
    """Run one command with a timeout (its whole process group is killed at the timeout)."""
    argv = ["/bin/sh", "-c", command] if shell else shlex.split(command)
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise FaultError(f"cannot run `{_redact(stack, command)}`: {exc}") from exc
    try:
        out, _ = proc.communicate(timeout=timeout_s)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        code = None
    text = out.decode(errors="replace")[-_OUTPUT_TAIL:]
    return CommandResult(command=_redact(stack, command), returncode=code,
                         seconds=time.monotonic() - t0, output=_redact(stack, text))


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class UserCommand(Fault):
    NAME: ClassVar[str] = "user-command"
    FAMILY: ClassVar[str] = "command"
    SUMMARY: ClassVar[str] = ("run your own inject/revert commands (kubectl, docker, cloud "
                              "CLIs); the harness's probe decides whether the fault landed")
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param(name="inject_command", type="str", help="command that causes the fault"),
        Param(name="probe", type="str",
              help="probe that holds while the fault is in effect: tcp-closed HOST:PORT | "
                   "tcp-open HOST:PORT | haproxy BACKEND/SERVER STATE | master-changed | "
                   "replication-converged | http URL STATUS"),
        Param(name="revert_command", type="str", default=None, nullable=True,
              help="command that undoes it (omit when the platform heals by itself)"),
        Param(name="probe_reverted", type="str", default=None, nullable=True,
              help="probe that holds when the fault is gone (default: the opposite of probe)"),
        Param(name="command_timeout_s", type="duration", minimum=0.1, maximum=3600,
              default=60.0, help="each command is killed after this long"),
        Param(name="landed_within_s", type="duration", minimum=0.1, maximum=3600,
              default=30.0, help="how long the probe may take to hold after inject"),
        Param(name="gone_within_s", type="duration", minimum=0.1, maximum=3600,
              default=120.0, help="how long probe_reverted may take to hold after revert"),
        Param(name="shell", type="bool", default=False,
              help="run the commands with /bin/sh -c (pipes, $VARS)"),
    )

    inject_command: str = ""
    probe: str = ""
    revert_command: str | None = None
    probe_reverted: str | None = None
    command_timeout_s: float = 60.0
    landed_within_s: float = 30.0
    gone_within_s: float = 120.0
    shell: bool = False

    @classmethod
    def check_params(cls, values: Any, target: Selector | None, *, file: str | None,
                     field: str) -> None:
        parse_probe(values["probe"], field=f"{field}.params.probe", file=file)
        if values.get("probe_reverted"):
            parse_probe(values["probe_reverted"], field=f"{field}.params.probe_reverted",
                        file=file)
        for key in ("inject_command", "revert_command"):
            cmd = values.get(key)
            if cmd and not values.get("shell"):
                try:
                    argv = shlex.split(cmd)
                except ValueError as exc:
                    raise ConfigError(f"cannot split the command: {exc}", file=file,
                                      field=f"{field}.params.{key}", value=cmd) from None
                if not argv:
                    raise ConfigError("empty command", file=file, field=f"{field}.params.{key}")

    @property
    def verify_timeout_s(self) -> float:
        return self.landed_within_s

    @property
    def recover_timeout_s(self) -> float:
        return self.gone_within_s

    def touches(self, stack: Stack) -> str:
        text = f"runs `{self.inject_command}`"
        if self.revert_command:
            text += f", then `{self.revert_command}`"
        return text + f"; landed when '{self.probe}'"

    def prepare(self, stack: Stack, injection: Injection) -> None:
        Fault.prepare(self, stack, injection)
        if parse_probe(self.probe).kind == "master-changed":
            from harness.faults.sentinel import current_master

            injection.data["baseline"] = {"master": current_master(stack)}

    def inject(self, stack: Stack, injection: Injection) -> None:
        result = run_command(stack, self.inject_command, timeout_s=self.command_timeout_s,
                             shell=self.shell)
        injection.data["inject"] = result.summary()
        if not result.ok:
            raise FaultError(f"the inject command failed: {result.summary()}")

    def verify(self, stack: Stack, injection: Injection) -> Check:
        check = run_probe(stack, parse_probe(self.probe), injection.data.get("baseline", {}))
        return Check(check.ok, f"probe '{self.probe}': {check.detail}; "
                               f"{injection.data.get('inject', '')}")

    def revert(self, stack: Stack, injection: Injection) -> None:
        if not self.revert_command:
            return
        result = run_command(stack, self.revert_command, timeout_s=self.command_timeout_s,
                             shell=self.shell)
        injection.data["revert"] = result.summary()
        if not result.ok:
            raise FaultError(f"the revert command failed: {result.summary()}")

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        probe = (parse_probe(self.probe_reverted) if self.probe_reverted
                 else revert_probe_for(parse_probe(self.probe)))
        check = run_probe(stack, probe, injection.data.get("baseline", {}))
        how = injection.data.get("revert", "no revert command (the platform heals itself)")
        return Check(check.ok, f"probe '{probe}': {check.detail}; {how}")
