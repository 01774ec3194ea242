"""Reference values: the data file, its digests, and swapping the provider (the grader's way)."""

import numpy as np
import pytest

from cs231n_bn.checks import reference


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, 3)), {"mode": "train", "eps": 1e-3, "running_mean": rng.normal(size=3)}


def _source(key, function_name, x, param):
    # a stand-in for the instructor's implementation, different for each key
    return x.sum(axis=0) if key.endswith("/a") else x * param["eps"]


def test_the_digest_depends_on_every_byte_and_name_but_not_on_dict_order_or_identity():
    x, param = _inputs()
    base = reference.digest("f", x, param)
    assert reference.digest("f", x.copy(), dict(reversed(list(param.items())))) == base
    nudged = x.copy()
    nudged[1, 2] = np.nextafter(nudged[1, 2], np.inf)
    assert reference.digest("f", nudged, param) != base
    assert reference.digest("g", x, param) != base
    assert reference.digest("f", x.astype(np.float32), param) != base
    assert reference.digest("f", x, {**param, "eps": 1e-5}) != base
    assert reference.digest("f", x, param, 2) != reference.digest("f", x, param, 2.0)


def test_the_digest_refuses_objects_it_cannot_describe_by_value():
    with pytest.raises(TypeError, match="reference.digest: inputs must be arrays"):
        reference.digest("f", object())


def test_a_recording_read_back_gives_the_values_for_the_recorded_inputs_only(tmp_path):
    x, param = _inputs()
    recorder = reference.Recorder(_source)
    with reference.provider(recorder), reference.checking("this test"):
        a = reference.value("f/a", "f", x, param)
        b = reference.value("f/b", "f", x, param)
    path = tmp_path / "values.npz"
    recorder.save(path)
    with np.load(path, allow_pickle=False) as data:  # arrays only
        assert len(data.files) == 2
    with reference.provider(reference._Recorded(path)), reference.checking("this test"):
        assert np.array_equal(reference.value("f/a", "f", x, param), a)
        assert np.array_equal(reference.value("f/b", "f", x, param), b)
        other_x, _ = _inputs(1)
        with pytest.raises(reference.ReferenceUnavailable, match="recorded for other inputs"):
            reference.value("f/a", "f", other_x, param)
        with pytest.raises(reference.ReferenceUnavailable, match="no reference value 'f/c'"):
            reference.value("f/c", "f", x, param)


def test_a_missing_data_file_says_how_to_record_it(tmp_path):
    with reference.provider(reference._Recorded(tmp_path / "none.npz")), reference.checking("this test"):
        with pytest.raises(reference.ReferenceUnavailable, match=reference.RECORD_COMMAND):
            reference.value("f/a", "f", *_inputs())


def test_a_provider_is_active_only_inside_its_block_and_the_caller_cannot_change_its_values():
    calls = []

    def source(key, function_name, *inputs):
        calls.append(key)
        return np.arange(3.0)

    with reference.provider(source), reference.checking("this test"):
        got = reference.value("f/a", "f", 1.0)
        got[0] = 99.0
        assert reference.value("f/a", "f", 1.0)[0] == 0.0
    assert calls == ["f/a", "f/a"]
    assert reference._providers[-1] is not source


def test_a_provider_must_be_callable():
    with pytest.raises(TypeError, match="reference.provider: fn must be callable"):
        with reference.provider(3):
            pass


def test_the_shipped_reference_values_are_a_fresh_recording_of_the_instructors_code():
    from classroom.edition.reference_values import record, same_values, stored_values

    stored = stored_values()
    assert same_values(record(), stored), "re-record with: python -m classroom.edition.reference_values"
    assert len(stored) > 100


def test_a_recording_is_the_same_to_the_last_bits_of_its_calls_largest_value():
    from classroom.edition.reference_values import same_values

    gradients = {"loss/dW|call": np.array([0.5, -0.25]), "loss/db|call": np.array([3e-17, -1e-17]),
                 "other/out|elsewhere": np.array([2e-3])}
    # another kernel's round-off: in the last bits of dW, and all of db, whose true value is 0
    rounded = {**gradients, "loss/dW|call": gradients["loss/dW|call"] * (1 + 1e-15),
               "loss/db|call": np.array([-2e-17, 4e-17])}
    assert same_values(rounded, gradients)
    # a changed answer is a change, however small its call's values
    for name, changed in (("loss/dW|call", [0.5, -0.2500001]), ("loss/db|call", [1e-9, 0.0]),
                          ("other/out|elsewhere", [2e-3 * (1 + 1e-9)])):
        assert not same_values({**gradients, name: np.array(changed)}, gradients), name
    assert not same_values({**gradients, "new/out|call": np.array([1.0])}, gradients)


def test_exercise_code_a_check_runs_is_given_no_reference_value():
    from cs231n_bn import checks

    def looked_up(x, gamma, beta, bn_param):
        # a stub that asks for the answer its check is about to compare with
        out = reference.value("batchnorm_forward/out", "batchnorm_forward", x, gamma, beta, bn_param)
        return out, None

    with pytest.raises(checks.CheckFailed, match="reference values are the checks' own"):
        checks.check_batchnorm_forward(looked_up)
    # nor to code outside a check, such as a notebook cell asking for its own answer
    with pytest.raises(reference.ReferenceUnavailable, match="given to a check while it runs"):
        reference.value("batchnorm_forward/out", "batchnorm_forward", np.zeros((2, 2)))
