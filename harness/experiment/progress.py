"""Progress of a running experiment: a frozen snapshot, and a live terminal display (rich).

The runner calls a ``progress(Progress)`` callback a few times a second; :class:`LiveDisplay`
is the CLI's callback (phase, elapsed/planned time, send rate, errors, active faults);
:func:`log_progress` prints one line per phase change for non-interactive output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

__all__ = ["LiveDisplay", "Progress", "ProgressFn", "log_progress"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    experiment: str
    run_id: str
    phase: str  # starting | warmup | steady | method | recovery | analysing | done | skipped
    trial: int
    trials: int
    elapsed_s: float
    planned_s: float
    sent: int = 0
    errors: int = 0
    rate: float = 0.0  # requests sent per second over the last few seconds
    active_faults: tuple[str, ...] = ()
    note: str = ""


ProgressFn = Callable[[Progress], None]


def _render(p: Progress) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    phase = p.phase + (f" (trial {p.trial}/{p.trials})" if p.trial else "")
    t.add_row("experiment", f"{p.experiment}  [dim]{p.run_id}[/dim]")
    t.add_row("phase", phase)
    pct = min(p.elapsed_s / p.planned_s, 1.0) if p.planned_s else 0.0
    bar = "#" * int(pct * 30) + "." * (30 - int(pct * 30))
    t.add_row("elapsed", f"{p.elapsed_s:6.1f} s of ~{p.planned_s:.0f} s  [{bar}]")
    err_pct = f" ({p.errors / p.sent * 100:.3f}%)" if p.sent else ""
    t.add_row("load", f"{p.rate:7.1f} req/s   sent {p.sent:,}   errors "
                      f"{'[red]' if p.errors else ''}{p.errors:,}{err_pct}"
                      f"{'[/red]' if p.errors else ''}")
    faults = ", ".join(p.active_faults) if p.active_faults else "none"
    t.add_row("faults", Text(faults, style="bold red" if p.active_faults else "dim"))
    if p.note:
        t.add_row("", Text(p.note, style="yellow"))
    return t


class LiveDisplay:
    """A rich live panel; use as a context manager and pass the instance as ``progress``."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._live: Live | None = None

    def __enter__(self) -> LiveDisplay:
        self._live = Live(Text("starting..."), console=self.console, refresh_per_second=4,
                          transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def __call__(self, p: Progress) -> None:
        if self._live is not None:
            self._live.update(_render(p))


def log_progress(stream: IO[str]) -> ProgressFn:
    """A callback that writes one line per phase (and fault set) change."""
    last: list[tuple[str, int, tuple[str, ...]]] = []

    def _log(p: Progress) -> None:
        key = (p.phase, p.trial, p.active_faults)
        if last and last[0] == key:
            return
        last[:] = [key]
        faults = f" faults: {', '.join(p.active_faults)}" if p.active_faults else ""
        trial = f" trial {p.trial}/{p.trials}" if p.trial else ""
        stream.write(f"[{p.elapsed_s:7.1f}s] {p.experiment}: {p.phase}{trial} "
                     f"sent={p.sent} errors={p.errors}{faults}"
                     f"{' - ' + p.note if p.note else ''}\n")
        stream.flush()

    return _log
