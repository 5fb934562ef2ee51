"""What a fresh clone holds: a short README that links every docs page, a licence file, no stray backups."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from saliency_cli.files import free_backup_path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250


def test_the_readme_stays_a_short_guide():
    """Details belong in docs/<topic>.md; the README keeps the overview a newcomer reads top to bottom."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move details to docs/"


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a Markdown page's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_every_docs_page_is_linked_from_the_readme_and_every_link_resolves():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/[^)#\s]+)", readme))
    pages = {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")}
    assert pages <= linked, f"not linked from README.md: {sorted(pages - linked)}"
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            path = page.parent / target if target else page
            assert path.exists(), f"{page.relative_to(ROOT)}: broken link {target}"
            if anchor:
                assert anchor in anchors(path), f"{page.relative_to(ROOT)}: no heading for {target}#{anchor}"


def test_the_licence_file_matches_pyproject():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert declared == "MIT"
    assert text.startswith("MIT License") and "The saliency-cli authors" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_no_backup_file_is_tracked_and_every_backup_name_is_ignored(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    backups = [name for name in tracked.splitlines() if re.search(r"\.bak(\.\d+)?$", name)]
    assert not backups, f"backup files are tracked: {backups}"

    # The names the tool itself gives backups, as many as a few replacements make, all ignored by git.
    target = tmp_path / "explore.svg"
    names = []
    for _ in range(3):
        backup = free_backup_path(target)
        backup.touch()
        names.append(f"docs/{backup.name}")
    assert names == ["docs/explore.svg.bak", "docs/explore.svg.bak.1", "docs/explore.svg.bak.2"]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert ignored == names
