"""The project carries its own copies of the facts it relies on: nothing in the repository
cites a document that lives outside it (friction list, item 12)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"\.\./shared|shared/(REGULATIONS|PREFECT-NOTES|THREATS|ARCHITECTURE)\.md|\bTHREATS\.md|\bREGULATIONS\.md")
CITED_DOC = re.compile(r"\bdocs/([a-z0-9-]+\.md)")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / n for n in names if n.endswith((".py", ".md", ".toml", ".j2", ".yaml", ".txt")) and (ROOT / n).is_file()]


def test_no_file_cites_a_document_outside_the_repository() -> None:
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in tracked_text_files()
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_every_docs_file_the_code_cites_exists() -> None:
    cited = {m for p in tracked_text_files() for m in CITED_DOC.findall(p.read_text())}
    assert cited, "the code cites docs/ somewhere"
    assert sorted(c for c in cited if not (ROOT / "docs" / c).is_file()) == []
