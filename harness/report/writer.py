"""Write a run's files into ``reports/<run-id>/`` and read them back.

``report.json`` is validated against ``harness/report/schema.json`` (generated from
:class:`harness.report.model.Report` by ``python -m harness.schemas``) before it is written, so a
report that exists is a report the gate and the game-day history can read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from harness.errors import ConfigError, HarnessError
from harness.report.failover import milestone_markers
from harness.report.html import render_html
from harness.report.junit import render_junit
from harness.report.markdown import render_markdown
from harness.report.series import Series, build_series
from harness.schema_errors import best_error
from harness.timeline import Timeline

__all__ = ["FILES", "SCHEMA_PATH", "ReportFiles", "load_report", "report_schema",
           "validate_report", "write_report"]

SCHEMA_PATH = Path(__file__).with_name("schema.json")
FILES = {"timeline": "timeline.zip", "markdown": "report.md", "html": "report.html",
         "junit": "junit.xml"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFiles:
    directory: Path
    json: Path
    markdown: Path
    html: Path
    junit: Path
    timeline: Path | None


@cache
def report_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return data


def validate_report(rep: Mapping[str, Any], *, file: str | None = None) -> None:
    """Raise ConfigError naming the first field that does not match report v1."""
    validator = jsonschema.Draft202012Validator(
        report_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    found = best_error(validator, dict(rep))
    if found is not None:
        err, type_error = found
        message = type_error[0] if type_error else err.message
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        raise ConfigError(f"not a valid chaos-harness report v1: {message}", file=file,
                          field=path.lstrip(".") or "<document>")


def load_report(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir)
    if path.is_dir():
        path = path / "report.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("no report.json here", file=str(path),
                          allowed="a run directory under reports/") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read report: {exc}", file=str(path)) from None
    validate_report(data, file=str(path))
    return dict(data)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def series_for(rep: Mapping[str, Any], timeline: Timeline) -> Series:
    slo = (rep.get("slos") or [{}])[0]
    series = build_series(timeline, threshold_ms=slo.get("latency_threshold_ms", 2000.0),
                          degraded_is_good=slo.get("degraded_is_good", True))
    return replace(series, milestones=milestone_markers(rep))


def write_report(rep: Mapping[str, Any], *, directory: str | Path,
                 timeline: Timeline | None = None, save_timeline: bool = True) -> ReportFiles:
    """Validate ``rep`` and write report.json, .md, .html, junit.xml (and timeline.zip)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    rep = dict(rep)
    rep["files"] = dict(FILES, timeline=FILES["timeline"] if timeline is not None else None)
    try:
        validate_report(rep)
    except ConfigError as exc:
        raise HarnessError(f"internal: the report does not match its own schema: {exc}") from exc
    tl_path = None
    if timeline is not None and save_timeline:
        tl_path = timeline.save(d / FILES["timeline"])
    elif timeline is not None:
        tl_path = d / FILES["timeline"]
    series = series_for(rep, timeline) if timeline is not None and len(timeline) else None
    _atomic_write(d / "report.json", json.dumps(rep, indent=2, default=str) + "\n")
    _atomic_write(d / FILES["markdown"], render_markdown(rep))
    _atomic_write(d / FILES["html"], render_html(rep, series))
    _atomic_write(d / FILES["junit"], render_junit(rep))
    return ReportFiles(directory=d, json=d / "report.json", markdown=d / FILES["markdown"],
                       html=d / FILES["html"], junit=d / FILES["junit"], timeline=tl_path)
