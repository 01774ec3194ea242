"""Which solution and hidden-test lines can be seen where: the evidence behind "no leaks".

A secret is a non-trivial line (regions.is_trivial) inside a solution or hidden-test
region of the instructor's course. The release removes every region; what it cannot
remove is a secret line that the course also shows *outside* a region, e.g. a notebook
cell that prints the code of an exercise, or a module that implements the same thing.
`visible_elsewhere` lists those, so that an instructor sees them on every release, less
the few the course states on purpose (STATED_ON_PURPOSE).

A notebook exercise can also leak as a whole: it asks for a function by name
(`def steps_to_reach(...)` in its solution cell, or the name in backticks in its
heading) while a module of the package defines that function, solved, outside any
region. `solved_outside_regions` finds those.
"""

import ast
import json
import re
from pathlib import Path

import nbformat

from classroom.edition.regions import HIDDEN_TESTS, SOLUTION, find_regions, is_trivial
from cs231n_bn.exercise import heading_before

# The only secret lines the course states outside a region, on purpose: the release counts
# them in one line instead of warning about each.
STATED_ON_PURPOSE = {
    'if self.normalization == "batchnorm":': "the same branch selects given code in cnn.py",
}


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


def _functions_around_regions(source):
    """Names of the functions of a notebook cell whose body holds a solution region."""
    try:
        tree = ast.parse("\n".join("pass" if l.lstrip().startswith(("%", "!")) else l for l in source.split("\n")))
    except SyntaxError:
        return set()
    lines = source.split("\n")
    regions = find_regions(lines, SOLUTION, "cell", strict=True, warnings=[])
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for region in regions
        if node.lineno <= region.begin < node.end_lineno
    }


def asked_for_by_name(source, files):
    """{function name: "Exercise N of notebooks/X.ipynb"} for the functions that notebook
    exercises ask for: defined around a solution region, or named in backticks in the
    heading of a section whose solution cell follows."""
    asked = {}
    for rel in files:
        if not rel.endswith(".ipynb"):
            continue
        cells = nbformat.read(Path(source, rel), as_version=4).cells
        for index, cell in enumerate(cells):
            if cell.cell_type != "code" or not any(l.strip() == SOLUTION[0] for l in cell.source.split("\n")):
                continue
            heading = heading_before(cells, index) or ""
            names = _functions_around_regions(cell.source)
            if "Exercise" in heading:
                names |= set(re.findall(r"`([A-Za-z_]\w*)(?:\(.*?\))?`", heading))
            for name in names:
                asked.setdefault(name, f"the exercise under '{heading}' in {rel}")
    return asked


def solved_outside_regions(source, files):
    """[(name, exercise, "cs231n_bn/x.py")]: functions a notebook exercise asks for that a
    shipped Python file defines with no solution region in their body."""
    asked = asked_for_by_name(source, files)
    found = []
    for rel in files:
        if not rel.endswith(".py"):
            continue
        text = Path(source, rel).read_text(encoding="utf-8")
        lines = text.split("\n")
        regions = find_regions(lines, SOLUTION, rel, strict=False, warnings=[])
        for node in ast.walk(ast.parse(text, filename=rel)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name not in asked:
                continue
            if not any(node.lineno <= r.begin < node.end_lineno for r in regions):
                found.append((node.name, asked[node.name], rel))
    return sorted(found)
