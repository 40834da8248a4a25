"""The README and docs/: every relative link leads somewhere, and the README stays short.

A link is `[text](target)` or `![alt](target)`. Web, mail and same-page `#anchor` links are
not checked; any other target, stripped of its `#fragment`, must exist relative to the
linking file, and a fragment into a Markdown file must name one of its headings (GitHub's
anchors). Links inside code blocks and code spans are not links and are skipped.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_MAX_BYTES = 12_000

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


def prose_lines(text: str, keep_code_spans: bool = False) -> list[str]:
    """The lines outside fenced code blocks, with code spans blanked out unless kept."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line if keep_code_spans else CODE_SPAN.sub("", line))
    return lines


def links(path: Path) -> list[str]:
    return [m.group(1) for line in prose_lines(path.read_text(encoding="utf-8"))
            for m in LINK.finditer(line)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but hyphens and spaces dropped,
    spaces to hyphens (markup such as `code` and [text](link) reduced to its text first)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    result = set()
    for line in prose_lines(path.read_text(encoding="utf-8"), keep_code_spans=True):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            result.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    return result


def test_slug_follows_github() -> None:
    assert slug("Scaling out: torchrun, GPUs and sweeps") == "scaling-out-torchrun-gpus-and-sweeps"
    assert slug("Default (`params.yaml` as committed)") == "default-paramsyaml-as-committed"
    assert slug("The paper's scale, on a GPU") == "the-papers-scale-on-a-gpu"
    assert slug("Blending: `--blend poisson|paste`") == "blending---blend-poissonpaste"


def test_links_are_found_outside_code() -> None:
    text = "see [a](x.md) and ![b](img/y.png#z)\n`[c](no.md)`\n```\n[d](no.md)\n```\n"
    found = [m.group(1) for line in prose_lines(text) for m in LINK.finditer(line)]
    assert found == ["x.md", "img/y.png#z"]


def case(path: Path) -> list:
    name = path.relative_to(ROOT).as_posix()
    return [pytest.param(path, target, id=f"{name}->{target}") for target in links(path)
            if not EXTERNAL.match(target) and not target.startswith("#")]


CASES = [c for path in [README, *DOCS] for c in case(path)]


@pytest.mark.parametrize(("source", "target"), CASES)
def test_relative_link_resolves(source: Path, target: str) -> None:
    name = source.relative_to(ROOT).as_posix()
    file_part, _, fragment = target.partition("#")
    resolved = (source.parent / file_part).resolve()
    assert resolved.exists(), f"{name}: link '{target}' points to a missing {resolved}"
    if fragment and resolved.suffix.lower() == ".md" and resolved.is_file():
        assert fragment in anchors(resolved), (
            f"{name}: link '{target}': no heading '#{fragment}' in {file_part}; "
            f"it has {sorted(anchors(resolved))}")


@pytest.mark.parametrize("source", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_same_page_anchor_exists(source: Path) -> None:
    missing = [t for t in links(source) if t.startswith("#") and t[1:] not in anchors(source)]
    assert not missing, f"{source.relative_to(ROOT).as_posix()}: no heading for {missing}"


def test_docs_exist_and_link_back_to_the_readme() -> None:
    assert DOCS, "docs/ has no Markdown files"
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert text.startswith("# "), f"{doc.name}: does not start with a title"
        assert "](../README.md)" in text, f"{doc.name}: no link back to the README"


def test_readme_stays_the_front_door() -> None:
    size = README.stat().st_size
    assert size < README_MAX_BYTES, (
        f"README.md is {size} bytes; keep it under {README_MAX_BYTES} and move detail to docs/")
