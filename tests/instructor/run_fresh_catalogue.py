"""Run every fresh catalogue entry through its exercise's checks and print entry, verdict, message.

    python -m tests.instructor.run_fresh_catalogue [--judged] [NAME ...]

An exercise's checks are the registry's graded cells for it (the calls the notebook's check
cells and the grader make); an entry fails on the first of them that fails, and the table
shows that check's message. --judged adds the recorded judgement and the counts per class.
"""

import argparse
import contextlib
import io
import warnings
from collections import Counter
from dataclasses import dataclass

from cs231n_bn import checks
from cs231n_bn.checks.registry import cells_of
from cs231n_bn.fc_net import FullyConnectedNet
from tests.instructor.fresh.entry import JUDGEMENTS, MISSED
from tests.instructor.fresh_catalogue import ENTRIES


@dataclass(frozen=True)
class Result:
    passed: bool
    check: str  # the check that failed (the last one run when all passed)
    message: str


def under_test(entry):
    """What the check takes: the function, or for the network's methods a FullyConnectedNet using it."""
    if entry.exercise.startswith("FullyConnectedNet."):
        method = entry.exercise.split(".", 1)[1]
        return type("FullyConnectedNet", (FullyConnectedNet,), {method: entry.function})
    return entry.function


def run(entry):
    """The entry's verdict: the first failing check's message, or the last PASS line."""
    check_name, message = "", ""
    for cell in cells_of(entry.exercise):
        check_name = cell.check
        check = getattr(checks, cell.check)
        kwargs = {"forward": entry.forward} if entry.forward is not None else {}
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check(under_test(entry), **kwargs)
        except checks.CheckFailed as failure:
            return Result(False, check_name, str(failure).strip())
        except Exception as crash:  # a check that crashes instead of judging is a finding too
            return Result(False, check_name, f"CHECK CRASHED: {type(crash).__name__}: {crash}")
        message = out.getvalue().strip()
    return Result(True, check_name, message)


def verdict(entry, result):
    if entry.correct:
        return "ok (passes)" if result.passed else "WRONGLY FAILED"
    return MISSED if result.passed else "fails"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these entries")
    parser.add_argument("--judged", action="store_true", help="show the recorded judgements and their counts")
    args = parser.parse_args(argv)
    chosen = [e for e in ENTRIES if not args.names or e.name in args.names]
    for entry in chosen:
        result = run(entry)
        kind = "correct" if entry.correct else "mistake"
        judged = f" [{entry.judged or '-'}]" if args.judged and not entry.correct else ""
        print(f"== {entry.exercise} / {entry.name} ({kind}): {verdict(entry, result)}{judged}")
        print(f"   {entry.description}")
        print(f"   {result.check}: " + result.message.replace("\n", "\n   "))
    if args.judged:
        mistakes = [e for e in chosen if not e.correct]
        counts = Counter(e.judged or "unjudged" for e in mistakes)
        print(f"\n{len(mistakes)} mistakes:")
        for label in (*JUDGEMENTS, "unjudged"):
            if counts[label]:
                print(f"  {label:9s} {counts[label]:4d}  {100 * counts[label] / len(mistakes):5.1f} %")
        missed = [e.name for e in mistakes if e.judged == MISSED]
        if missed:
            print("  missed:", ", ".join(missed))


if __name__ == "__main__":
    main()
