"""The catalogue of mistakes: every check names what it can prove, and never more.

Each entry of test_checks_mistakes_*.py is an implementation with one realistic mistake
(and the words a message naming it must contain) or a correct but unusual variant (None).
The outcome of a check on an entry is one of:

- accepted: a correct variant passes
- false alarm: a correct variant fails
- named: a mistake fails with a message containing every expected word
- generic: a mistake fails with a message that says only what was measured
- misnamed: a mistake fails with a specific message that lacks the expected words
- missed: a mistake passes
- crashed: the check raised something other than CheckFailed or NotImplementedError

Print the table with
    PYTHONPATH=$PWD:tests .venv/bin/python tests/test_checks_catalogue.py
"""

import contextlib
import io
from collections import Counter
from pathlib import Path

import pytest

from cs231n_bn import checks
from cs231n_bn.checks.hints import HINTS
from classroom.edition.leaks import secret_lines
from test_checks_mistakes_norm import (
    BN_BACKWARD,
    BN_BACKWARD_ALT,
    BN_FORWARD,
    GN_BACKWARD,
    GN_FORWARD,
    LN_BACKWARD,
    LN_FORWARD,
    SBN_BACKWARD,
    SBN_FORWARD,
)
from test_checks_mistakes_torch import TORCH_RUNNING_VAR
from test_checks_mistakes_train import ADAM, NET_BACKWARD, NET_FORWARD, SGD

FAMILIES = (
    ("batchnorm_forward", checks.check_batchnorm_forward, BN_FORWARD),
    ("batchnorm_backward", checks.check_batchnorm_backward, BN_BACKWARD),
    ("batchnorm_backward_alt", checks.check_batchnorm_backward_alt, BN_BACKWARD_ALT),
    ("layernorm_forward", checks.check_layernorm_forward, LN_FORWARD),
    ("layernorm_backward", checks.check_layernorm_backward, LN_BACKWARD),
    ("spatial_batchnorm_forward", checks.check_spatial_batchnorm_forward, SBN_FORWARD),
    ("spatial_batchnorm_backward", checks.check_spatial_batchnorm_backward, SBN_BACKWARD),
    ("spatial_groupnorm_forward", checks.check_spatial_groupnorm_forward, GN_FORWARD),
    ("spatial_groupnorm_backward", checks.check_spatial_groupnorm_backward, GN_BACKWARD),
    ("fc_net_forward", checks.check_fc_net_forward, NET_FORWARD),
    ("fc_net_backward", checks.check_fc_net_backward, NET_BACKWARD),
    ("sgd_momentum", checks.check_sgd_momentum, SGD),
    ("adam", checks.check_adam, ADAM),
    ("torch_running_var", checks.check_torch_running_var, TORCH_RUNNING_VAR),
)
GENERIC_TOPICS = ("unexplained", "spread", "not centred", "not affine", "several paths", "ambiguous")
OUTCOMES = ("accepted", "false alarm", "named", "generic", "misnamed", "missed", "crashed")


def outcome(check, implementation, words, capsys=None):
    """(outcome, message) of one catalogue entry."""
    try:
        own_forward = getattr(implementation, "forward", None)  # a student's own forward/backward pair
        check(implementation, forward=own_forward) if own_forward else check(implementation)
    except checks.CheckFailed as err:
        if words is None:
            return "false alarm", str(err)
        message = str(err).lower()
        if all(w.lower() in message for w in words):
            return "named", str(err)
        if err.topic and any(err.topic.endswith(g) for g in GENERIC_TOPICS):
            return "generic", str(err)
        return "misnamed", str(err)
    except Exception as err:  # noqa: BLE001 - the catalogue records what a check should never do
        return "crashed", f"{type(err).__name__}: {err}"
    return ("accepted" if words is None else "missed"), ""


def run_catalogue():
    """{family: Counter of outcomes}, the entries that went wrong, and every message."""
    table, problems, messages = {}, [], []
    for family, check, entries in FAMILIES:
        counts = Counter()
        for k, (implementation, words) in enumerate(entries):
            result, message = outcome(check, implementation, words)
            messages.append(message)
            counts[result] += 1
            if result in ("false alarm", "misnamed", "missed", "crashed"):
                problems.append((family, k, words, result, message))
        table[family] = counts
    return table, problems, messages


def format_table(table):
    header = f"{'exercise':28s}" + "".join(f"{o:>10s}" for o in ("correct", "f.alarm", "named", "generic",
                                                                   "misnamed", "missed", "crashed"))
    lines = [header]
    total = Counter()
    for family, counts in table.items():
        total.update(counts)
        lines.append(f"{family:28s}" + "".join(f"{counts[o]:10d}" for o in OUTCOMES))
    lines.append(f"{'total':28s}" + "".join(f"{total[o]:10d}" for o in OUTCOMES))
    mistakes = sum(total[o] for o in OUTCOMES[2:])
    lines.append(f"mistakes: {mistakes}, named: {total['named'] / mistakes:.0%}; correct variants: "
                 f"{total['accepted'] + total['false alarm']}")
    return "\n".join(lines), total, mistakes


@pytest.fixture(scope="module")
def catalogue():
    with contextlib.redirect_stdout(io.StringIO()):
        return run_catalogue()


def test_no_false_alarm_miss_misnaming_or_crash(catalogue):
    _, problems, _ = catalogue
    assert not problems, "\n\n".join(f"{f}[{k}] {w}: {r}\n{m}" for f, k, w, r, m in problems)


def test_at_least_85_percent_of_the_mistakes_are_named(catalogue):
    table, _, _ = catalogue
    _, total, mistakes = format_table(table)
    assert mistakes >= 100 and total["named"] >= 0.85 * mistakes, format_table(table)[0]


def _normalized(text):
    return " ".join(text.split())


def solution_lines():
    """Every non-trivial line of a solution or hidden-test region of the package and notebooks."""
    root = Path(__file__).resolve().parents[1]
    files = [p.relative_to(root) for p in sorted((root / "cs231n_bn").glob("*.py"))]
    files += [p.relative_to(root) for p in sorted((root / "notebooks").glob("*.ipynb"))]
    return {_normalized(line) for line in secret_lines(root, files)}


def test_no_message_or_hint_below_the_last_level_holds_a_solution_line(catalogue):
    _, _, messages = catalogue
    texts = [_normalized(m) for m in messages]
    texts += [_normalized(text) for levels in HINTS.values() for text in levels]
    secrets = solution_lines()
    assert len(secrets) > 100  # the extraction found the regions
    leaks = sorted({line for line in secrets for text in texts if line in text})
    assert not leaks, leaks


def test_the_checks_package_source_holds_no_solution_line_but_the_last_hint_level():
    package = Path(checks.__file__).parent
    secrets = solution_lines()
    leaks = {}
    for path in sorted(package.glob("*.py")):
        if path.name != "solution_hints.py":
            text = _normalized(path.read_text(encoding="utf-8"))
            leaks.update({line: path.name for line in secrets if line in text})
    assert not leaks, leaks


if __name__ == "__main__":
    with contextlib.redirect_stdout(io.StringIO()):
        result, issues, _ = run_catalogue()
    print(format_table(result)[0])
    for f, k, w, r, m in issues:
        print(f"\n{f}[{k}] {w}: {r}\n{m}")
