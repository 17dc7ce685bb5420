"""The documentation, held to the code and to itself (no services): the generated pages equal what the
declarations give, and every relative link in the Markdown points at a file and heading that exist."""

import re
from collections import Counter
from pathlib import Path

from avax_assets.analytics.views import VIEWS
from avax_assets.catalogue import DATASETS, FAMILIES, SETTINGS
from avax_assets.docs import PAGES, REGENERATE, datasets_markdown, write_docs

REPO = Path(__file__).resolve().parents[1]
LINKED_PAGES = [REPO / "README.md", REPO / "ARCHITECTURE.md", REPO / "benchmarks" / "README.md",
                *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def test_generated_pages_equal_what_the_declarations_give(tmp_path):
    for path in write_docs(tmp_path):
        committed = REPO / path.relative_to(tmp_path)
        assert committed.exists() and committed.read_text() == path.read_text(), \
            f"{committed.relative_to(REPO)} is out of date: run `{REGENERATE}`"
    assert {p.name for p in (tmp_path / "docs").iterdir()} == set(PAGES)


def test_the_datasets_page_has_a_section_for_every_dataset_and_view():
    headings = set(re.findall(r"^### `(\w+)`$", datasets_markdown(), re.MULTILINE))
    assert headings == {*DATASETS, *(view.name for view in VIEWS)}


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    slugs = [re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
             for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", markdown), re.MULTILINE)]
    seen: Counter[str] = Counter()
    numbered = set()
    for slug in slugs:
        numbered.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
        seen[slug] += 1
    return numbered


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not a file here
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text()):
            broken.append(f"{target}: no such heading")
    return broken


def test_every_relative_link_points_at_an_existing_file_and_heading():
    assert (REPO / "docs").is_dir() and len(LINKED_PAGES) > 3
    broken = {str(page.relative_to(REPO)): links for page in LINKED_PAGES if (links := broken_links(page))}
    assert not broken, broken


def test_the_link_check_sees_a_missing_file_and_a_missing_heading(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## A heading: with `code`\n")
    page.write_text("[ok](other.md#a-heading-with-code) [gone](missing.md) [bad](other.md#nowhere)\n"
                    "```\n[in a code block](ignored.md)\n```\n[web](https://example.com/x.md)\n")
    assert broken_links(page) == ["missing.md: no such file", "other.md#nowhere: no such heading"]


def test_the_operations_page_names_every_dagster_group():
    groups = {spec.group for specs in FAMILIES.values() for spec in specs} | {"analytics", "sources"}
    text = (REPO / "docs" / "operations.md").read_text()
    listed = set(re.findall(r"^- `(\w+)`:", text.split("**Groups**")[1].split("**Jobs**")[0], re.MULTILINE))
    assert listed == groups


def test_every_variable_the_package_reads_is_on_the_settings_page():
    read = set()
    for path in (REPO / "avax_assets").rglob("*.py"):
        read |= set(re.findall(r"\"(AVAX_[A-Z0-9_]+)\"", path.read_text()))
    page = (REPO / "docs" / "settings.md").read_text()
    declared = {variable.name for model in SETTINGS for variable in model.variables()}
    assert read <= declared, f"read but not declared: {sorted(read - declared)}"
    assert not [name for name in declared if f"`{name}`" not in page]


def test_no_variable_is_declared_twice():
    counts = Counter(variable.name for model in SETTINGS for variable in model.variables())
    assert [name for name, n in counts.items() if n > 1] == []
