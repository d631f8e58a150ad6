"""Every link in README.md and docs/*.md resolves: a relative link names a file or folder of the repository,
and a #anchor names a heading of the page it points to (GitHub's anchors). http(s) and mailto links are
not fetched. Links inside code (fenced blocks, `spans`) are text, not links, and are skipped."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup and punctuation dropped, lower case, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            s = slug(m.group(1))
            out.add(s if s not in seen else f"{s}-{seen[s]}")
            seen[s] = seen.get(s, 0) + 1
    return out


def links(page: Path) -> list[str]:
    text = CODE_SPAN.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return [t for t in LINK.findall(text) if not re.match(r"(https?|mailto):", t)]


def test_the_readme_and_the_stage_pages_are_all_checked():
    names = {p.name for p in PAGES}
    assert {"README.md", "data.md", "nets.md", "training.md", "speed.md", "recipe.md", "zoo.md", "evaluation.md",
            "export-serve.md", "pycaffe.md"} <= names


@pytest.mark.parametrize("heading, expected", [
    ("Beyond Caffe: extensions", "beyond-caffe-extensions"),
    ("What `make demo` does", "what-make-demo-does"),
    ("Keras in Caffe's terms", "keras-in-caffes-terms"),
    ("The ablation: what each extension gave", "the-ablation-what-each-extension-gave"),
    ("Model zoo: the FER write-ups' models", "model-zoo-the-fer-write-ups-models"),
])
def test_slug_is_githubs_anchor(heading, expected):
    assert slug(heading) == expected


def test_links_in_code_are_skipped_and_repeated_headings_numbered(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# A\n## A\n```\n[x](missing.md)\n# B\n```\nsee `[y](gone.md)` and [z](#a-1)\n")
    assert links(page) == ["#a-1"] and anchors(page) == {"a", "a-1"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or ROOT.resolve() not in (dest, *dest.parents):
            broken.append(f"{target}: no such file in the repository")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with that anchor in {dest.relative_to(ROOT.resolve())}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)
