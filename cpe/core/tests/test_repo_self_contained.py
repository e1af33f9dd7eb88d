"""The repository explains itself: no tracked file refers to a document outside it, every
citation of the repository's own docs names a section that exists, and the decision records
are numbered without a gap and share one shape.

Citation forms (docs/rules.md, first paragraphs): `rules R4.2` (docs/rules.md), `conventions C4`
(docs/conventions.md), `docs/ais-interface.md A3.2`, `agreement §3.2(1)` (the agreement text in
cpe/agreements/data/agreement_v1.txt), `decision 0004` (docs/decisions/)."""

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Built from pieces so that this file does not match itself.
_S = "SPEC"
OUTSIDE = re.compile(
    "|".join(
        [
            _S + r"\s*§",
            _S + r"\.md",
            "DESI" + r"GN\.md",
            "DESI" + r'GN\s+"',
            "AIS_INTER" + "FACE",
            r"\.\./shared",
            "/wo" + "rk/",
            r"\bse" + r"ed §",
        ]
    )
)
SKIP_DIRS = {".git", "node_modules", ".venv", "var", "vendor", "__pycache__"}


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z"], check=True, capture_output=True, timeout=60
        ).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.SubprocessError):  # no git (an unpacked archive): walk
        names = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file() and not SKIP_DIRS & set(p.relative_to(ROOT).parts)
        ]
    return [ROOT / n for n in names if (ROOT / n).is_file() and not (ROOT / n).is_symlink()]


@cache
def texts() -> tuple[tuple[str, str], ...]:
    """(path, text) of every tracked text file, read once per test run."""
    out = []
    for path in tracked_files():
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary
            continue
        out.append((path.relative_to(ROOT).as_posix(), data.decode("utf-8", errors="replace")))
    return tuple(out)


def outside_references(name: str, text: str) -> list[str]:
    return [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}" for m in OUTSIDE.finditer(text)]


def test_no_tracked_file_refers_to_a_document_outside_the_repository():
    found = [hit for name, text in texts() for hit in outside_references(name, text)]
    assert not found, "cite docs/ instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "# closes after 30 minutes (" + _S + " §4.1)",
        "see " + _S + ".md",
        "DESI" + "GN.md",
        "DESI" + 'GN "Data and time"',
        "AIS_INTER" + "FACE.md",
        "../sha" + "red/notes.txt",
        "/wo" + "rk/shared/x",
        "(se" + "ed §3.2(1))",
    ],
)
def test_the_pattern_catches_each_form(line):
    assert outside_references("x.py", line)


@pytest.mark.parametrize(
    "line",
    [
        "rules R4.1",
        "docs/ais-interface.md A3.2",
        "agreement §3.2(1)",
        "conventions C4",
        "RFC 7239 §5.2",
        "the workbook",
        "framework/",
        "seeded persons",
    ],
)
def test_the_pattern_leaves_the_repositorys_own_citations_alone(line):
    assert not outside_references("x.py", line)


# --- citations of the repository's own docs name sections that exist --------------------------
def headings(doc: str, prefix: str) -> set[str]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return set(re.findall(r"^#+ (" + prefix + r"\d+(?:\.\d+)?) ", text, flags=re.M))


RANGE = r"(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?"


def cited(pattern: str, letter: str) -> list[tuple[str, str]]:
    """(where, section) for every citation; a list or a range cites each end."""
    out = []
    for name, text in texts():
        for m in re.finditer(pattern, text):
            for part in re.finditer(letter + RANGE, m.group(0)):
                for section in filter(None, part.groups()):
                    out.append((f"{name}:{text.count(chr(10), 0, m.start()) + 1}", letter + section))
    return out


def test_every_rules_citation_names_a_section_of_docs_rules_md():
    known = headings("docs/rules.md", "R")
    # "rules R1.2, R14" (the bare "R1.2" of docs/rules.md's own index is not checked).
    missing = [(where, s) for where, s in cited(r"\brules R[\dR.,;\- ]*\d", "R") if s not in known]
    assert not missing, missing


def test_every_conventions_citation_names_a_section_of_docs_conventions_md():
    known = headings("docs/conventions.md", "C")
    missing = [(where, s) for where, s in cited(r"\bconventions C\d+", "C") if s not in known]
    assert not missing, missing


def test_every_ais_interface_citation_names_a_section():
    known = headings("docs/ais-interface.md", "A")
    missing = [(where, s) for where, s in cited(r"ais-interface\.md A\d+(?:\.\d+)?", "A") if s not in known]
    assert not missing, missing


AGREEMENT = ROOT / "cpe" / "agreements" / "data" / "agreement_v1.txt"
CHAPTERS = "一二三四五六七八九十"


def agreement_sections() -> set[str]:
    """ "3", "3.2" and "3.2(1)" for chapter 三, its item 2 and that item's point (1)."""
    known, chapter, item = set(), None, None
    for line in AGREEMENT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if len(line) > 1 and line[0] in CHAPTERS and line[1] == "、":
            chapter, item = CHAPTERS.index(line[0]) + 1, None
            known.add(str(chapter))
        elif chapter and (m := re.match(r"(\d+)\.", line)):
            item = int(m.group(1))
            known.add(f"{chapter}.{item}")
        elif chapter and item and (m := re.match(r"（(\d+)）", line)):
            known.add(f"{chapter}.{item}({m.group(1)})")
    return known


def test_every_agreement_citation_names_a_clause_of_the_agreement():
    known = agreement_sections()
    assert {"1.1", "3.2(1)", "3.2(5)", "8.1"} <= known
    missing = [
        (name, ref)
        for name, text in texts()
        for m in re.finditer(r"agreement (§[\d.()]+(?:, §[\d.()]+)*)", text)
        for ref in re.findall(r"§(\d+(?:\.\d+)?(?:\(\d+\))?)", m.group(1))
        if ref not in known
    ]
    assert not missing, missing


# --- decision records ---------------------------------------------------------------------------
DECISIONS = ROOT / "docs" / "decisions"
RECORD = re.compile(r"^(\d{4})-[a-z0-9-]+\.md$")


def records() -> list[Path]:
    return sorted(p for p in DECISIONS.iterdir() if p.suffix == ".md")


def test_decision_records_are_numbered_from_0001_without_a_gap():
    names = [p.name for p in records()]
    assert all(RECORD.match(n) for n in names), names
    numbers = [int(RECORD.match(n).group(1)) for n in names]
    assert numbers == list(range(1, len(numbers) + 1)), names


@pytest.mark.parametrize("path", records(), ids=lambda p: p.name)
def test_each_decision_record_has_status_context_decision_consequences(path):
    text = path.read_text(encoding="utf-8")
    number = path.name[:4]
    assert re.match(r"# " + number + r" \S", text), "the title starts with the record's number"
    sections = re.findall(r"^## (\w+)", text, flags=re.M)
    order = [s for s in sections if s in {"Status", "Context", "Decision", "Consequences"}]
    assert order == ["Status", "Context", "Decision", "Consequences"], sections
    status = re.search(r"^## Status\n+(.+)", text, flags=re.M).group(1)
    assert re.match(r"(Accepted|Proposed|Superseded by \d{4}|Deprecated)\b", status), status


def test_decision_citations_name_existing_records():
    numbers = {p.name[:4] for p in records()}
    missing = [
        (name, m.group(1))
        for name, text in texts()
        for m in re.finditer(r"\b(?:decisions?|docs/decisions/)[ -]?(\d{4})\b", text)
        if m.group(1) not in numbers
    ]
    assert not missing, missing
