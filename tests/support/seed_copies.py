"""The manifests in ``examples/seed/`` are faithful copies of the study notes' manifests.

The notes (the Korean study notes users work through; they are not part of the repository) are
what users type in, and dockyard promises that every complete manifest in them runs unchanged.
The repository carries its own byte-for-byte copies, so the suite needs nothing beside a clone,
and ``examples/seed/provenance.txt`` records for each copy the note it came from and its SHA-256.
Two checks keep that record honest:

* always, in the unit tier: every manifest in ``examples/seed/`` is recorded with its checksum and
  every recorded one exists (:func:`copy_problems`), so a copy cannot be edited unnoticed;
* by a person who has the notes: ``make seed-check NOTES=DIR`` (this module's :func:`main`) reads
  every ```yaml block of ``DIR/*.txt`` and checks that each complete manifest among them has a
  recorded copy, and that each recorded copy is still a block of its note
  (:func:`notes_problems`). It is a command rather than a test because a clone has no notes; a
  missing directory is an error, never a skip.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

SEED_DIR = Path(__file__).resolve().parents[2] / "examples" / "seed"
RECORD = "provenance.txt"
_YAML_BLOCK = re.compile(r"^```ya?ml[^\n]*\n(.*?)^```", re.S | re.M)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RecordedCopy:
    """One line of ``provenance.txt``."""

    manifest: str  # file name in examples/seed/
    note: str      # file name of the note it was copied from
    sha256: str    # of the file, which is also that of the note's block


def read_record(seed_dir: Path = SEED_DIR) -> list[RecordedCopy]:
    copies = []
    for number, line in enumerate((seed_dir / RECORD).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 3:
            raise ValueError(f"{seed_dir / RECORD}:{number}: expected 'manifest note sha256', got {line!r}")
        copies.append(RecordedCopy(*fields))
    return copies


def manifests(seed_dir: Path = SEED_DIR) -> dict[str, str]:
    """Every manifest in the directory, by file name: its text."""
    return {path.name: path.read_text(encoding="utf-8")
            for path in sorted([*seed_dir.glob("*.yaml"), *seed_dir.glob("*.yml")])}


def copy_problems(record: list[RecordedCopy], found: dict[str, str]) -> list[str]:
    """What is wrong between the record and the manifests in the directory (none: they agree)."""
    problems = []
    recorded = {copy.manifest: copy for copy in record}
    for name, text in found.items():
        copy = recorded.get(name)
        if copy is None:
            problems.append(f"examples/seed/{name} is not in {RECORD}: this directory holds only the notes' own "
                            f"manifests, copied unchanged; put other manifests in a lab of their own")
        elif digest(text) != copy.sha256:
            problems.append(f"examples/seed/{name} is no longer the block of {copy.note} it was copied from "
                            f"(sha256 {digest(text)}, recorded {copy.sha256}): restore it with git; if the notes "
                            f"themselves changed, copy the new block byte for byte, record its checksum and "
                            f"run `make seed-check`")
    for name in sorted(recorded.keys() - found.keys()):
        problems.append(f"{RECORD} records examples/seed/{name}, which does not exist")
    return problems


@dataclass(frozen=True)
class NoteBlock:
    """One ```yaml block of a note."""

    note: str
    line: int  # of the opening fence, to find it by hand
    text: str
    complete: bool  # every document in it is a whole object (apiVersion, kind, metadata)

    @property
    def where(self) -> str:
        return f"{self.note} line {self.line}"


def note_blocks(notes_dir: Path) -> list[NoteBlock]:
    """Every ```yaml block of ``notes_dir/*.txt``; blocks that are not whole objects (the notes'
    ``...`` snippets) are kept too, marked incomplete, so the report can name them."""
    blocks = []
    for path in sorted(notes_dir.glob("*.txt")):
        content = path.read_text(encoding="utf-8")
        for match in _YAML_BLOCK.finditer(content):
            line = content.count("\n", 0, match.start()) + 1
            blocks.append(NoteBlock(path.name, line, match.group(1), _is_complete(match.group(1))))
    return blocks


def _is_complete(text: str) -> bool:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return False
    return bool(documents) and all(isinstance(d, dict) and {"apiVersion", "kind", "metadata"} <= d.keys()
                                   for d in documents)


def notes_problems(record: list[RecordedCopy], blocks: list[NoteBlock]) -> list[str]:
    """What is wrong between the notes and the record (none: every complete manifest of the notes
    has its recorded copy, and every recorded copy is a block of its note)."""
    problems = []
    recorded = {(copy.note, copy.sha256): copy for copy in record}
    for block in blocks:
        if block.complete and (block.note, digest(block.text)) not in recorded:
            problems.append(f"the manifest at {block.where} has no copy in examples/seed/: copy the block byte "
                            f"for byte into a .yaml file there and record it in {RECORD} "
                            f"(sha256 {digest(block.text)})")
    present = {(block.note, digest(block.text)) for block in blocks}
    for copy in record:
        if (copy.note, copy.sha256) not in present:
            problems.append(f"examples/seed/{copy.manifest} is recorded as a block of {copy.note}, but no block "
                            f"of that note has its checksum: the notes changed, or the record is wrong")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.support.seed_copies NOTES_DIR   (or: make seed-check NOTES=DIR)",
              file=sys.stderr)
        return 2
    notes_dir = Path(argv[0])
    blocks = note_blocks(notes_dir) if notes_dir.is_dir() else []
    if not blocks:
        print(f"error: no study notes with ```yaml blocks in {notes_dir} (expected *.txt files)", file=sys.stderr)
        return 2
    record = read_record()
    problems = copy_problems(record, manifests()) + notes_problems(record, blocks)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    fragments = [block.where for block in blocks if not block.complete]
    print(f"examples/seed/ holds the {len(record)} manifests of the notes in {notes_dir}, unchanged"
          + (f" (snippets that are not whole objects, not copied: {', '.join(fragments)})" if fragments else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
