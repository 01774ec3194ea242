"""The calls of CS231n's assignment-2 notebooks (BatchNormalization, FullyConnectedNets,
ConvolutionalNetworks), made on cs231n_bn with only the imports switched.

Each test makes the calls of one group of cells: the same functions, arguments, shapes and
parameter dicts, integer literals where the cells write them, and checks the quantities
the cells print against what their text tells a student to expect (means near 0 and
standard deviations near 1 after a norm, relative errors of gradient checks, a loss near
log(10) for an untrained classifier). The data are random arrays of CIFAR-10's shapes
(3 x 32 x 32 images, 10 classes); sizes of the training runs are cut down to keep the
suite fast. tests/test_cs231n_compat.py checks the optimizer and Solver cells' numbers.
"""

import numpy as np
import pytest

from cs231n_bn import (
    FullyConnectedNet,
    Solver,
    ThreeLayerConvNet,
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    conv_backward_naive,
    conv_forward_naive,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    layernorm_backward,
    layernorm_forward,
    max_pool_backward_naive,
    max_pool_forward_naive,
    rel_error,
    relu_backward,
    relu_forward,
    softmax_loss,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from cs231n_bn.fast_layers import conv_backward_fast, conv_forward_fast, max_pool_backward_fast, max_pool_forward_fast
from cs231n_bn.layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)

CIFAR_IMAGE = (3, 32, 32)
CLASSES = 10
# What the notebooks call a passing gradient check of a layer in float64.
LAYER_TOLERANCE = 1e-7
# A whole network's gradient check: its ReLUs' kinks and tiny gradients make the maximum
# relative error over a weight matrix reach 1e-4 on some draws; a wrong gradient gives ~1.
GRADIENT_CHECK_TOLERANCE = 1e-3


@pytest.fixture(autouse=True)
def seeded():
    # The cells seed NumPy's global generator (np.random.seed(231)) and draw with np.random.randn.
    np.random.seed(231)


def cifar_like(num_train, num_val):
    """A data dict with CS231n's keys and CIFAR-10's shapes, random images and labels."""
    return {
        "X_train": np.random.randn(num_train, *CIFAR_IMAGE),
        "y_train": np.random.randint(CLASSES, size=num_train),
        "X_val": np.random.randn(num_val, *CIFAR_IMAGE),
        "y_val": np.random.randint(CLASSES, size=num_val),
    }


def gradient_errors(forward, backward_grads, inputs, dout):
    """rel_error of each analytic gradient against eval_numerical_gradient_array, as the
    cells compute it: one lambda per input, each using its argument."""
    errors = []
    for index, grad in enumerate(backward_grads):
        def f(value, index=index):
            args = list(inputs)
            args[index] = value
            return forward(*args)
        errors.append(rel_error(eval_numerical_gradient_array(f, inputs[index].copy(), dout), grad))
    return errors


# ---------------------------------------------------------------------------------------
# BatchNormalization.ipynb
# ---------------------------------------------------------------------------------------


def two_layer_activations(N, D1, D2, D3):
    X = np.random.randn(N, D1)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    return np.maximum(0, X.dot(W1)).dot(W2)


def test_batchnorm_train_time_means_and_stds():
    a = two_layer_activations(200, 50, 60, 3)
    assert not np.allclose(a.mean(axis=0), 0, atol=1)  # the "before" the cell prints
    a_norm, _ = batchnorm_forward(a, np.ones(3), np.zeros(3), {"mode": "train"})
    np.testing.assert_allclose(a_norm.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(a_norm.std(axis=0), 1, atol=1e-4)
    gamma, beta = np.asarray([1.0, 2.0, 3.0]), np.asarray([11.0, 12.0, 13.0])
    a_norm, _ = batchnorm_forward(a, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(a_norm.mean(axis=0), beta, atol=1e-9)
    np.testing.assert_allclose(a_norm.std(axis=0), gamma, atol=1e-3)


def test_batchnorm_test_time_after_fifty_training_batches():
    N, D1, D2, D3 = 200, 50, 60, 3
    W1, W2 = np.random.randn(D1, D2), np.random.randn(D2, D3)
    bn_param = {"mode": "train"}
    gamma, beta = np.ones(D3), np.zeros(D3)
    for _ in range(50):
        a = np.maximum(0, np.random.randn(N, D1).dot(W1)).dot(W2)
        batchnorm_forward(a, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    a = np.maximum(0, np.random.randn(N, D1).dot(W1)).dot(W2)
    a_norm, _ = batchnorm_forward(a, gamma, beta, bn_param)
    # "means should be close to zero and stds close to one, but will be noisier than training-time"
    np.testing.assert_allclose(a_norm.mean(axis=0), 0, atol=0.3)
    np.testing.assert_allclose(a_norm.std(axis=0), 1, atol=0.3)


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_backward_gradient_check(backward):
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma, beta = np.random.randn(D), np.random.randn(D)
    dout = np.random.randn(N, D)
    bn_param = {"mode": "train"}
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = backward(dout, cache)
    errors = gradient_errors(lambda x, g, b: batchnorm_forward(x, g, b, bn_param)[0],
                             (dx, dgamma, dbeta), (x, gamma, beta), dout)
    # "You should expect to see relative errors between 1e-13 and 1e-8"
    assert max(errors) < 1e-7, errors


def test_batchnorm_backward_alt_agrees_with_the_staged_one():
    N, D = 100, 500
    x = 5 * np.random.randn(N, D) + 12
    gamma, beta = np.random.randn(D), np.random.randn(D)
    dout = np.random.randn(N, D)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx1, dgamma1, dbeta1 = batchnorm_backward(dout, cache)
    dx2, dgamma2, dbeta2 = batchnorm_backward_alt(dout, cache)
    # The cell prints the three differences; "dx difference" et al. near 1e-12.
    assert rel_error(dx1, dx2) < 1e-9 and rel_error(dgamma1, dgamma2) < 1e-12 and rel_error(dbeta1, dbeta2) == 0


# The biases before a batch norm do not change the loss: the gradient check says so in a warning.
@pytest.mark.filterwarnings("ignore:eval_numerical_gradient. f did not change")
@pytest.mark.parametrize("normalization", ["batchnorm", "layernorm"])
def test_fully_connected_net_with_a_norm_initial_loss_and_gradients(normalization):
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for reg in [0, 3.14]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2,
                                  dtype=np.float64, normalization=normalization)
        loss, grads = model.loss(X, y)
        if reg == 0:
            assert abs(loss - np.log(C)) < 0.5, loss  # the printed "Initial loss"
        for name in sorted(grads):
            f = lambda _: model.loss(X, y)[0]  # noqa: E731 (the cells' lambda, ignoring its argument)
            grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
            # The printed "%s relative error: %.2e". A maximum over entries: where a ReLU's kink
            # lies within h of an input, or a gradient is tiny, it reaches 1e-4 and more.
            assert rel_error(grad_num, grads[name]) < GRADIENT_CHECK_TOLERANCE, (reg, name)


@pytest.mark.slow  # trains networks for several epochs (seconds of CPU)
def test_batchnorm_for_deep_networks_trains_with_the_cells_solver_keywords():
    data = cifar_like(num_train=100, num_val=50)
    hidden_dims = [100, 100, 100, 100, 100]
    bn_model = FullyConnectedNet(hidden_dims, weight_scale=2e-2, normalization="batchnorm")
    model = FullyConnectedNet(hidden_dims, weight_scale=2e-2, normalization=None)
    for net in (bn_model, model):
        solver = Solver(net, data, num_epochs=2, batch_size=50, update_rule="adam",
                        optim_config={"learning_rate": 1e-3}, verbose=False, print_every=20)
        solver.train()
        # The cells plot these three histories.
        assert len(solver.loss_history) == 4 and len(solver.train_acc_history) == len(solver.val_acc_history) == 3
        assert np.isfinite(solver.loss_history).all()


def test_layernorm_forward_means_stds_and_gradient_check():
    a = two_layer_activations(4, 50, 60, 3)
    a_norm, _ = layernorm_forward(a, np.ones(3), np.zeros(3), {"mode": "train"})
    np.testing.assert_allclose(a_norm.mean(axis=1), 0, atol=1e-10)
    np.testing.assert_allclose(a_norm.std(axis=1), 1, atol=1e-3)
    gamma, beta = np.asarray([3.0, 3.0, 3.0]), np.asarray([5.0, 5.0, 5.0])
    a_norm, _ = layernorm_forward(a, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(a_norm.mean(axis=1), 5, atol=1e-9)
    np.testing.assert_allclose(a_norm.std(axis=1), 3, atol=1e-2)

    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma, beta = np.random.randn(D), np.random.randn(D)
    dout = np.random.randn(N, D)
    ln_param = {}
    _, cache = layernorm_forward(x, gamma, beta, ln_param)
    grads = layernorm_backward(dout, cache)
    errors = gradient_errors(lambda x, g, b: layernorm_forward(x, g, b, ln_param)[0], grads, (x, gamma, beta), dout)
    assert max(errors) < LAYER_TOLERANCE, errors


# ---------------------------------------------------------------------------------------
# FullyConnectedNets.ipynb
# ---------------------------------------------------------------------------------------


def test_affine_forward_on_linspace_inputs_and_affine_backward():
    num_inputs, input_shape, output_dim = 2, (4, 5, 6), 3
    x = np.linspace(-0.1, 0.5, num=num_inputs * np.prod(input_shape)).reshape(num_inputs, *input_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(input_shape) * output_dim).reshape(np.prod(input_shape), output_dim)
    b = np.linspace(-0.3, 0.1, num=output_dim)
    out, _ = affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(num_inputs, -1) @ w + b, rtol=1e-12)

    x, w, b, dout = np.random.randn(10, 2, 3), np.random.randn(6, 5), np.random.randn(5), np.random.randn(10, 5)
    _, cache = affine_forward(x, w, b)
    grads = affine_backward(dout, cache)
    assert [g.shape for g in grads] == [x.shape, w.shape, b.shape]
    assert max(gradient_errors(lambda x, w, b: affine_forward(x, w, b)[0], grads, (x, w, b), dout)) < LAYER_TOLERANCE


def test_relu_forward_and_backward():
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    x, dout = np.random.randn(10, 10), np.random.randn(10, 10)
    _, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    assert rel_error(eval_numerical_gradient_array(lambda x: relu_forward(x)[0], x, dout), dx) < 1e-9


def test_affine_relu_sandwich():
    x, w, b, dout = np.random.randn(2, 3, 4), np.random.randn(12, 10), np.random.randn(10), np.random.randn(2, 10)
    out, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)
    assert out.shape == (2, 10)
    errors = gradient_errors(lambda x, w, b: affine_relu_forward(x, w, b)[0], (dx, dw, db), (x, w, b), dout)
    assert max(errors) < LAYER_TOLERANCE, errors


def test_softmax_loss_of_small_scores_is_log_ten():
    num_classes, num_inputs = 10, 50
    x = 0.001 * np.random.randn(num_inputs, num_classes)
    y = np.random.randint(num_classes, size=num_inputs)
    dx_num = eval_numerical_gradient(lambda x: softmax_loss(x, y)[0], x, verbose=False)
    loss, dx = softmax_loss(x, y)
    assert abs(loss - 2.3) < 0.01 and rel_error(dx_num, dx) < 1e-7  # "loss should be close to 2.3"


def test_fully_connected_net_initial_loss_and_gradients():
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for reg in [0, 3.14]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2, dtype=np.float64)
        loss, grads = model.loss(X, y)
        if reg == 0:
            assert abs(loss - np.log(C)) < 0.1, loss
        for name in sorted(grads):
            f = lambda _: model.loss(X, y)[0]  # noqa: E731
            grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
            assert rel_error(grad_num, grads[name]) < GRADIENT_CHECK_TOLERANCE, (reg, name)


@pytest.mark.slow  # trains networks for several epochs (seconds of CPU)
def test_overfitting_fifty_images_with_the_cells_solver():
    data = cifar_like(num_train=50, num_val=20)
    # The cell asks for a weight scale and learning rate that overfit; these do on unit-scale images.
    model = FullyConnectedNet([100, 100], weight_scale=5e-2, dtype=np.float64)
    solver = Solver(model, data, print_every=10, num_epochs=20, batch_size=25, update_rule="sgd",
                    optim_config={"learning_rate": 1e-1}, verbose=False)
    solver.train()
    # "achieve 100% training accuracy within 20 epochs": on random images as on CIFAR's
    assert solver.train_acc_history[-1] == 1.0, solver.train_acc_history
    y_val_pred = np.argmax(model.loss(data["X_val"]), axis=1)  # the "Validation set accuracy" cell
    assert y_val_pred.shape == data["y_val"].shape


# ---------------------------------------------------------------------------------------
# ConvolutionalNetworks.ipynb
# ---------------------------------------------------------------------------------------


def test_conv_forward_naive_on_linspace_inputs():
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    assert out.shape == (2, 3, 2, 2)
    # The centre output of the first filter on the first image: a plain dot product.
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    assert np.isclose(out[0, 0, 0, 0], np.sum(padded[0, :, :4, :4] * w[0]) + b[0])


def test_image_filters_with_an_integer_bias():
    # The "image processing via convolutions" cell: two filters, the bias written as integers.
    img_size = CIFAR_IMAGE[1]
    x = np.random.rand(2, 3, img_size, img_size) * 255
    w = np.zeros((2, 3, 3, 3))
    w[0, 0, :, :] = [[0, 0, 0], [0, 0.3, 0], [0, 0, 0]]
    w[0, 1, :, :] = [[0, 0, 0], [0, 0.6, 0], [0, 0, 0]]
    w[0, 2, :, :] = [[0, 0, 0], [0, 0.1, 0], [0, 0, 0]]
    w[1, 2, :, :] = [[0, 0, 0], [-1, 2, -1], [0, 0, 0]]
    b = np.array([0, 128])
    out, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    assert out.dtype == x.dtype and out.shape == (2, 2, img_size, img_size)
    np.testing.assert_allclose(out[:, 0], 0.3 * x[:, 0] + 0.6 * x[:, 1] + 0.1 * x[:, 2], rtol=1e-12)
    assert np.isclose(out[0, 1, 5, 5], 128 + 2 * x[0, 2, 5, 5] - x[0, 2, 5, 4] - x[0, 2, 5, 6])


def test_conv_and_pool_backward_naive_gradient_checks():
    x, w, b = np.random.randn(4, 3, 5, 5), np.random.randn(2, 3, 3, 3), np.random.randn(2)
    dout = np.random.randn(4, 2, 5, 5)
    conv_param = {"stride": 1, "pad": 1}
    _, cache = conv_forward_naive(x, w, b, conv_param)
    grads = conv_backward_naive(dout, cache)
    errors = gradient_errors(lambda x, w, b: conv_forward_naive(x, w, b, conv_param)[0], grads, (x, w, b), dout)
    assert max(errors) < LAYER_TOLERANCE, errors  # "around e-8 or less"

    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
    pool_param = {"pool_width": 2, "pool_height": 2, "stride": 2}
    out, _ = max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(out, x[:, :, 1::2, 1::2])  # linspace grows, so each window's max is its last

    x, dout = np.random.randn(3, 2, 8, 8), np.random.randn(3, 2, 4, 4)
    _, cache = max_pool_forward_naive(x, pool_param)
    dx = max_pool_backward_naive(dout, cache)
    assert rel_error(eval_numerical_gradient_array(lambda x: max_pool_forward_naive(x, pool_param)[0], x, dout), dx) < 1e-9


def test_fast_layers_agree_with_the_naive_ones():
    # The timing cells' shapes, with fewer images (the cells time 100).
    x, w, b = np.random.randn(8, 3, 31, 31), np.random.randn(25, 3, 3, 3), np.random.randn(25)
    dout = np.random.randn(8, 25, 16, 16)
    conv_param = {"stride": 2, "pad": 1}
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    out_fast, cache_fast = conv_forward_fast(x, w, b, conv_param)
    assert rel_error(out_naive, out_fast) < 1e-10
    for naive, fast in zip(conv_backward_naive(dout, cache_naive), conv_backward_fast(dout, cache_fast)):
        assert rel_error(naive, fast) < 1e-10

    x, dout = np.random.randn(8, 3, 32, 32), np.random.randn(8, 3, 16, 16)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = max_pool_forward_fast(x, pool_param)
    assert rel_error(out_naive, out_fast) == 0
    assert rel_error(max_pool_backward_naive(dout, cache_naive), max_pool_backward_fast(dout, cache_fast)) == 0


def test_conv_sandwich_layers():
    conv_param = {"stride": 1, "pad": 1}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    x, w, b = np.random.randn(2, 3, 16, 16), np.random.randn(3, 3, 3, 3), np.random.randn(3)
    dout = np.random.randn(2, 3, 8, 8)
    out, cache = conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    grads = conv_relu_pool_backward(dout, cache)
    assert out.shape == dout.shape
    errors = gradient_errors(lambda x, w, b: conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0],
                             grads, (x, w, b), dout)
    # The notebook's "around e-8" is the numeric gradient's round-off, not a bound: on one
    # machine (an AMD EPYC whose BLAS runs another kernel) this correct layer's dx gave 1.04e-8.
    assert max(errors) < LAYER_TOLERANCE, errors

    x, w, b = np.random.randn(2, 3, 8, 8), np.random.randn(3, 3, 3, 3), np.random.randn(3)
    dout = np.random.randn(2, 3, 8, 8)
    out, cache = conv_relu_forward(x, w, b, conv_param)
    grads = conv_relu_backward(dout, cache)
    errors = gradient_errors(lambda x, w, b: conv_relu_forward(x, w, b, conv_param)[0], grads, (x, w, b), dout)
    assert max(errors) < LAYER_TOLERANCE, errors

    gamma, beta = np.random.randn(3), np.random.randn(3)
    bn_param = {"mode": "train"}
    out, cache = conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param)
    grads = conv_bn_relu_backward(dout, cache)
    assert [g.shape for g in grads] == [x.shape, w.shape, b.shape, gamma.shape, beta.shape]
    dx, dw, db, dgamma, dbeta = grads
    # The conv bias is undone by the batch norm after it: its gradient is 0 (round-off).
    assert np.abs(db).max() < 1e-10
    errors = gradient_errors(lambda x, w, g, be: conv_bn_relu_forward(x, w, b, g, be, conv_param, bn_param)[0],
                             (dx, dw, dgamma, dbeta), (x, w, gamma, beta), dout)
    assert max(errors) < 1e-6, errors


def test_three_layer_convnet_initial_loss_with_and_without_regularization():
    model = ThreeLayerConvNet()
    assert model.params["W1"].shape == (32, 3, 7, 7) and model.params["W2"].shape == (32 * 16 * 16, 100)
    assert model.params["W3"].shape == (100, 10) and model.params["W1"].dtype == np.float32
    N = 50
    X = np.random.randn(N, *CIFAR_IMAGE)
    y = np.random.randint(10, size=N)
    loss, _ = model.loss(X, y)
    assert abs(loss - np.log(10)) < 0.01, loss  # "Initial loss (no regularization)": about 2.3
    model.reg = 0.5
    loss_reg, _ = model.loss(X, y)
    assert loss_reg > loss  # "Initial loss (with regularization)": a little more


def test_three_layer_convnet_gradient_check():
    num_inputs, input_dim = 2, (3, 16, 16)
    X = np.random.randn(num_inputs, *input_dim)
    y = np.random.randint(10, size=num_inputs)
    model = ThreeLayerConvNet(num_filters=3, filter_size=3, input_dim=input_dim, hidden_dim=7, dtype=np.float64)
    loss, grads = model.loss(X, y)
    assert sorted(grads) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    for param_name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]  # noqa: E731
        param_grad_num = eval_numerical_gradient(f, model.params[param_name], verbose=False, h=1e-6)
        # "%s max relative error: %e"; the cell's text: "around 1e-2 or less"
        assert rel_error(param_grad_num, grads[param_name]) < 5e-2, param_name


@pytest.mark.slow  # trains networks for several epochs (seconds of CPU)
def test_three_layer_convnet_overfits_a_small_set_with_the_cells_solver():
    data = cifar_like(num_train=20, num_val=10)
    model = ThreeLayerConvNet(weight_scale=1e-2, num_filters=8, hidden_dim=50)
    solver = Solver(model, data, num_epochs=6, batch_size=10, update_rule="adam",
                    optim_config={"learning_rate": 1e-3}, verbose=False, print_every=1)
    solver.train()
    assert solver.train_acc_history[-1] > solver.train_acc_history[0], solver.train_acc_history
    assert len(solver.loss_history) == 12 and len(solver.val_acc_history) == 7


def test_spatial_batchnorm_train_time_with_integer_gamma_and_beta():
    N, C, H, W = 2, 3, 4, 5
    x = 4 * np.random.randn(N, C, H, W) + 10
    out, _ = spatial_batchnorm_forward(x, np.ones(C), np.zeros(C), {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)
    # The cell writes these as integer literals; the output keeps x's dtype.
    gamma, beta = np.asarray([3, 4, 5]), np.asarray([6, 7, 8])
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert out.dtype == x.dtype
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-9)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, atol=1e-3)


def test_spatial_batchnorm_test_time_and_gradient_check():
    N, C, H, W = 10, 4, 11, 12
    bn_param = {"mode": "train"}
    gamma, beta = np.ones(C), np.zeros(C)
    for _ in range(50):
        spatial_batchnorm_forward(2.3 * np.random.randn(N, C, H, W) + 13, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    a_norm, _ = spatial_batchnorm_forward(2.3 * np.random.randn(N, C, H, W) + 13, gamma, beta, bn_param)
    np.testing.assert_allclose(a_norm.mean(axis=(0, 2, 3)), 0, atol=0.1)
    np.testing.assert_allclose(a_norm.std(axis=(0, 2, 3)), 1, atol=0.1)

    N, C, H, W = 2, 3, 4, 5
    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma, beta, dout = np.random.randn(C), np.random.randn(C), np.random.randn(N, C, H, W)
    bn_param = {"mode": "train"}
    _, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    grads = spatial_batchnorm_backward(dout, cache)
    errors = gradient_errors(lambda x, g, b: spatial_batchnorm_forward(x, g, b, bn_param)[0], grads, (x, gamma, beta), dout)
    assert max(errors) < 1e-6, errors


def test_spatial_groupnorm_with_cs231n_layout_and_gradient_check():
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 4 * np.random.randn(N, C, H, W) + 10
    gamma, beta = np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1))
    out, _ = spatial_groupnorm_forward(x, gamma, beta, G, {"mode": "train"})
    out_g = out.reshape((N * G, -1))
    np.testing.assert_allclose(out_g.mean(axis=1), 0, atol=1e-10)
    np.testing.assert_allclose(out_g.std(axis=1), 1, atol=1e-4)

    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma, beta = np.random.randn(1, C, 1, 1), np.random.randn(1, C, 1, 1)
    dout = np.random.randn(N, C, H, W)
    gn_param = {}
    _, cache = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
    grads = spatial_groupnorm_backward(dout, cache)
    assert [g.shape for g in grads] == [x.shape, gamma.shape, beta.shape]
    errors = gradient_errors(lambda x, g, b: spatial_groupnorm_forward(x, g, b, G, gn_param)[0],
                             grads, (x, gamma, beta), dout)
    assert max(errors) < 1e-6, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layer", ["batchnorm", "layernorm", "spatial_batchnorm", "spatial_groupnorm", "conv"])
def test_integer_parameters_act_as_their_values_in_the_inputs_dtype(layer, dtype):
    x4 = (3 * np.random.randn(4, 6, 3, 3) + 2).astype(dtype)
    x2 = x4.reshape(4, -1)[:, :6]
    gamma, beta = np.arange(1, 7), np.arange(-3, 3)
    calls = {
        "batchnorm": lambda g, b: batchnorm_forward(x2, g, b, {"mode": "train"}),
        "layernorm": lambda g, b: layernorm_forward(x2, g, b, {}),
        "spatial_batchnorm": lambda g, b: spatial_batchnorm_forward(x4, g, b, {"mode": "train"}),
        "spatial_groupnorm": lambda g, b: spatial_groupnorm_forward(x4, g, b, 2, {}),
        "conv": lambda _, b: conv_forward_fast(x4, np.ones((6, 6, 1, 1), dtype=dtype), b, {"stride": 1, "pad": 0}),
    }
    out, cache = calls[layer](gamma, beta)
    expected, _ = calls[layer](gamma.astype(dtype), beta.astype(dtype))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    if layer != "conv":
        # the backward pass gets floats, so dgamma is float too (spatial batch norm nests its cache)
        assert getattr(cache, "bn", cache).gamma.dtype == dtype
