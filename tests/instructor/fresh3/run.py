"""Run every entry of the catalogue through its exercise's graded checks and print the verdicts.

    python -m tests.instructor.fresh3.run [--exercise NAME]

For each entry: "== exercise / name (mistake|correct): fails|passes", its description, and
the message of the first check that failed (the one the student would read first).
"""

import argparse
import contextlib
import io

from cs231n_bn import checks
from cs231n_bn.checks.registry import cells_of

from tests.instructor.fresh3.catalogue import entries


def first_failure(entry):
    """The message of the first graded check the entry fails, in course order, or None."""
    for cell in cells_of(entry.exercise):
        check = getattr(checks, cell.check)
        kwargs = {"forward": entry.forward} if entry.forward is not None else {}
        try:
            # The checks print PASS lines meant for the notebook; the table keeps the verdicts only.
            with contextlib.redirect_stdout(io.StringIO()):
                check(entry.function, **kwargs)
        except Exception as error:  # a crash of the student's code is a failure the student sees too
            return f"[{cell.check}] {type(error).__name__}: {error}"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise", help="run the entries of this exercise only")
    args = parser.parse_args()
    chosen = [e for e in entries() if args.exercise in (None, e.exercise)]
    missed, false_alarms = [], []
    for entry in chosen:
        message = first_failure(entry)
        kind = "correct" if entry.correct else "mistake"
        print(f"== {entry.exercise} / {entry.name} ({kind}): {'passes' if message is None else 'fails'}")
        print(f"   {entry.description}")
        if message is not None:
            print("   " + message.replace("\n", "\n   "))
        if entry.correct and message is not None:
            false_alarms.append(entry.name)
        if not entry.correct and message is None:
            missed.append(entry.name)
        print()
    mistakes = sum(not e.correct for e in chosen)
    print(f"{mistakes} mistakes, {len(chosen) - mistakes} correct variants")
    print(f"MISSED ({len(missed)}): {', '.join(missed) or '-'}")
    print(f"FALSE ALARMS ({len(false_alarms)}): {', '.join(false_alarms) or '-'}")


if __name__ == "__main__":
    main()
