"""The repository stands on its own: what code, configs and docs cite is in
the repository."""
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Team documents that are not part of the repository.
FOREIGN = re.compile(r'\.\./shared|\b(METHODS|STACK|DATA)\.md\b')
#: ``docs/<name>.md`` cited anywhere.
DOC = re.compile(r'docs/([A-Za-z0-9_\-]+\.md)')
#: Citations of a docs/methods.md heading: the file name, a comma, the
#: heading in double quotes (may wrap after the comma).
HEADING_CITE = re.compile(
    r'docs/methods\.md,\s*(?:#\s*)?"([^"]+)"(?:\s+and\s+"([^"]+)")?')


def tracked_text_files():
    try:
        out = subprocess.run(['git', 'ls-files'], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('not a git checkout')
    for name in out.split():
        path = REPO / name
        if path.suffix in ('.png', '.pth', '.gz') or not path.is_file():
            continue
        try:
            yield name, path.read_text()
        except UnicodeDecodeError:
            continue


def test_no_reference_outside_the_repository():
    bad = [
        f'{name}:{i}: {line.strip()}'
        for name, text in tracked_text_files() if not name.startswith('docs/')
        for i, line in enumerate(text.splitlines(), 1) if FOREIGN.search(line)
    ]
    assert not bad, 'cite docs/ instead:\n' + '\n'.join(bad[:20])


def test_cited_docs_exist():
    missing = sorted({
        f'{name}: docs/{doc}'
        for name, text in tracked_text_files()
        for doc in DOC.findall(text) if not (REPO / 'docs' / doc).is_file()
    })
    assert not missing, missing


def test_cited_methods_headings_exist():
    headings = [
        h.strip() for h in re.findall(r'^#+ (.+)$',
                                      (REPO / 'docs/methods.md').read_text(),
                                      re.M)
    ]
    cited = set()
    for name, text in tracked_text_files():
        for first, second in HEADING_CITE.findall(text):
            for title in (first, second):
                if title and not title.isdigit():
                    # a title wrapped in a comment: drop the '#' markers
                    title = ' '.join(title.replace('#', ' ').split())
                    cited.add((name, title))
    assert cited, 'no heading citations found: is the pattern out of date?'
    unknown = sorted(f'{name}: "{title}"' for name, title in cited
                     if not any(h == title or h.startswith(title + ':')
                                for h in headings))
    assert not unknown, unknown
