"""The checks' machinery: one PASS line, concise failures, exceptions named as they are, hints.

What each diagnosis says about each planted mistake is tested in test_checks_catalogue.py
(over the mistakes of test_checks_mistakes_*.py). This file holds near-solutions too, so
the student edition leaves it out (see classroom.edition.release).
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from classroom.grader import references
from cs231n_bn import checks
from cs231n_bn.batchnorm import batchnorm_forward
from cs231n_bn.checks import reference
from cs231n_bn.checks.display import last_pass, student_line
from cs231n_bn.claims import WIDTH
from cs231n_bn.checks.hints import HINTS

ROOT = Path(__file__).resolve().parents[1]

ALL_CHECKS = [
    checks.check_fc_net_forward,
    checks.check_fc_net_backward,
    checks.check_sgd_momentum,
    checks.check_adam,
    checks.check_batchnorm_forward,
    checks.check_batchnorm_backward,
    checks.check_batchnorm_backward_alt,
    checks.check_layernorm_forward,
    checks.check_layernorm_backward,
    checks.check_spatial_batchnorm_forward,
    checks.check_spatial_batchnorm_backward,
    checks.check_spatial_groupnorm_forward,
    checks.check_spatial_groupnorm_backward,
]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_the_package_passes_with_one_pass_line(check, capsys):
    check()
    lines = capsys.readouterr().out.splitlines()
    # one message, broken between words into lines a 900 px column shows whole
    assert lines[0].startswith("PASS") and all(line.startswith("    ") for line in lines[1:]), lines
    assert all(len(line) <= WIDTH for line in lines), lines
    assert last_pass("\n".join(lines)) == " ".join(line.strip() for line in lines)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_every_check_takes_the_implementation_first_and_backward_checks_take_forward(check):
    import inspect

    parameters = list(inspect.signature(check).parameters.values())
    assert parameters[0].default is None
    if "backward" in check.__name__ and "fc_net" not in check.__name__:
        assert [p.name for p in parameters[1:]] == ["forward"]
    else:
        assert len(parameters) == 1


def test_check_failed_is_an_assertion_error_whose_str_is_the_message_and_the_hint_offer():
    err = checks.CheckFailed("batchnorm_forward: eps is missing", "batchnorm_forward", "eps missing")
    assert isinstance(err, AssertionError)
    assert str(err) == "batchnorm_forward: eps is missing\nA hint is available: checks.hint('batchnorm_forward')"
    assert err.message == "batchnorm_forward: eps is missing" and err.topic == "eps missing"


def test_a_failure_renders_in_ipython_as_a_few_lines_without_the_checks_traceback():
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_batchnorm_forward(lambda x, gamma, beta, bn_param: (x.copy(), None))
    lines = info.value._render_traceback_()
    assert lines[0].startswith("CheckFailed: batchnorm_forward")
    assert 2 <= len(lines) <= 6 and not any("File " in line for line in lines), lines


def test_a_stub_passes_through_as_not_implemented_yet_with_the_line_to_replace():
    def stub(x, gamma, beta, bn_param):
        raise NotImplementedError("batchnorm_forward (notebook 1, Exercise 1)")

    with pytest.raises(NotImplementedError) as info:
        checks.check_batchnorm_forward(stub)
    assert type(info.value) is NotImplementedError  # the type a grader tells "not started" by
    lines = info.value._render_traceback_()
    assert lines[0] == "Not implemented yet: batchnorm_forward (notebook 1, Exercise 1)"
    assert "test_checks.py" in lines[1] and "raise NotImplementedError" in lines[1]


def test_the_release_stub_class_renders_the_same_way():
    def stub(dout, cache):
        raise checks.NotImplementedYet("batchnorm_backward (notebook 2, section 4)")

    with pytest.raises(checks.NotImplementedYet) as info:
        checks.check_batchnorm_backward(stub)
    assert info.value._render_traceback_()[0] == "Not implemented yet: batchnorm_backward (notebook 2, section 4)"


def _raising(exc):
    def forward(x, gamma, beta, bn_param):
        raise exc

    return forward


@pytest.mark.parametrize("exc, words, not_words", [
    (KeyError("m"), ["KeyError", "read the key 'm'"], ["keepdims", "keeps it"]),
    (AttributeError("'tuple' object has no attribute 'xhat'"), ["AttributeError", "what type the object"], ["keeps it"]),
    (ValueError("operands could not be broadcast together with shapes (8,5) (8,)"), ["ValueError", "keeps it"], []),
    (TypeError("'NoneType' object is not subscriptable"), ["TypeError", "is None"], ["keeps it"]),
    (IndexError("index 5 is out of bounds"), ["IndexError", "out of range"], ["keeps it"]),
    (ZeroDivisionError("division by zero"), ["ZeroDivisionError", "division by zero"], ["keeps it"]),
])
def test_an_exception_of_the_implementation_gets_a_hint_that_matches_its_kind(exc, words, not_words):
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_batchnorm_forward(_raising(exc))
    message = str(info.value)
    for word in words:
        assert word in message, message
    for word in not_words:
        assert word not in message, message
    # the student's line stays visible
    assert "test_checks.py" in message and "raise exc" in message


def test_a_refusal_by_the_layers_validation_points_at_the_line_that_called_the_layer():
    def forward(x, gamma, beta, bn_param):
        return batchnorm_forward(x, gamma[:-1], beta, bn_param)  # the wrong gamma

    with pytest.raises(checks.CheckFailed) as info:
        checks.check_batchnorm_forward(forward)
    assert "gamma[:-1]" in str(info.value)


def test_student_line_is_none_without_a_frame_outside_the_machinery():
    assert student_line(None) is None


def test_a_backward_check_refuses_to_judge_on_a_broken_forward():
    def forward(x, gamma, beta, bn_param):
        out, cache = batchnorm_forward(x, gamma, beta, bn_param)
        return out + 1.0, cache

    with pytest.raises(checks.CheckFailed, match="cannot be checked until batchnorm_forward passes"):
        checks.check_batchnorm_backward(forward=forward)


@pytest.mark.parametrize("exercise", sorted(HINTS))
def test_hints_come_in_levels_and_say_how_to_get_the_next(exercise, capsys):
    checks.hint(exercise)
    first = capsys.readouterr().out
    assert first.startswith(f"Hint 1 of 3 for {exercise}: ") and f"checks.hint('{exercise}', 2)" in first
    checks.hint(exercise, 2)
    assert capsys.readouterr().out.startswith(f"Hint 2 of 3 for {exercise}: ")
    checks.hint(exercise, 3)
    assert capsys.readouterr().out.startswith(f"Hint 3 of 3 for {exercise} (the formula):")


@pytest.mark.parametrize("exercise", sorted(HINTS))
def test_without_solution_hints_the_last_level_points_to_where_the_course_derives_it(exercise, monkeypatch,
                                                                                    capsys):
    from cs231n_bn.checks.hints import DERIVED_IN

    monkeypatch.setitem(sys.modules, "cs231n_bn.checks.solution_hints", None)  # as if the file were gone
    checks.hint(exercise, 3)
    text = capsys.readouterr().out
    assert "not part of this edition" in text and DERIVED_IN[exercise] in text
    assert DERIVED_IN[exercise].startswith("notebook ")


def test_every_failure_offers_the_hint_of_an_exercise_that_has_hints():
    from cs231n_bn.checks.solution_hints import SOLUTIONS

    assert set(SOLUTIONS) == set(HINTS)
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_adam(lambda w, dw, config=None: (w.copy(), {}))
    assert info.value.exercise in HINTS


def test_a_bad_hint_request_names_the_options():
    with pytest.raises(ValueError, match="batchnorm_forward"):
        checks.hint("batchnorm")
    with pytest.raises(ValueError, match="level must be 1, 2 or 3"):
        checks.hint("adam", 4)


TRUSTED_LOAD = """
import importlib.util, sys
import cs231n_bn
trusted = sys.argv[1]
for name in [n for n in sys.modules if n == "cs231n_bn.checks" or n.startswith("cs231n_bn.checks.")]:
    del sys.modules[name]
spec = importlib.util.spec_from_file_location(
    "cs231n_bn.checks", trusted + "/__init__.py", submodule_search_locations=[trusted])
module = importlib.util.module_from_spec(spec)
sys.modules["cs231n_bn.checks"] = cs231n_bn.checks = module
spec.loader.exec_module(module)
from cs231n_bn.checks import core
print(module.__file__.startswith(trusted), core.__file__.startswith(trusted), module.CheckFailed.__module__)
module.check_sgd_momentum()
"""


def test_the_package_loads_whole_from_another_directory_as_the_grader_needs(tmp_path):
    # The grader runs the instructor's checks against a student's copy: the package, every
    # module of it, must come from the instructor's directory. This is the recipe.
    import shutil
    import subprocess
    from pathlib import Path

    trusted = tmp_path / "trusted_checks"
    shutil.copytree(Path(checks.__file__).parent, trusted, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-c", TRUSTED_LOAD, str(trusted)], capture_output=True, text=True,
                            check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "True True cs231n_bn.checks.display" and lines[1].startswith("PASS sgd_momentum")


def test_the_undo_check_names_the_usual_mistakes():
    rng = np.random.default_rng(0)
    h = rng.normal(3.0, 2.0, size=(16, 4))
    eps = 1e-5
    mu, var = h.mean(axis=0), h.var(axis=0)
    checks.check_undo(np.sqrt(var + eps), mu, h, eps)
    with pytest.raises(checks.CheckFailed, match="spread per feature"):
        checks.check_undo(np.sqrt(h.var(axis=0, ddof=1) + eps), mu, h, eps)  # the unbiased variance
    with pytest.raises(checks.CheckFailed, match="spread per feature"):
        checks.check_undo(np.sqrt(var), mu, h, eps)  # eps left out
    with pytest.raises(checks.CheckFailed, match="swapped"):
        checks.check_undo(mu, np.sqrt(var + eps), h, eps)
    with pytest.raises(checks.CheckFailed, match="put the mean back"):
        checks.check_undo(np.sqrt(var + eps), np.zeros(4), h, eps)


def test_the_staged_step_check_says_pass_or_names_the_factor(bn_inputs, capsys):
    from cs231n_bn import graph

    x, gamma, beta, dout = bn_inputs
    eps = 1e-5
    with reference.provider(references.instructor_provider(ROOT)), reference.checking("this test"):
        right = reference.value("staged_backward/dvar", "staged_backward", x, gamma, beta, dout, eps)
        checks.check_step("dvar", right, x, gamma, beta, dout, eps)
        assert capsys.readouterr().out.startswith("PASS dvar")
        with pytest.raises(checks.CheckFailed, match="1/2 is missing"):
            checks.check_step("dvar", 2 * right, x, gamma, beta, dout, eps)
        # the numeric estimate is close, but not the derived value
        with pytest.raises(checks.CheckFailed, match="numeric"):
            checks.check_step("dvar", graph.numeric_gradient("dvar", x, gamma, beta, dout, eps), x, gamma, beta,
                              dout, eps)


