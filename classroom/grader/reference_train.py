"""Reference values of the training checks (update rules, network), from the instructor's package.

Instructor-only: these functions call the solutions. Their `computations()` join the
others in classroom.grader.references, the one provider of the grader and of the edition's
recording tool, so that `reference.value("adam/next_w", "adam", w, dw, config)` in
cs231n_bn.checks.optimizers is answered by the instructor's adam on the (secret) inputs.
"""

import copy
import importlib

import numpy as np


def _module(name):
    return importlib.import_module(f"cs231n_bn.{name}")


def _fresh(config):
    """A deep copy of a config (None stays None): the instructor's rule writes into its dict."""
    return copy.deepcopy(config)


def _sgd_momentum(w, dw, config):
    next_w, state = _module("optim").sgd_momentum(w.copy(), dw.copy(), _fresh(config))
    return {"next_w": next_w, "velocity": state["velocity"]}


def _adam(w, dw, config):
    optim = _module("optim")
    next_w, state = optim.adam(w.copy(), dw.copy(), _fresh(config))
    # Kingma & Ba's "efficient" ordering: the corrections folded into the step size and
    # epsilon added to the uncorrected root; the same rule with a rescaled epsilon, which
    # the check accepts as well.
    t, m, v = state["t"], state["m"], state["v"]
    size = state["learning_rate"] * np.sqrt(1 - state["beta2"] ** t) / (1 - state["beta1"] ** t)
    folded = w - size * m / (np.sqrt(v) + state["epsilon"])
    return {"next_w": next_w, "next_w_folded": folded, "m": m, "v": v, "t": np.array(float(t))}


def _fc_net_layers(params, X, normalization, activation, keep=1.0, seed=None):
    """Of the instructor's network with these parameters: in test mode, with running
    statistics from one training pass on X (momentum 0), each hidden layer's affine output,
    activation input z, its normalized xhat and the variance of each normalization group,
    and the scores; with dropout (keep < 1), the training-mode scores under mask seed `seed`."""
    fc_net = _module("fc_net")
    hidden = [params[f"W{i}"].shape[1] for i in range(1, len(params)) if f"W{i + 1}" in params]
    net = fc_net.FullyConnectedNet(hidden, input_dim=X.shape[1], num_classes=params[f"W{len(hidden) + 1}"].shape[1],
                                   normalization=normalization, activation=activation, dropout_keep_ratio=keep,
                                   dtype=np.float64)
    net.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    if keep != 1:
        net.dropout_param["seed"] = seed
        return {"train_scores": net._forward(X, "train")[0]}
    if normalization == "batchnorm":
        for bn_param in net.bn_params:
            bn_param["momentum"] = 0.0
    net._forward(X, "train")
    values = {"scores": net.loss(X)}
    h = X
    for i, z in enumerate(net.activation_inputs(X), start=1):
        a = h @ net.params[f"W{i}"] + net.params[f"b{i}"]
        values[f"affine{i}"], values[f"z{i}"] = a, z
        if normalization is not None:
            values[f"xhat{i}"] = (z - net.params[f"beta{i}"]) / net.params[f"gamma{i}"]
            values[f"group_var{i}"] = a.var(axis=0 if normalization == "batchnorm" else 1)
        h = np.maximum(z, 0.0) if activation == "relu" else 1.0 / (1.0 + np.exp(-z))
    return values


def _fc_net_gradients(params, X, y, normalization, activation, keep, seed, reg):
    """Every gradient of the instructor's network with these parameters, dropout mask seed
    and regularization, on the batch (X, y) in training mode: {"d<parameter>": gradient}."""
    fc_net = _module("fc_net")
    hidden = [params[f"W{i}"].shape[1] for i in range(1, len(params)) if f"W{i + 1}" in params]
    net = fc_net.FullyConnectedNet(hidden, input_dim=X.shape[1], num_classes=params[f"W{len(hidden) + 1}"].shape[1],
                                   normalization=normalization, activation=activation, dropout_keep_ratio=keep,
                                   dtype=np.float64, reg=reg)
    net.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    net.dropout_param["seed"] = seed
    _, grads = net.loss(X, y)
    return {f"d{name}": grad for name, grad in grads.items()}


def computations():
    """{function_name: fn(*inputs) -> {what: value}} of the training checks."""
    return {"sgd_momentum": _sgd_momentum, "adam": _adam, "FullyConnectedNet": _fc_net_layers,
            "FullyConnectedNet.loss": _fc_net_gradients}
