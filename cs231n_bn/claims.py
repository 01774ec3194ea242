"""Claims: the conclusions a notebook draws from a training run, in a form nbval can compare.

The digits of a training run depend on round-off, and round-off depends on the CPU and the
BLAS kernel: a last bit that differs at step 1 is a different curve at step 300. The lesson
is not in those digits but in the conclusion drawn from them, so a notebook states each
conclusion as a claim line, decided by a test with a margin that every machine clears:

    [held] batch norm reaches the baseline's best accuracy in fewer steps
        evidence: 4.6x fewer steps ...

nbval compares the claim line exactly; `notebooks/sanitize.cfg` masks the evidence line,
which the student still reads in full.
"""

import numbers
import textwrap

import numpy as np

EVIDENCE_PREFIX = "    evidence: "
# Characters per printed line: JupyterLab wraps longer output lines wherever the column
# ends (in a word, at 900 px), so the lines are broken here, between words.
WIDTH = 100


def claim(text, held, evidence):
    """Print one conclusion, whether the run supports it, and the numbers behind it.

    Inputs:
    - text: the conclusion, in words; it must not contain measured numbers (it is compared)
    - held: whether the measurement supports it, decided with a margin
    - evidence: the measured numbers, shown to the student, not compared

    Returns:
    - held, as a bool, so a notebook can build on it
    """
    # splitlines() also breaks at \r, \v, \f and Unicode line separators: any of them would
    # split the compared claim line, or the masked evidence line, in two.
    if not isinstance(text, str) or not text.strip() or text.splitlines() != [text]:
        raise ValueError(f"claim: text must be a one-line, non-empty string; got {text!r}")
    # A tab or NUL prints as nothing visible (or differently per terminal), yet nbval compares it.
    if not text.isprintable():
        raise ValueError(f"claim: text must hold only printable characters (no tab or control character); got {text!r}")
    if not isinstance(evidence, str) or evidence.splitlines() not in ([evidence], []):
        raise ValueError(f"claim: evidence must be a one-line string; got {evidence!r}")
    # Only a real truth value (or 0 and 1): bool('False') and bool(nan) are True, and an
    # array has none.
    truth = isinstance(held, (bool, np.bool_)) or (isinstance(held, numbers.Integral) and held in (0, 1))
    if not truth:
        raise TypeError(
            f"claim: held must be True or False (a comparison such as ratio >= 2); got {held!r} "
            f"of type {type(held).__name__}"
        )
    held = bool(held)
    verdict = f"[{'held' if held else 'NOT SEEN'}] {text}"
    print(textwrap.fill(verdict, WIDTH, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False))
    # the evidence's continuation lines are indented under its first, so the sanitizer masks them too
    print(textwrap.fill(evidence, WIDTH, initial_indent=EVIDENCE_PREFIX, subsequent_indent=" " * len(EVIDENCE_PREFIX),
                        break_long_words=False, break_on_hyphens=False) or EVIDENCE_PREFIX)
    return held
