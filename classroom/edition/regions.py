"""Find and replace the marked regions of a source text, with nbgrader's marker words.

A region is the lines between a BEGIN line and its END line, markers included. A marker
line holds nothing but the marker (after indentation); regions never nest. Solution
regions are what the student writes; hidden-test regions are checks only the grader runs.
"""

import re
from dataclasses import dataclass

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

_TRIVIAL = re.compile(
    r"""^(
        [\s()\[\]{},:;]*                           # blank, or lone brackets and commas
      | (else|try|finally|pass|continue|break):?   # a bare keyword
      | \#+\s*(BEGIN|END)\ (SOLUTION|HIDDEN\ TESTS) # a marker
      | [\w, ]+\s=\s[\w.]+(\[-?\d+\])?             # unpacking a shape or an attribute
      | [\w.]+                                     # a lone name, e.g. a continued expression's operand
      | return\ [\w, ]+                            # returning names computed above
      | (\w+=[\w.'"-]+,?\ ?)+\)*,?                 # continued keyword arguments, e.g. verbose=False)
    )$""",
    re.VERBOSE,
)


class RegionError(ValueError):
    """A marker is malformed: unpaired, nested, or not on a line of its own."""


@dataclass(frozen=True)
class Region:
    """Lines [begin, end] (0-based, inclusive of the markers) and the marker indentation."""

    begin: int
    end: int
    indent: str


def find_regions(lines, markers, where, strict=True, warnings=None):
    """The regions delimited by `markers` = (begin, end) in a list of lines.

    `where` names the source in error messages, e.g. "cs231n_bn/batchnorm.py". With
    `strict` (notebooks, where nbgrader matches the marker words anywhere in a line) any
    line mentioning a marker word must be a marker; otherwise (Python files, whose code
    may hold the words in strings) only comment lines are held to that. Such a line is
    left alone and reported: appended to `warnings` if a list is given, else raised.
    """
    begin_word, end_word = (m.lstrip("# ") for m in markers)
    regions, open_at = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        is_begin, is_end = text == markers[0], text == markers[1]
        if not (is_begin or is_end):
            suspicious = strict or text.startswith("#")
            if suspicious and (begin_word in text or end_word in text):
                problem = (
                    f"{where}:{i + 1}: mentions a marker without being one (nbgrader would "
                    f"take it for '{markers[0]}' or '{markers[1]}'): {text[:80]!r}"
                )
                if warnings is None:
                    raise RegionError(problem)
                warnings.append(problem)
            continue
        if is_begin:
            if open_at is not None:
                raise RegionError(f"{where}:{i + 1}: '{markers[0]}' inside the region opened at line {open_at + 1}")
            open_at = i
        else:
            if open_at is None:
                raise RegionError(f"{where}:{i + 1}: '{markers[1]}' without a '{markers[0]}' before it")
            indent = lines[open_at][: len(lines[open_at]) - len(lines[open_at].lstrip())]
            regions.append(Region(open_at, i, indent))
            open_at = None
    if open_at is not None:
        raise RegionError(f"{where}:{open_at + 1}: '{markers[0]}' is never closed by '{markers[1]}'")
    return regions


def replace_regions(lines, regions, replacement):
    """New list of lines with each region replaced by replacement(region) (a list of lines)."""
    result, start = [], 0
    for region in regions:
        result.extend(lines[start:region.begin])
        result.extend(replacement(region))
        start = region.end + 1
    result.extend(lines[start:])
    return result


def is_trivial(line):
    """Lines that give nothing away: blanks, brackets, bare keywords, shape unpacking,
    lone names, returns of names, and anything under 10 visible characters."""
    text = line.strip()
    return len("".join(text.split())) < 10 or bool(_TRIVIAL.match(text))
