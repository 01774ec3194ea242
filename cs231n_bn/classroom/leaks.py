"""Which solution and hidden-test lines can be seen where: the evidence behind "no leaks".

A secret is a non-trivial line (regions.is_trivial) inside a solution or hidden-test
region of the instructor's course. The release removes every region; what it cannot
remove is a secret line that the course also shows *outside* a region, e.g. a notebook
cell that prints the code of an exercise, or a module that implements the same thing.
`visible_elsewhere` lists those, so that an instructor sees them on every release.
"""

import json
from pathlib import Path

import nbformat

from cs231n_bn.classroom.regions import HIDDEN_TESTS, SOLUTION, find_regions, is_trivial


def _texts(path):
    """(text, strict) pieces of one file: the whole file, or a notebook's cell sources."""
    if path.suffix == ".py":
        return [(path.read_text(encoding="utf-8"), False)]
    if path.suffix == ".ipynb":
        return [(cell.source, True) for cell in nbformat.read(path, as_version=4).cells]
    return []


def split_regions(text, strict, where):
    """(lines inside regions, lines outside them) of one text, markers excluded from both."""
    lines = text.split("\n")
    inside = set()
    for markers in (SOLUTION, HIDDEN_TESTS):
        for region in find_regions(lines, markers, where, strict, warnings=[]):
            inside.update(range(region.begin, region.end + 1))
    secret = [lines[i] for i in sorted(inside) if lines[i].strip() not in (*SOLUTION, *HIDDEN_TESTS)]
    public = [line for i, line in enumerate(lines) if i not in inside]
    return secret, public


def secret_lines(source, files):
    """{stripped secret line: file it comes from} over the given files of the source."""
    secrets = {}
    for rel in files:
        for text, strict in _texts(Path(source, rel)):
            for line in split_regions(text, strict, rel)[0]:
                if not is_trivial(line):
                    secrets.setdefault(line.strip(), rel)
    return secrets


def public_text(source, rel):
    """Everything of one source file that lies outside its regions, as one string."""
    path = Path(source, rel)
    pieces = _texts(path)
    if not pieces:
        return path.read_text(encoding="utf-8", errors="replace")
    return "\n".join("\n".join(split_regions(text, strict, rel)[1]) for text, strict in pieces)


def visible_elsewhere(source, files):
    """{secret line: [files showing it outside any region]}: what no release can hide."""
    secrets = secret_lines(source, files)
    found = {}
    for rel in files:
        text = public_text(source, rel)
        for line in secrets:
            if line in text:
                found.setdefault(line, []).append(rel)
    return found


def student_text(path):
    """All a student can see in one file: its raw text and, for a notebook, every cell's
    source, outputs and metadata decoded from JSON (escapes would hide a match in the raw
    text), plus the notebook's metadata."""
    path = Path(path)
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return raw
    nb = nbformat.read(path, as_version=4)
    parts = [raw, json.dumps(nb.metadata, ensure_ascii=False)]
    for cell in nb.cells:
        parts.append(cell.source)
        parts.append(json.dumps(cell.metadata, ensure_ascii=False))
        for output in cell.get("outputs", []):
            parts.append(json.dumps(output, ensure_ascii=False))
            for value in output.get("data", {}).values():
                parts.append(value if isinstance(value, str) else "".join(value))
            if "text" in output:
                parts.append(output["text"] if isinstance(output["text"], str) else "".join(output["text"]))
    return "\n".join(parts)
