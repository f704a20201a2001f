"""The manual (docs/, MkDocs): `make docs` fails on a broken link or anchor, and the README's links land.

MkDocs lets a link to a missing heading through unless mkdocs.yml asks (validation: anchors), and
with -q or -v on the command line it lets broken links through whatever mkdocs.yml asks, so these
tests run the real `make docs` on a copy of the manual with one link broken.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .support import REPO

BROKEN_LINKS = {
    "a heading that does not exist": ("strokes.md#no-such-heading", "does not contain an anchor '#no-such-heading'"),
    "a page that does not exist": ("no-such-page.md", "'no-such-page.md', but the target is not found"),
    "a heading of its own page that does not exist": ("#no-such-heading", "there is no such anchor on this page"),
}


def make_docs(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "docs", f"MKDOCS_CONFIG={config}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def manual_copy(tmp_path) -> Path:
    """Copy mkdocs.yml and docs/ into tmp_path (the site is built there too); return the config's path."""
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    shutil.copy(REPO / "mkdocs.yml", tmp_path / "mkdocs.yml")
    return tmp_path / "mkdocs.yml"


def test_make_docs_builds_the_manual(manual_copy):
    result = make_docs(manual_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (manual_copy.parent / "site" / "strokes.html").exists()


@pytest.mark.parametrize("broken", BROKEN_LINKS, ids=list(BROKEN_LINKS))
def test_make_docs_fails_on_a_link_to(broken, manual_copy):
    link, warning = BROKEN_LINKS[broken]
    with (manual_copy.parent / "docs" / "api.md").open("a") as page:
        page.write(f"\nSee [this]({link}).\n")
    result = make_docs(manual_copy)
    assert result.returncode != 0, f"make docs passed with a link to {broken}:\n{result.stdout}{result.stderr}"
    assert warning in result.stdout + result.stderr


def test_every_link_from_the_readme_into_the_manual_lands(tmp_path):
    site = tmp_path / "site"
    built = subprocess.run(
        [str(REPO / ".venv/bin/mkdocs"), "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    links = re.findall(r"\]\((docs/[^)#]*)(?:#([^)]*))?\)", (REPO / "README.md").read_text())
    assert len(links) >= 10, links
    for path, anchor in links:
        assert (REPO / path).exists(), f"README links to {path}, which does not exist"
        if anchor:
            html = site / Path(path).relative_to("docs").with_suffix(".html")
            assert f'id="{anchor}"' in html.read_text(), f"README links to {path}#{anchor}: no such heading"
