"""The last hint level: each exercise's formula. Instructor's choice whether students get it.

The student edition leaves this file out unless the instructor asks for it; checks.hint
then says that level 3 is not part of the edition. Nothing else imports this module.
"""

SOLUTIONS = {
    "batchnorm_forward": (
        "train: mu = mean of x over axis 0; xmu = x - mu; var = mean of xmu**2 over axis 0;\n"
        "sqrtvar = sqrt(var + eps); ivar = 1 / sqrtvar; xhat = xmu * ivar; out = gamma * xhat + beta;\n"
        "running = momentum * running + (1 - momentum) * batch statistic (mean and var);\n"
        "test: the same with mu, var = running_mean, running_var."
    ),
    "batchnorm_backward": (
        "dbeta = sum(dout); dgammax = dout; dgamma = sum(xhat * dgammax); dxhat = gamma * dgammax;\n"
        "divar = sum(xmu * dxhat); dxmu1 = ivar * dxhat; dsqrtvar = -divar / sqrtvar**2;\n"
        "dvar = dsqrtvar / (2 sqrt(var + eps)); dsq = dvar / N in every row; dxmu2 = 2 xmu dsq;\n"
        "dx1 = dxmu1 + dxmu2; dmu = -sum(dxmu1 + dxmu2); dx2 = dmu / N in every row; dx = dx1 + dx2\n"
        "(sums over axis 0)."
    ),
    "batchnorm_backward_alt": (
        "dbeta = sum_i dout_i; dgamma = sum_i dout_i xhat_i;\n"
        "dx_i = gamma ivar (dout_i - (dbeta + xhat_i dgamma) / N)."
    ),
    "layernorm_forward": "batch norm's forward pass with every statistic over axis 1 (keepdims).",
    "layernorm_backward": (
        "dxhat = gamma dout; dx = ivar (dxhat - mean_row(dxhat) - xhat mean_row(dxhat xhat));\n"
        "dgamma = sum over rows of dout xhat; dbeta = sum over rows of dout."
    ),
    "spatial_batchnorm_forward": (
        "rows = x.transpose(0, 2, 3, 1).reshape(-1, C); batch norm on rows;\n"
        "out = result.reshape(N, H, W, C).transpose(0, 3, 1, 2)."
    ),
    "spatial_batchnorm_backward": "the same transpose/reshape of dout, batchnorm_backward_alt, and back.",
    "spatial_groupnorm_forward": (
        "xg = x.reshape(N, G, -1); statistics over axis 2 (keepdims); xhat reshaped to (N, C, H, W);\n"
        "out = gamma[:, None, None] * xhat + beta[:, None, None]."
    ),
    "spatial_groupnorm_backward": (
        "dxhat = (gamma[:, None, None] * dout).reshape(N, G, -1);\n"
        "dx = ivar (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) over axis 2, reshaped back;\n"
        "dgamma = sum of dout * xhat over axes (0, 2, 3); dbeta = sum of dout over (0, 2, 3)."
    ),
    "fc_net_forward": "affine_forward -> [set mode; batchnorm_forward | layernorm_forward] -> activation -> dropout_forward.",
    "fc_net_backward": "dropout_backward -> activation backward -> [batchnorm_backward_alt | layernorm_backward] -> affine_backward.",
    "sgd_momentum": "v = momentum * v - learning_rate * dw; next_w = w + v.",
    "adam": (
        "t += 1; m = beta1 m + (1 - beta1) dw; v = beta2 v + (1 - beta2) dw**2;\n"
        "mhat = m / (1 - beta1**t); vhat = v / (1 - beta2**t); next_w = w - lr mhat / (sqrt(vhat) + eps)."
    ),
    "undo": "gamma = sqrt(var + eps) (biased variance), beta = mu, both per feature.",
    "dx_from_dxhat": "dx = ivar / N * (N dxhat - sum_i dxhat_i - xhat sum_i dxhat_i xhat_i).",
    "keras_convnet": (
        "keras.Sequential([keras.Input((H, W, C))]), then per entry: Conv2D(filters, size, padding='same'),\n"
        "BatchNormalization(momentum=momentum, epsilon=eps), ReLU(), MaxPooling2D(size, strides=stride),\n"
        "Flatten(), Dense(units)."
    ),
    "fourth_order_gradient": (
        "(f(x - 2h) - 8 f(x - h) + 8 f(x + h) - f(x + 2h)) / 12h per entry, i.e. (4 D(h) - D(2h)) / 3."
    ),
    "running_mean_after": "r_k = (1 - momentum**k) * batch_mean: the shortfall starts at batch_mean and shrinks by momentum per step.",
    "staged_step": (
        "each step: local gradient of its node times the upstream gradient, summed over axis 0 for a (D,) value\n"
        "used in every row, and over both branches for a value read twice; the steps' lines are in the\n"
        "last level of checks.hint('batchnorm_backward')."
    ),
    "pick_h": "h_float64 = 1e-5 (about eps**(1/3) for eps = 2e-16); h_float32 = 1e-2 (near 5e-3 = (1e-7)**(1/3)).",
    "two_layer_loss": (
        "a = affine(X, W1, b1); z = batchnorm (train); r = relu(z); s = affine(r, W2, b2); loss, ds = softmax_loss(s, y);\n"
        "then affine_backward(ds), relu_backward, batchnorm_backward_alt, affine_backward, each fed the previous dx."
    ),
    "steps_to_reach": "reached = np.flatnonzero(accuracies >= target); int(eval_steps[reached[0]]) if reached.size else None.",
    "normalize_over": (
        "mu = x.mean(axis=axes, keepdims=True); var = mean((x - mu)**2) likewise; return (x - mu) / sqrt(var + eps);\n"
        "axes: batch norm (0, 2, 3), layer norm (1, 2, 3), instance norm (2, 3);\n"
        "group_norm: normalize_over(x.reshape(N, G, C // G, H, W), (2, 3, 4), eps).reshape(N, C, H, W)."
    ),
    "load_trained": (
        "gamma_e, beta_e, bn_param_e = torch_compat.bn_param_from_module(trained) (batch_size=None:\n"
        "eval() divides by the stored running_var as it is)."
    ),
    "torch_running_var": "N / (N - 1) * running_var + momentum**k (PyTorch's start value 1 keeps weight m**k).",
}
