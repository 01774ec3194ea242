"""Record the reference values the student edition's checks compare with (instructor-only).

    python -m classroom.edition.reference_values          # rewrites cs231n_bn/checks/reference_values.npz
    python -m classroom.edition.reference_values --check  # exit 1 if the file is out of date

Every check in CHECKS, and every notebook exercise's check, runs against the instructor's
code with a recording provider: each value a check asks for is computed by the
instructor's code (through classroom.grader.references, the grader's own provider) and kept with a digest of its inputs. A check asks
for its values before it calls the code under test, so a run with the right code asks for
every value any run on the same inputs can ask for. Re-record after changing a check's
inputs or the instructor's solutions.
"""

import argparse
import contextlib
import io
import sys

import numpy as np

from classroom.grader.notebook_reference import run_notebook_checks
from classroom.grader.references import SOURCE, instructor_provider
from cs231n_bn import checks
from cs231n_bn.checks import reference

# The checks whose reference values the edition ships (each run with its defaults: the
# instructor's package): the normalizations', then the training exercises'.
NORM_CHECKS = (
    checks.check_batchnorm_forward,
    checks.check_batchnorm_backward,
    checks.check_batchnorm_backward_alt,
    checks.check_layernorm_forward,
    checks.check_layernorm_backward,
    checks.check_spatial_batchnorm_forward,
    checks.check_spatial_batchnorm_backward,
    checks.check_spatial_groupnorm_forward,
    checks.check_spatial_groupnorm_backward,
)
CHECKS = NORM_CHECKS + (checks.check_sgd_momentum, checks.check_adam, checks.check_fc_net_forward,
                        checks.check_fc_net_backward)


def run_norm_checks():
    """Every check of CHECKS, with its defaults (the instructor's package)."""
    for check in CHECKS:
        check()


def run_all_checks():
    """Every check whose reference values the edition ships: the package exercises' and the
    notebook exercises', each on its public inputs with the instructor's answers."""
    run_norm_checks()
    run_notebook_checks(SOURCE)


def record(source=None, runs=(run_all_checks,)):
    """{entry name: array} of every value the runs' checks ask for, computed by `source`.

    source: a provider computing values from the instructor's code (default: the
    instructor's provider of every exercise); runs: callables that run checks.
    """
    recorder = reference.Recorder(source or instructor_provider())
    with reference.provider(recorder), contextlib.redirect_stdout(io.StringIO()):
        for run in runs:
            run()
    return recorder.values


def same_values(a, b, rtol=1e-12):
    """Do two recordings hold the same entries (the same inputs, by digest) with equal arrays?

    Values are compared to rtol of the largest entry recorded for the same call (one
    function on one set of inputs, one digest): another CPU or BLAS kernel may round the
    instructor's code differently in the last bits, which changes no verdict. A value that
    is round-off by nature, the gradient of a bias that batch norm cancels (about 1e-17,
    and on another kernel another 1e-17), is thus held to the scale of its call's other
    values, as the checks hold it, not to its own.
    """
    if a.keys() != b.keys():
        return False
    scale = {}
    for k, v in b.items():
        call = reference.call_of(k)
        scale[call] = max(scale.get(call, 1e-300), float(np.max(np.abs(v[np.isfinite(v)]), initial=0)))
    return all(
        a[k].shape == b[k].shape
        # NaN stands for "no answer" (steps_to_reach of a run that never gets there)
        and np.allclose(a[k], b[k], rtol=0, equal_nan=True, atol=rtol * scale[reference.call_of(k)])
        for k in a)


def stored_values(path=reference.DATA_FILE):
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m classroom.edition.reference_values",
                                     description="Record the checks' reference values from the instructor's code.")
    parser.add_argument("--check", action="store_true", help="only compare with the stored file")
    args = parser.parse_args(argv)
    values = record()
    if args.check:
        if not reference.DATA_FILE.exists() or not same_values(values, stored_values()):
            print(f"{reference.DATA_FILE} is out of date: run python -m classroom.edition.reference_values")
            return 1
        print(f"{reference.DATA_FILE.name}: {len(values)} values, up to date")
        return 0
    recorder = reference.Recorder(None)
    recorder.values = values
    recorder.save(reference.DATA_FILE)
    print(f"wrote {len(values)} values to {reference.DATA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
