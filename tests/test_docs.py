"""The documentation: a README that starts short (at most 15,000 characters, the two set-up lines at its top)
and whose links all lead somewhere, pages under docs/ that link to each other by GitHub's rule too, every page
in mkdocs.yml's nav, and the site that `mkdocs build --strict` builds from them (slow: a fresh process)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"
PAGES = sorted(DOCS.glob("*.md"))

# The README's two set-up lines, exactly: the first for learners, the second for contributors and CI.
LEARNER_LINE = "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 . && .venv/bin/backprop-ninja"
CONTRIBUTOR_LINE = (
    "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 -e '.[test]' && .venv/bin/python -m pytest -q -n 2"
)

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]+`")
LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def prose(text: str) -> str:
    """The text without its code blocks (a link or a # there is not one)."""
    return FENCE.sub("", text)


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading (github-slugger): its text without markup, lower-cased, every character
    but letters, marks, numbers, '-', '_' and spaces dropped, spaces made '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = text.replace("`", "").replace("**", "").lower()
    kept = "".join(c for c in text if c in "-_ " or unicodedata.category(c)[0] in "LMN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub makes for a Markdown file's headings (a repeated one gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for match in HEADING.finditer(prose(path.read_text(encoding="utf-8"))):
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def broken_links(path: Path) -> list[str]:
    """Relative links of a Markdown file that lead nowhere: a missing file, or an #anchor its target lacks."""
    broken = []
    text = INLINE_CODE.sub("", prose(path.read_text(encoding="utf-8")))
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ... : not ours to check here
            continue
        file, _, anchor = target.partition("#")
        where = (path.parent / file).resolve() if file else path
        if not where.exists():
            broken.append(f"{path.name}: {target}: no file {file}")
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            broken.append(f"{path.name}: {target}: no heading #{anchor} in {where.name}")
    return broken


# ---- the README ---------------------------------------------------------------------------------------------


def test_the_readme_is_short():
    size = len(README.read_text(encoding="utf-8"))
    assert size <= 15_000, f"README.md has {size:,} characters: move detail to a page under docs/"


def test_the_readme_opens_with_the_two_set_up_lines():
    head = README.read_text(encoding="utf-8").split("\n")[:6]
    assert head[:3] == ["# backprop-ninja", "", "```bash"], head
    assert head[3:6] == [LEARNER_LINE, CONTRIBUTOR_LINE, "```"], head


def test_ci_runs_exactly_the_readmes_test_line():
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip("\n").split("\n")[-1] == CONTRIBUTOR_LINE


def test_the_readme_says_which_line_is_whose_how_to_activate_and_how_to_get_cpu_torch():
    text = README.read_text(encoding="utf-8")
    first_screen = " ".join(text[: text.index("## Quick start")].split())
    assert "first line is for learners" in first_screen and "second is for contributors" in first_screen
    assert "both create `.venv`" in first_screen
    assert "source .venv/bin/activate" in text and ".venv/bin/backprop-ninja" in text
    assert "--index-url https://download.pytorch.org/whl/cpu" in first_screen and "CUDA build" in first_screen


def test_the_readme_keeps_its_chinese_section_and_points_at_every_page():
    text = README.read_text(encoding="utf-8")
    assert "### 中文说明" in text
    linked = {Path(target.partition("#")[0]).name for target in LINK.findall(prose(text)) if target.startswith("docs/")}
    assert linked == {page.name for page in PAGES} - {"index.md"}, "the README points at each page of docs/"


def test_the_readmes_links_lead_somewhere():
    assert LINK.findall(prose(README.read_text(encoding="utf-8"))), "the README links to its pages"
    assert not broken_links(README), "\n".join(broken_links(README))


# ---- the pages ----------------------------------------------------------------------------------------------


def test_the_pages_links_lead_somewhere_on_the_forge_too():
    broken = [line for page in PAGES for line in broken_links(page)]
    assert not broken, "\n".join(broken)


def test_every_page_is_in_the_sites_nav():
    nav = re.findall(r"^\s*- (?:[^:\n]+: )?(\S+\.md)\s*$", MKDOCS_YML.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(nav) == sorted(p.name for p in PAGES), "mkdocs.yml's nav lists every page of docs/ once"


def test_the_link_checker_finds_what_is_broken(tmp_path):
    (tmp_path / "there.md").write_text("# A heading: with `code`\n\n## 中文说明\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md#a-heading-with-code) [ok](there.md#中文说明) [gone](nowhere.md) [bad](there.md#nope)\n"
        "`[not a link](nowhere.md)`\n```\n[nor this](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "page.md: nowhere.md: no file nowhere.md",
        "page.md: there.md#nope: no heading #nope in there.md",
    ]
    assert github_slug("For tools: `check --json`") == "for-tools-check---json"


# ---- the site -----------------------------------------------------------------------------------------------

needs_mkdocs = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="MkDocs or its Material theme is not installed (the docs extra: pip install -e '.[docs]')",
)


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.mark.slow
@needs_mkdocs
def test_the_site_builds_strict(tmp_path):
    built = mkdocs_build(MKDOCS_YML, tmp_path / "site")
    assert built.returncode == 0, built.stderr[-4000:]
    for page in PAGES:
        name = "index.html" if page.stem == "index" else f"{page.stem}/index.html"
        assert (tmp_path / "site" / name).is_file(), name


@pytest.mark.slow
@needs_mkdocs
def test_a_page_left_out_or_a_broken_link_fails_the_strict_build(tmp_path):
    (tmp_path / "docs").mkdir()
    for page in PAGES:
        (tmp_path / "docs" / page.name).write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "docs" / "orphan.md").write_text("# Left out of the nav\n", encoding="utf-8")
    with (tmp_path / "docs" / "hints.md").open("a", encoding="utf-8") as hints:
        hints.write("\n[gone](nowhere.md) and [no such heading](verdicts.md#nope)\n")
    built = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert built.returncode != 0
    assert "orphan.md" in built.stderr and "nowhere.md" in built.stderr and "#nope" in built.stderr, built.stderr
