"""A check's verdict as a notebook shows it: an HTML table (status colours, shapes, max diff, the own-line
column, the likely mistake under each failing row) with the CLI's plain text as the fallback. No JavaScript."""

from __future__ import annotations

import io
from collections.abc import Callable
from html import escape

from tutor.reports.check import CheckReport, fmt_shape
from tutor.views.text import OWN_LINE, inherited_lines, print_report

# The CLI's STATUS_STYLE as CSS (notebook themes vary: strong colours that read on light and dark).
STATUS_CSS = {
    "exact": "color:#1a7f37;font-weight:bold",
    "close": "color:#1a7f37",
    "wrong": "color:#cf222e;font-weight:bold",
    "shape": "color:#8250df;font-weight:bold",
    "missing": "color:#6e7781",
    "invalid": "color:#9a6700;font-weight:bold",
}
COLUMNS = ("gradient", "expected", "yours", "exact", "close", "max abs diff", "own line", "status")


class VerdictView:
    """Displayed by IPython: `_repr_html_` in Jupyter and Colab, `__repr__` (the CLI's text) anywhere else."""

    def __init__(self, report: CheckReport, where: Callable[[int | None], str] | None = None, heading: str = "") -> None:
        self.report = report
        self.where = where
        self.heading = heading

    def __repr__(self) -> str:
        from rich.console import Console

        out = io.StringIO()
        console = Console(file=out, width=120, no_color=True, color_system=None, highlight=False, force_jupyter=False)
        if self.heading:
            console.print(self.heading, markup=False)
        print_report(self.report, console, where=self.where)
        return out.getvalue().rstrip("\n")

    def _repr_html_(self) -> str:
        r = self.report
        cell = "padding:2px 8px;border-bottom:1px solid #d0d7de;"
        head = "".join(f"<th style='{cell}text-align:left'>{c}</th>" for c in COLUMNS)
        rows = []
        for t in r.tensors:
            compared = t.max_abs_diff is not None
            tick = (lambda flag: "yes" if flag else "no") if compared else (lambda flag: "—")
            status = escape(t.status)
            if t.inherits_from:
                status += f" <span style='color:#6e7781'>(from {escape(t.inherits_from)})</span>"
            values = [
                f"<code>{escape(t.name)}</code>", fmt_shape(t.expected_shape), fmt_shape(t.shape), tick(t.exact),
                tick(t.close), f"{t.max_abs_diff:.2e}" if compared else "—", OWN_LINE.get(t.local or "", "—"),
            ]
            tds = "".join(f"<td style='{cell}'>{escape(v) if i else v}</td>" for i, v in enumerate(values))
            rows.append(f"<tr>{tds}<td style='{cell}{STATUS_CSS[t.status]}'>{status}</td></tr>")
            notes = [t.note] if t.note and t.status != "missing" else []
            if t.diagnosis:
                notes.append(f"likely mistake ({t.diagnosis['code']}): {t.diagnosis['message']}")
            for note in notes:
                colour = "#6e7781" if t.passed else "#cf222e"
                rows.append(f"<tr><td></td><td colspan='{len(COLUMNS) - 1}' style='{cell}color:{colour}'>{escape(note)}</td></tr>")
        parts = [f"<div class='backprop-ninja'><div style='font-weight:bold'>{escape(self.heading or r.exercise)}"
                 f" · {escape(r.device)} · loss {r.loss:.4f}</div>",
                 f"<table style='border-collapse:collapse;font-family:monospace'><thead><tr>{head}</tr></thead>"
                 f"<tbody>{''.join(rows)}</tbody></table>"]
        if r.error:
            e = r.error
            place = self.where(e.line) if self.where else f"line {e.line}" if e.line else ""
            parts.append(f"<div style='color:#cf222e;font-weight:bold'>error ({escape(e.kind)})"
                         f"{' at ' + escape(place) if place else ''}: {escape(e.message)}</div>")
            if e.source:
                parts.append(f"<pre style='color:#cf222e;margin:0'>  {e.line} | {escape(e.source.strip())}</pre>")
        parts += [f"<div style='color:#6e7781'>{escape(line)}</div>" for line in inherited_lines(r)]
        parts += [f"<div style='color:#9a6700'>warning: {escape(w)}</div>" for w in r.warning_texts()]
        passed, total = sum(t.passed for t in r.tensors), len(r.tensors)
        if r.passed:
            what = f"{r.tensors[0].name} matches" if total == 1 else f"all {total} gradients match"
            parts.append(f"<div style='{STATUS_CSS['exact']}'>✔ {escape(r.exercise)}: {what} autograd.</div>")
        else:
            first = r.first_failure
            tail = f"; first to fix: {escape(first.name)}" if first else ""
            parts.append(f"<div style='{STATUS_CSS['wrong']}'>✘ {escape(r.exercise)}: {passed}/{total} gradients pass{tail}.</div>")
        return "\n".join(parts) + "</div>"
