"""The class at a glance: per exercise, how the class scored and what it got wrong most.

Reads the per-student JSON results of `grade --out GRADES` and writes, beside them,
`class_report.md` (a table: per exercise the number of students, the mean score, how many
passed / failed / did not start / hit an error or a limit, and the most frequent
diagnoses from the checks' messages with their counts) and `class_report.png` (per
exercise, a bar split by outcome; and the distribution of the students' totals).

A diagnosis is the first line of a message with its numbers replaced by "#", so that the
same mistake made on different secret inputs counts as one.
"""

import collections
import json
import re
from pathlib import Path

from classroom.grader.many import write_atomically
from classroom.grader.plain import plain

OUTCOMES = ("pass", "fail", "not implemented", "missing", "error", "limit")  # in the table and the figure
LIMIT_STATUSES = ("timeout", "memory")
TOP_DIAGNOSES = 3
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def diagnosis(message):
    """The first line of a check's message with numbers as "#" (at most 160 characters)."""
    first = (str(message).strip().splitlines() or [""])[0]
    return NUMBER.sub("#", first)[:160]


def _outcome(status):
    return "limit" if status in LIMIT_STATUSES else status if status in OUTCOMES else "error"


def load_results(grades):
    """[(student file stem, report dict)] of every per-student JSON in the folder."""
    results = []
    for path in sorted(Path(grades).glob("*.json")):
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(report, dict) and isinstance(report.get("exercises"), list):
            results.append((path.stem, report))
    return results


def summarize(results):
    """{exercise: {"max": points, "scores": [...], "outcomes": Counter, "diagnoses": Counter}}
    over the graded items (package exercises and notebook check cells, not written answers)."""
    table = {}
    for _, report in results:
        for item in report["exercises"]:
            if not isinstance(item, dict) or item.get("kind") == "manual" or item.get("status") == "skipped":
                continue
            if not item.get("max_points"):
                continue
            row = table.setdefault(str(item.get("exercise")), {"max": item.get("max_points", 0), "scores": [],
                                                               "outcomes": collections.Counter(),
                                                               "diagnoses": collections.Counter()})
            row["scores"].append(float(item.get("points", 0)))
            row["outcomes"][_outcome(item.get("status"))] += 1
            if item.get("status") != "pass" and item.get("message"):
                row["diagnoses"][diagnosis(item["message"])] += 1
    return table


def format_markdown(results, table):
    """The class report as a markdown table (plain text: escapes shown, pipes escaped)."""
    totals = [r.get("points") or 0 for _, r in results]
    failed = sum(1 for _, r in results if r.get("grader_failed"))
    lines = [f"# Class report: {len(results)} copies", ""]
    if totals:
        ordered = sorted(totals)
        lines.append(f"Automatic totals: median {ordered[len(ordered) // 2]:g}, lowest {ordered[0]:g}, "
                     f"highest {ordered[-1]:g}" + (f"; the grader failed on {failed} copies" if failed else "") + ".")
        lines.append("")
    lines.append("| exercise | points | mean | " + " | ".join(OUTCOMES) + " | most frequent diagnoses |")
    lines.append("|---|---|---|" + "---|" * len(OUTCOMES) + "---|")
    def share(item):  # of the points the class could earn on this exercise, the part it earned
        row = item[1]
        return sum(row["scores"]) / (row["max"] * len(row["scores"]))

    for exercise, row in sorted(table.items(), key=share):
        mean = sum(row["scores"]) / len(row["scores"])
        counts = [str(row["outcomes"][o]) for o in OUTCOMES]
        top = "; ".join(f"{n}x {text}" for text, n in row["diagnoses"].most_common(TOP_DIAGNOSES))
        cells = [exercise, f"{row['max']:g}", f"{mean:.2f}", *counts, top]
        lines.append("| " + " | ".join(plain(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def draw(results, table, path):
    """Per exercise a bar split by outcome, and a histogram of the totals; saved to path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(table)
    fig, (bars, hist) = plt.subplots(1, 2, figsize=(13, max(4, 0.3 * len(names) + 1.5)),
                                     gridspec_kw={"width_ratios": [3, 1]})
    left = [0] * len(names)
    for outcome in OUTCOMES:
        counts = [table[n]["outcomes"][outcome] for n in names]
        bars.barh(names, counts, left=left, label=outcome)
        left = [a + b for a, b in zip(left, counts)]
    bars.set_xlabel("students")
    bars.set_title("outcome per exercise", pad=30)
    bars.invert_yaxis()
    bars.tick_params(axis="y", labelsize=7)
    bars.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(OUTCOMES), fontsize=7, frameon=False)
    hist.hist([r.get("points") or 0 for _, r in results], bins=10)
    hist.set_xlabel("automatic total")
    hist.set_ylabel("students")
    hist.set_title("totals")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_class_report(grades):
    """Write class_report.md and class_report.png into the grades folder; returns both paths."""
    grades = Path(grades)
    results = load_results(grades)
    table = summarize(results)
    markdown, figure = grades / "class_report.md", grades / "class_report.png"
    write_atomically(markdown, format_markdown(results, table))
    draw(results, table, figure)
    return markdown, figure
