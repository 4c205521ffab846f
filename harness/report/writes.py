"""The acknowledged-write section of report.md and report.html (its own module; each renderer
calls it with one line). Empty when the run had no writer share (``rep["writes"]`` null)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["writes_html", "writes_markdown"]

_HEAD = ("fault", "store", "acknowledged", "readable after heal", "lost", "duplicates",
         "checked")


def _rows(rep: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for f in rep.get("faults") or []:
        w = f.get("writes")
        if w:
            rows.append([str(f.get("id", f.get("name", ""))), w["store"],
                         str(w["acknowledged"]), str(w["readable_after_heal"]), str(w["lost"]),
                         str(w["duplicates"]), "yes" if w.get("checked", True) else
                         f"no: {w.get('detail', '')}"])
    for store, w in ((rep.get("writes") or {}).get("stores") or {}).items():
        rows.append(["whole run", store, str(w["acknowledged"]), str(w["readable_after_heal"]),
                     str(w["lost"]), str(w["duplicates"]), "yes" if w.get("checked") else
                     f"no: {w.get('detail', '')}"])
    return rows


def _intro(rep: Mapping[str, Any]) -> str:
    w = rep["writes"]
    need = ("lost == 0 is required" if w["require_no_loss"] else
            "reported only (set load.writes.require_no_loss to gate on lost == 0)")
    return (f"{w['sent']} writes sent; after the heal each store that could be read was asked "
            f"for every acknowledged write (a store not read is marked 'no' with the reason); "
            f"{need}.")


def writes_markdown(rep: Mapping[str, Any]) -> list[str]:
    """Markdown lines (empty without writes)."""
    if not rep.get("writes"):
        return []
    rows = _rows(rep)
    out = ["## Acknowledged writes", "", _intro(rep), ""]
    out += ["| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return [*out, ""]


def writes_html(rep: Mapping[str, Any]) -> str:
    """An HTML <section> ('' without writes)."""
    if not rep.get("writes"):
        return ""
    rows: Sequence[Sequence[str]] = _rows(rep)
    head = "".join(f"<th>{escape(h)}</th>" for h in _HEAD)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>"
                   for r in rows)
    return (f"<section><h2>Acknowledged writes</h2><p>{escape(_intro(rep))}</p>"
            f"<table><tr>{head}</tr>{body}</table></section>")
