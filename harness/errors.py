"""The one exception root of the harness, and its documented children.

Every error a user can meet derives from :class:`HarnessError`. Messages say what was expected,
what was found, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "ConfigError",
    "FaultError",
    "HarnessError",
    "StackError",
    "UnsupportedFault",
]


class HarnessError(Exception):
    """Root of every error raised on purpose by the harness."""


class ConfigError(HarnessError):
    """A bad experiment, policy, plan or option.

    Names the file, the field path, the bad value and what is allowed. Raised before anything
    is started, so an invalid file never brings up a stack.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        value: object = None,
        allowed: str | Iterable[object] | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.value = value
        if allowed is not None and not isinstance(allowed, str):
            allowed = ", ".join(repr(a) for a in allowed)
        self.allowed = allowed
        parts = []
        if file:
            parts.append(str(file))
        if field:
            parts.append(f"field {field!r}")
        where = ": ".join(parts)
        text = f"{where}: {message}" if where else message
        if value is not None:
            text += f" (got {value!r})"
        if allowed:
            text += f"; allowed: {allowed}"
        self.message = message
        super().__init__(text)


class StackError(HarnessError):
    """A component of the stack would not start, stop or answer.

    Carries the component's last log lines and a hint.
    """

    def __init__(
        self,
        message: str,
        *,
        component: str | None = None,
        log_tail: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        self.component = component
        self.log_tail = tuple(log_tail)
        self.hint = hint
        text = f"{component}: {message}" if component else message
        if self.log_tail:
            text += "\n  last log lines:\n" + "\n".join("    " + line for line in self.log_tail)
        if hint:
            text += f"\n  hint: {hint}"
        super().__init__(text)


class UnsupportedFault(HarnessError):
    """A fault needs a capability the substrate does not offer.

    Names the capability, the substrate, and the substrates that have it. Experiments that need
    it are reported as skipped with this message as the reason.
    """

    def __init__(
        self,
        fault: str,
        *,
        capability: str,
        substrate: str,
        available_on: Iterable[str] = (),
        reason: str | None = None,
    ) -> None:
        self.fault = fault
        self.capability = capability
        self.substrate = substrate
        self.available_on = tuple(available_on)
        text = f"fault {fault!r} needs capability {capability!r}, which substrate {substrate!r} lacks"
        if reason:
            text += f" ({reason})"
        if self.available_on:
            text += f"; substrates that have it: {', '.join(self.available_on)}"
        super().__init__(text)


class FaultError(HarnessError):
    """A fault could not be injected or reverted (the command failed outright)."""
