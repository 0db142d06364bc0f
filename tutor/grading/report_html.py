"""report.html: the class map as one self-contained page (inline CSS and SVG, no script, nothing fetched):
per exercise, who passes; per step, the share of the class passing it and a bar per diagnosis, in the
course's words, with the students behind each bar; the most common first to fix; the files that stopped."""

from __future__ import annotations

import html
from typing import Any

from tutor.grading.classmap import Bar, ClassMap, ExerciseMap, StepMap
from tutor.messages import render

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:70rem;color:#1d2330;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:2px solid #d8dde6;padding-bottom:.3rem}
.summary{color:#4a5263}.step{display:grid;grid-template-columns:11rem 13rem 1fr;gap:.2rem 1rem;align-items:start;
padding:.45rem 0;border-bottom:1px solid #eef0f4}.name{font-family:ui-monospace,monospace;font-weight:600}
.bars{display:flex;flex-direction:column;gap:.35rem}.bar{display:grid;grid-template-columns:19rem 1fr;gap:.6rem}
.code{font-family:ui-monospace,monospace;font-size:.85rem}.words{color:#3b4252;font-size:.9rem}
details summary{cursor:pointer;color:#4a5263;font-size:.85rem}.students{font-size:.85rem;color:#4a5263}
.ok{color:#2f7d32}.note{color:#6b7385;font-size:.85rem}table{border-collapse:collapse}
td,th{padding:.2rem .7rem;text-align:left;border-bottom:1px solid #eef0f4}
"""
PASS_COLOUR, FAIL_COLOUR, BAR_COLOUR = "#3a9d5d", "#e4e7ee", "#d9534f"


def say(code: str, lang: str, **params: Any) -> str:
    return html.escape(render(f"cli-grade-{code}", params, lang))


def share_svg(step: StepMap) -> str:
    """A 12rem bar: the share passing in green."""
    width = 200
    done = round(width * step.share)
    return (f'<svg class="share" width="{width}" height="14" role="img" aria-label="{step.share:.0%}">'
            f'<rect width="{width}" height="14" rx="3" fill="{FAIL_COLOUR}"/>'
            f'<rect width="{done}" height="14" rx="3" fill="{PASS_COLOUR}"/></svg> {step.passing}/{step.graded} ({step.share:.0%})')


def bar_html(bar: Bar, most: int, lang: str) -> str:
    width = max(4, round(240 * bar.count / max(most, 1)))
    students = ", ".join(html.escape(s) for s in sorted(bar.students, key=str.lower))
    return (
        f'<div class="bar" data-code="{html.escape(bar.code)}"><div><svg class="diagnosis" width="{width + 40}" height="16">'
        f'<rect width="{width}" height="16" rx="3" fill="{BAR_COLOUR}"/>'
        f'<text x="{width + 6}" y="12" font-size="12">{bar.count}</text></svg>'
        f'<div class="code">{html.escape(bar.code)}</div></div>'
        f'<div><div class="words">{html.escape(bar.words)}</div>'
        f'<details><summary>{say("report-students", lang, count=bar.count)}</summary>'
        f'<div class="students">{students}</div></details></div></div>'
    )


def step_html(step: StepMap, lang: str) -> str:
    most = max((b.count for b in step.bars), default=1)
    bars = "".join(bar_html(b, most, lang) for b in step.bars)
    if step.inherited:
        bars += f'<div class="note">{say("report-inherited", lang, count=step.inherited)}</div>'
    if not bars:
        bars = f'<div class="ok">{say("report-all-pass", lang)}</div>' if step.passing == step.graded else ""
    return (f'<div class="step" id="step-{html.escape(step.name)}"><div class="name">{html.escape(step.name)}</div>'
            f'<div>{share_svg(step)}</div><div class="bars">{bars}</div></div>')


def exercise_html(ex: ExerciseMap, lang: str) -> str:
    share = ex.passed / ex.submissions if ex.submissions else 0.0
    parts = [f'<section class="exercise" id="ex-{html.escape(ex.id)}"><h2>{html.escape(ex.id)} · {html.escape(ex.title)}</h2>',
             f'<p class="summary">{say("report-passed", lang, passed=ex.passed, submissions=ex.submissions, share=share)}']
    if ex.first_to_fix:
        name, count = ex.first_to_fix.most_common(1)[0]
        parts.append(" · " + say("report-first-to-fix", lang, name=name, count=count))
    parts.append("</p>")
    parts.extend(step_html(step, lang) for step in ex.steps)
    if ex.stopped:
        parts.append(f'<h3>{say("report-stopped", lang)}</h3><div class="bars">')
        most = max(b.count for b in ex.stopped)
        parts.extend(bar_html(b, most, lang) for b in ex.stopped)
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def page(classmap: ClassMap, lang: str = "en", title: str = "") -> str:
    body = [f"<h1>{say('report-title', lang)}{(' · ' + html.escape(title)) if title else ''}</h1>"]
    body.extend(exercise_html(ex, lang) for ex in classmap.exercises)
    if classmap.unmatched:
        rows = "".join(f"<tr><td>{html.escape(s)}</td><td>{html.escape(f)}</td><td>{html.escape(w)}</td></tr>"
                       for s, f, w in classmap.unmatched)
        body.append(f'<h2>{say("report-unmatched", lang)}</h2><table>{rows}</table>')
    return (f'<!DOCTYPE html><html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{say('report-title', lang)}</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")
