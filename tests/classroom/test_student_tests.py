"""The student edition's `pytest`, as a student meets it: a fresh edition with its own
environment (made by the README's command), then one exercise done, then one mistake.

Instructor-only (the release leaves tests/classroom/ out). Slow: it installs the edition's
requirements into a new virtual environment.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from classroom.edition.regions import SOLUTION, find_regions
from classroom.edition.release import release

SOURCE = Path(__file__).resolve().parents[2]
# The longest failure report a student should have to read for one mistake.
MAX_FAILURE_LINES = 15


def solve(edition, module, function, mistake=None):
    """Put the instructor's solution of `function` in place of its stub in the edition, with
    `mistake` (old line, new line) applied to it if given."""
    lines = (SOURCE / "cs231n_bn" / module).read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(f"def {function}("))
    region = next(r for r in find_regions(lines, SOLUTION, module, strict=False) if r.begin > start)
    body = lines[region.begin + 1:region.end]
    if mistake is not None:
        old, new = mistake
        assert body.count(old) == 1, old
        body[body.index(old)] = new
    target = edition / "cs231n_bn" / module
    theirs = target.read_text(encoding="utf-8").split("\n")
    stub = next(i for i, line in enumerate(theirs) if f"# YOUR CODE HERE: implement {function}," in line)
    theirs[stub:stub + 2] = body
    target.write_text("\n".join(theirs), encoding="utf-8")


def student_pytest(edition):
    """`pytest` run in the edition with its own environment: (return code, output)."""
    done = subprocess.run([str(edition / ".venv" / "bin" / "python"), "-m", "pytest"], cwd=edition,
                          capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


def counts(output):
    """{"passed": n, "skipped": n, "failed": n} from pytest's last line."""
    last = output.strip().splitlines()[-1]
    return {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|skipped|failed|error)", last)}


@pytest.mark.slow  # installs the edition's requirements into a fresh environment
def test_the_student_editions_pytest_skips_passes_and_fails_as_its_readme_says(tmp_path):
    edition = tmp_path / "student"
    release(SOURCE, edition)
    subprocess.run([sys.executable, "-m", "venv", ".venv"], cwd=edition, check=True, timeout=300)
    subprocess.run([str(edition / ".venv" / "bin" / "pip"), "install", "-q", "-r", "requirements.txt"],
                   cwd=edition, check=True, capture_output=True, timeout=1800)

    # Fresh: everything passes or is skipped, one line per exercise naming it.
    code, output = student_pytest(edition)
    fresh = counts(output)
    assert code == 0 and "failed" not in fresh and fresh["skipped"] >= 10, output
    skipped = [line for line in output.splitlines() if line.startswith("SKIPPED [1]")]
    assert len(skipped) == fresh["skipped"], output
    assert any("batchnorm_forward is not implemented yet" in line for line in skipped), output

    # One exercise done: it passes, the rest are still skipped.
    module = edition / "cs231n_bn" / "batchnorm.py"
    stubbed = module.read_text(encoding="utf-8")
    solve(edition, "batchnorm.py", "batchnorm_forward")
    code, output = student_pytest(edition)
    done = counts(output)
    assert code == 0 and done["passed"] == fresh["passed"] + 1 and "failed" not in done, output

    # One mistake (a sign error: beta subtracted): one short failure naming the exercise.
    module.write_text(stubbed, encoding="utf-8")
    solve(edition, "batchnorm.py", "batchnorm_forward",
          mistake=("        out[rows, cols] += beta[cols]", "        out[rows, cols] -= beta[cols]"))
    code, output = student_pytest(edition)
    wrong = counts(output)
    assert code == 1 and wrong.get("failed") == 1, output
    report = output.split(" FAILURES ")[1].split(" short test summary info ")[0].strip("= \n").splitlines()
    assert len(report) <= MAX_FAILURE_LINES, output
    assert "batchnorm_forward" in report[0] and "Traceback" not in output and "Falsifying" not in output
    assert "beta" in "\n".join(report[1:]), output
