import numpy as np
import pytest

from cs231n_bn import (
    affine_backward,
    affine_forward,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
    relu_backward,
    relu_forward,
    softmax_loss,
)


def test_affine_backward_matches_numeric_gradient(rng):
    x, w, b = rng.normal(size=(4, 2, 3)), rng.normal(size=(6, 5)), rng.normal(size=5)
    dout = rng.normal(size=(4, 5))
    out, cache = affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(4, 6) @ w + b)
    dx, dw, db = affine_backward(dout, cache)
    assert rel_error(dx, eval_numerical_gradient_array(lambda x_: affine_forward(x_, w, b)[0], x, dout)) < 1e-8
    assert rel_error(dw, eval_numerical_gradient_array(lambda w_: affine_forward(x, w_, b)[0], w, dout)) < 1e-8
    assert rel_error(db, eval_numerical_gradient_array(lambda b_: affine_forward(x, w, b_)[0], b, dout)) < 1e-8


def test_affine_rejects_mismatched_weights(rng):
    with pytest.raises(ValueError, match=r"^affine_forward: w must have shape \(6, M\).*got \(5, 2\)"):
        affine_forward(rng.normal(size=(4, 6)), rng.normal(size=(5, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"^affine_forward: b must have shape \(2,\).*got \(3,\)"):
        affine_forward(rng.normal(size=(4, 6)), rng.normal(size=(6, 2)), np.zeros(3))


def test_relu_backward_matches_numeric_gradient(rng):
    # keep entries away from the kink at 0, where the numeric gradient is meaningless
    x = rng.choice([-1, 1], size=(5, 4)) * rng.uniform(0.1, 2, size=(5, 4))
    dout = rng.normal(size=(5, 4))
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    dx = relu_backward(dout, cache)
    assert rel_error(dx, eval_numerical_gradient_array(lambda x_: relu_forward(x_)[0], x, dout)) < 1e-8


def test_softmax_loss_value_and_gradient(rng):
    N, C = 6, 4
    x, y = rng.normal(size=(N, C)), rng.integers(0, C, N)
    loss, dx = softmax_loss(x, y)
    probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(probs[np.arange(N), y])))
    numeric = eval_numerical_gradient(lambda x_: softmax_loss(x_, y)[0], x, verbose=False)
    assert rel_error(dx, numeric) < 1e-8
    # uniform scores give log(C): the sanity check CS231n students know
    assert softmax_loss(np.zeros((N, C)), y)[0] == pytest.approx(np.log(C))


def test_softmax_loss_is_stable_for_huge_scores():
    loss, dx = softmax_loss(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0]))
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert loss == pytest.approx(500.0)


def test_softmax_loss_rejects_bad_labels(rng):
    x = rng.normal(size=(3, 4))
    with pytest.raises(ValueError, match=r"labels y must lie in \[0, 3\]; got values from 0 to 4"):
        softmax_loss(x, np.array([0, 1, 4]))
    with pytest.raises(TypeError, match=r"^softmax_loss: y must be an integer numpy array"):
        softmax_loss(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"^softmax_loss: y must have shape \(3,\)"):
        softmax_loss(x, np.array([0, 1]))
