"""Reports: ``report.json`` (schema v1), ``report.md``, ``report.html``, ``junit.xml``.

Rendering reads the report dict (and, for the charts, the saved timeline); it never analyses.
"""

from __future__ import annotations

from harness.report.html import render_html
from harness.report.junit import junit_properties, render_junit
from harness.report.markdown import render_markdown
from harness.report.series import Series, build_series
from harness.report.writer import (
    SCHEMA_PATH,
    ReportFiles,
    load_report,
    report_schema,
    validate_report,
    write_report,
)

__all__ = [
    "SCHEMA_PATH",
    "ReportFiles",
    "Series",
    "build_series",
    "junit_properties",
    "load_report",
    "render_html",
    "render_junit",
    "render_markdown",
    "report_schema",
    "validate_report",
    "write_report",
]
