"""Checks of FullyConnectedNet's hidden layers: _hidden_forward and _hidden_backward.

The forward check compares the activations layer by layer (affine -> [norm] -> activation
-> [dropout]) in test mode, and the training-mode scores under a fixed dropout mask, with
reference values (cs231n_bn.checks.reference: the right network's numbers as data); where
they differ it locates the layer and the step. The backward check compares every gradient
with a numeric one on several small networks that differ in one feature each (sigmoid,
batch norm, layer norm, dropout): which of them fail says which part of the backward pass
is wrong, and a wrong gradient that differs by exactly a regularization term is named so.
"""

import re
import traceback
import warnings

import numpy as np

from cs231n_bn.checks import reference
from cs231n_bn.checks.core import CheckFailed, call, factor_text, matches, package_function, require_array
from cs231n_bn.checks.display import passed
from cs231n_bn.checks.normalized import DEFAULT_EPS, bn_layout, diagnose_normalized, ln_layout, normalizes_instead
from cs231n_bn.gradient_check import eval_numerical_gradient
from cs231n_bn.layers import affine_backward, softmax_loss

FORWARD_EXERCISE = "fc_net_forward"
BACKWARD_EXERCISE = "fc_net_backward"


def _activation(name, z):
    if name == "relu":
        return np.maximum(z, 0.0)
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic sigmoid, written without overflow


HIDDEN_DIMS = (5, 4)  # the small nets' hidden layers
DERIVED_RTOL = 1e-13  # how far a derived gradient may be from the exact one, of its largest entry
STRUCTURAL_ZERO = 1e-9  # a parameter whose exact gradients are all below this share of the largest is left out


def small_net(cls, normalization, activation, keep, seed):
    """A float64 net with 2 hidden layers and non-trivial biases, gamma and beta."""
    net = cls(list(HIDDEN_DIMS), input_dim=4, num_classes=3, normalization=normalization, activation=activation,
              dropout_keep_ratio=keep, dtype=np.float64, weight_scale=0.7, seed=seed, reg=0.1)
    rng = np.random.default_rng(seed + 100)
    for name, p in net.params.items():
        if name.startswith("gamma"):
            net.params[name] = rng.uniform(0.5, 2.0, p.shape) * rng.choice([-1.0, 1.0], p.shape)
        elif name.startswith(("beta", "b")):
            net.params[name] = rng.normal(0.0, 0.5, p.shape)
    return net


def _layer_number(name):
    """The layer a parameter belongs to, as its name writes it: "3" for "gamma3"."""
    return name[len(name.rstrip("0123456789")):]


def _label(normalization, activation, keep):
    extra = f", dropout_keep_ratio={keep:g}" if keep != 1 else ""
    return f"normalization={normalization!r}, activation={activation!r}{extra}"


def _float_params(net):
    """The network's parameters as float64 arrays: the inputs its reference values are recorded for."""
    return {k: np.asarray(v, dtype=np.float64) for k, v in net.params.items()}


def _reference(net, X, normalization, activation):
    """Test-mode (zs, affine outputs, scores, normalized) of the right network with net's
    parameters, its running statistics those of one training pass on X: reference values.
    normalized[i - 1] is {"xhat", "group_var"} of hidden layer i (empty without normalization),
    asked for here, before the student's code runs, so a recording holds them."""
    inputs = (_float_params(net), X, normalization, activation)

    def value(what):
        return reference.value(f"FullyConnectedNet/{what}", "FullyConnectedNet", *inputs)

    layers = range(1, net.num_layers)
    normalized = [{} if normalization is None else {what: value(f"{what}{i}") for what in ("xhat", "group_var")}
                  for i in layers]
    return [value(f"z{i}") for i in layers], [value(f"affine{i}") for i in layers], value("scores"), normalized


def _caches_kept(label, normalization, caches):
    """Each hidden layer's cache must hold what its steps' forward passes returned, for the backward pass."""
    from cs231n_bn.fc_net import HiddenLayerCache

    steps = ("affine", "activation", "dropout") + (("norm",) if normalization is not None else ())
    for i, cache in enumerate(caches, start=1):
        if isinstance(cache, HiddenLayerCache):
            empty = [step for step in steps if getattr(cache, step) is None]
            if empty:
                raise CheckFailed(
                    f"FullyConnectedNet ({label}), hidden layer {i}: after a training pass the layer's cache holds "
                    f"None as its {empty[0]} cache; the backward pass needs what that step's forward pass "
                    f"returned", FORWARD_EXERCISE, "cache missing",
                )


def _stale_running(where, i, z, a, net, before):
    """Raise when test mode normalized with the running statistics from before the training step."""
    if set(before) != {"running_mean", "running_var"}:
        return
    eps = net.bn_params[i - 1].get("eps", DEFAULT_EPS)
    stale = net.params[f"gamma{i}"] * (a - before["running_mean"]) / np.sqrt(before["running_var"] + eps) \
        + net.params[f"beta{i}"]
    if matches(z, stale, 1e-9):
        raise CheckFailed(
            f"{where}: in test mode the layer normalized with the running statistics self.bn_params[{i - 1}] held "
            f"before the training step: the training step's running averages never reached that dict (the "
            f"training pass gave batchnorm_forward another dict, a new one or a copy)", FORWARD_EXERCISE,
            "running not kept",
        )


def _finite_training_pass(label, forward, caches):
    """Raise, naming the step, when a training pass without dropout gives NaN or inf scores."""
    scores = forward[0] if isinstance(forward, tuple) and forward else None
    if not isinstance(scores, np.ndarray) or np.all(np.isfinite(scores)):
        return
    # hidden layer i's output is what the next layer's affine step received
    inputs = [getattr(getattr(c, "affine", None), "x", None) for c in caches]
    for i, cache in enumerate(caches, start=1):
        z = getattr(cache, "z", None)
        out = inputs[i] if i < len(inputs) else None
        if isinstance(z, np.ndarray) and not np.all(np.isfinite(z)):
            raise CheckFailed(f"FullyConnectedNet ({label}): a training pass gives NaN or inf, first in hidden layer "
                              f"{i}'s activation input z (the affine and normalization steps)", FORWARD_EXERCISE,
                              "not finite")
        if isinstance(out, np.ndarray) and not np.all(np.isfinite(out)):
            raise CheckFailed(f"FullyConnectedNet ({label}): a training pass gives NaN or inf, first in hidden layer "
                              f"{i}'s output, while its activation input z is finite: the steps after the norm "
                              f"(the activation, then dropout, which with dropout_keep_ratio = 1 keeps every unit "
                              f"as it is) made them", FORWARD_EXERCISE, "not finite")
    raise CheckFailed(f"FullyConnectedNet ({label}): a training pass gives NaN or inf scores", FORWARD_EXERCISE,
                      "not finite")


def _check_layers(cls, normalization, activation):
    """Test mode, no dropout: each hidden layer's activation input, and the scores."""
    label = _label(normalization, activation, 1.0)
    net = small_net(cls, normalization, activation, 1.0, seed=3)
    if normalization == "batchnorm":  # layer norm keeps no running statistics (and refuses the key)
        for bn_param in net.bn_params:
            bn_param["momentum"] = 0.0  # after one step the running statistics ARE the batch's
    X = np.random.default_rng(9).normal(size=(8, 4))
    zs_right, affine_right, scores_right, normalized = _reference(net, X, normalization, activation)
    other = "sigmoid" if activation == "relu" else "relu"
    scores_other = _reference(net, X, normalization, other)[2]
    # the running statistics before the training step, which a test pass must no longer use
    before = [{key: np.array(p[key]) for key in ("running_mean", "running_var") if key in p} for p in net.bn_params]
    # A training-mode forward pass alone (loss(X, y) would also run the backward pass).
    forward = call(FORWARD_EXERCISE, "FullyConnectedNet._forward", net._forward, X, "train")
    train_caches = forward[1] if isinstance(forward, tuple) and len(forward) == 3 else []
    _finite_training_pass(label, forward, train_caches)
    if normalization == "layernorm" and any("running_mean" in p for p in net.bn_params):
        raise CheckFailed(f"FullyConnectedNet ({label}): after a training pass a layer-norm dict in bn_params holds "
                          f"running statistics, which only batchnorm_forward writes: a hidden layer called "
                          f"batchnorm_forward; a layer-norm network calls layernorm_forward", FORWARD_EXERCISE,
                          "wrong norm")
    try:
        zs = call(FORWARD_EXERCISE, "FullyConnectedNet.activation_inputs", net.activation_inputs, X)
    except CheckFailed as err:
        if normalization == "batchnorm" and "test mode needs bn_param" in str(err):
            raise CheckFailed(f"FullyConnectedNet ({label}): a training pass ran, yet in test mode batchnorm_forward "
                              f"got a bn_param without running statistics: the layer hands batchnorm_forward a new "
                              f"dict on each call instead of its own self.bn_params[i - 1], so what training "
                              f"stored is lost", FORWARD_EXERCISE, "running not kept") from err
        # every message of the package's batchnorm_forward starts with its name
        if normalization == "layernorm" and "batchnorm_forward:" in str(err):
            raise CheckFailed(f"FullyConnectedNet ({label}): with normalization='layernorm' a hidden layer called "
                              f"batchnorm_forward (which failed in test mode for want of running statistics): "
                              f"a layer-norm network calls layernorm_forward", FORWARD_EXERCISE, "wrong norm") from err
        raise
    scores = call(FORWARD_EXERCISE, "FullyConnectedNet.loss", net.loss, X)
    if matches(scores, scores_other, 1e-9):
        raise CheckFailed(f"FullyConnectedNet ({label}): the scores are those of the same network with "
                          f"{other} as its activation: the activation asked for is not the one applied",
                          FORWARD_EXERCISE, "activation")
    if matches(scores, scores_right, 1e-9):
        # the forward pass is right; only what the cache keeps as z can be off
        for i, (z, z_right) in enumerate(zip(zs, zs_right), start=1):
            if not matches(z, z_right, 1e-9):
                holds = [words for value, words in (
                    (affine_right[i - 1], "the affine output"),
                    (_activation(activation, z_right), "the activation's output")) if matches(z, value, 1e-9)]
                raise CheckFailed(
                    f"FullyConnectedNet ({label}): the scores are right, but the cache's z of hidden "
                    f"layer {i} (what activation_inputs returns) is not the activation's input"
                    + (f"; it holds {holds[0]}" if holds else ""), FORWARD_EXERCISE, "cache z",
                )
    h = X
    for i, z in enumerate(zs, start=1):
        where = f"FullyConnectedNet ({label}), hidden layer {i}"
        a = h @ net.params[f"W{i}"] + net.params[f"b{i}"]
        require_array(FORWARD_EXERCISE, where, "the activation's input z", z, a.shape)
        if normalization is None:
            if matches(z, a + net.params[f"b{i}"], 1e-9):
                raise CheckFailed(f"{where}: the activation's input is the affine output plus b{i} once more: the "
                                  f"bias is added twice", FORWARD_EXERCISE, "bias twice")
            if not matches(z, a, 1e-9):
                for other, words in ((_activation(activation, a), "the activation's OUTPUT"),):
                    if matches(z, other, 1e-9):
                        raise CheckFailed(f"{where}: the cache's z holds {words}; z is what the "
                                          f"activation receives", FORWARD_EXERCISE, "z")
                raise CheckFailed(
                    f"{where}: without normalization the activation's input should be the affine "
                    f"output of the previous layer's activations (with W{i} and b{i}); it is not",
                    FORWARD_EXERCISE, "affine",
                )
        else:
            train_z = getattr(train_caches[i - 1], "z", None) if i <= len(train_caches) else None
            if matches(z, a, 1e-9) and train_z is not None and not matches(train_z, a, 1e-9):
                raise CheckFailed(f"{where}: in test mode the activation receives the affine output itself, while in "
                                  f"the training pass it receives something else: the {normalization} layer is "
                                  f"skipped in test mode (test mode normalizes too)", FORWARD_EXERCISE,
                                  "norm in test mode")
            if matches(z, a, 1e-9):
                raise CheckFailed(
                    f"{where}: the activation receives the affine output itself: the "
                    f"{normalization} layer is not between the affine layer and the activation "
                    f"(it is missing, or it comes after the activation)", FORWARD_EXERCISE, "order",
                )
            _stale_running(where, i, z, a, net, before[i - 1] if normalization == "batchnorm" else {})
            layout = bn_layout(*a.shape) if normalization == "batchnorm" else ln_layout(*a.shape)
            gamma_i, beta_i = net.params[f"gamma{i}"], net.params[f"beta{i}"]
            # (where the activation leaves every value of a group as it is, both readings fit: no verdict)
            if normalizes_instead(layout, z, gamma_i, beta_i, _activation(activation, a)) and \
                    not normalizes_instead(layout, z, gamma_i, beta_i, a):
                raise CheckFailed(
                    f"{where}: the {normalization} layer normalizes the activation's output: the activation comes "
                    f"before the normalization here; the norm goes between the affine layer and the activation",
                    FORWARD_EXERCISE, "order",
                )
            try:
                diagnose_normalized(FORWARD_EXERCISE, where, layout, a, z, net.params[f"gamma{i}"],
                                    net.params[f"beta{i}"], DEFAULT_EPS, normalized[i - 1])
            except CheckFailed as err:
                raise CheckFailed(
                    f"{err.message}\n(The {normalization} layer comes right after the affine layer "
                    f"and uses gamma{i} and beta{i}; your {normalization}_forward passes its own check.)",
                    FORWARD_EXERCISE, err.topic,
                ) from err
        h = _activation(activation, z)
    if normalization == "batchnorm":
        few = call(FORWARD_EXERCISE, "FullyConnectedNet.activation_inputs", net.activation_inputs, X[:3])
        if not all(matches(z_few, z[:3], 1e-9) for z_few, z in zip(few, zs)):
            raise CheckFailed(
                f"FullyConnectedNet ({label}): in test mode a sample's output depends on the rest "
                f"of the batch: batch norm still uses batch statistics in test mode (the pass's "
                f"mode does not reach bn_params)", FORWARD_EXERCISE, "bn mode",
            )
    L = net.num_layers
    expected = h @ net.params[f"W{L}"] + net.params[f"b{L}"]
    if not matches(scores, expected, 1e-9):
        if matches(scores, zs[-1] @ net.params[f"W{L}"] + net.params[f"b{L}"], 1e-9):
            message = "the last hidden layer's activation is not applied before the output layer"
        else:
            message = (f"the scores are not the output layer applied to the last hidden layer's "
                       f"{activation} output, although every hidden layer's activation input is "
                       f"right")
        raise CheckFailed(f"FullyConnectedNet ({label}): {message}", FORWARD_EXERCISE, "scores")
    # the values are right; what the backward pass will read must be there too
    _caches_kept(label, normalization, train_caches)


def _misplaced_dropout(net, X, keep, seed, place):
    """Scores of a plain (no normalization) net with a misplaced dropout, mask from `seed`:
    place "before activation", "keep inverted" (units kept with probability 1 - keep) or
    "not inverted" (kept units not divided by keep)."""
    rng = np.random.default_rng(seed)
    h = X
    for i in range(1, net.num_layers):
        a = h @ net.params[f"W{i}"] + net.params[f"b{i}"]
        if place == "before activation":
            mask = (rng.random(a.shape) < keep) / keep
            h = _activation(net.activation, a * mask)
        elif place == "not inverted":
            h = _activation(net.activation, a)
            h = h * (rng.random(h.shape) < keep)
        else:
            h = _activation(net.activation, a)
            h = h * (rng.random(h.shape) < 1 - keep) / (1 - keep)
    L = net.num_layers
    return h @ net.params[f"W{L}"] + net.params[f"b{L}"]


def _check_dropout(cls):
    keep, seed = 0.6, 5
    label = _label(None, "sigmoid", keep)
    net = small_net(cls, None, "sigmoid", keep, seed=3)
    plain = small_net(cls, None, "sigmoid", 1.0, seed=3)
    plain.params = {k: v.copy() for k, v in net.params.items()}
    X = np.random.default_rng(9).normal(size=(8, 4))
    params = {k: np.asarray(v, dtype=np.float64) for k, v in net.params.items()}
    right_train = reference.value("FullyConnectedNet/train_scores", "FullyConnectedNet", params, X, None,
                                  "sigmoid", keep, seed)
    test_scores = call(FORWARD_EXERCISE, "FullyConnectedNet.loss", net.loss, X)
    if not matches(test_scores, call(FORWARD_EXERCISE, "FullyConnectedNet.loss", plain.loss, X), 1e-9):
        raise CheckFailed(
            f"FullyConnectedNet ({label}): in test mode the scores differ from those of the same "
            f"network without dropout: dropout is still active in test mode", FORWARD_EXERCISE,
            "dropout in test mode",
        )
    net.dropout_param["seed"] = seed
    net.dropout_param["mode"] = "train"
    train_scores = call(FORWARD_EXERCISE, "FullyConnectedNet._forward", net._forward, X, "train")[0]
    if matches(train_scores, right_train, 1e-9):
        return
    if matches(train_scores, test_scores, 1e-9):
        raise CheckFailed(f"FullyConnectedNet ({label}), train mode: dropout is not applied in train mode",
                          FORWARD_EXERCISE, "dropout none")
    places = (
        ("before activation", "dropout is applied before the activation; it belongs after it"),
        ("keep inverted", "dropout keeps units with probability 1 - dropout_keep_ratio"),
        ("not inverted", "the kept units are not divided by dropout_keep_ratio: without it the layer's expected "
                         "output in training differs from test mode's"),
    )
    for place, message in places:
        if matches(train_scores, _misplaced_dropout(net, X, keep, seed, place), 1e-9):
            raise CheckFailed(f"FullyConnectedNet ({label}), train mode: {message}",
                              FORWARD_EXERCISE, f"dropout {place}")
    again = call(FORWARD_EXERCISE, "FullyConnectedNet._forward", net._forward, X, "train")[0]
    if not matches(again, train_scores, 1e-12):
        raise CheckFailed(
            f"FullyConnectedNet ({label}), train mode: two passes with the same dropout seed give different "
            f"scores: the dropout mask is not drawn from the rng the layer is given (np.random's global "
            f"generator, or a new generator, ignores the seed)", FORWARD_EXERCISE, "dropout rng",
        )
    raise CheckFailed(
        f"FullyConnectedNet ({label}), train mode: with a fixed dropout mask the scores match "
        f"neither dropout after the activation nor the usual mistakes (no dropout, dropout "
        f"before the activation)", FORWARD_EXERCISE, "dropout unexplained",
    )


def _check_own_parameters(cls):
    """Each hidden layer reads its own parameters only. In a net whose hidden layers all have one
    width another layer's W, b, gamma or beta fits too, so a wrong index shows only there: a
    layer's output must not move when a parameter of another layer does."""
    for normalization in ("batchnorm", "layernorm"):
        net = cls([4, 4], input_dim=4, num_classes=3, normalization=normalization, activation="relu",
                  dropout_keep_ratio=1.0, dtype=np.float64, weight_scale=0.7, seed=6)
        rng = np.random.default_rng(8)
        net.params = {k: rng.uniform(0.5, 2.0, np.shape(v)) if k.startswith("gamma") else rng.normal(0, 0.7, np.shape(v))
                      for k, v in net.params.items()}
        x = rng.normal(size=(6, 4))
        where = f"FullyConnectedNet ({_label(normalization, 'relu', 1.0)}, hidden_dims=[4, 4])"
        for i in (1, 2):
            def layer_output():
                return call(FORWARD_EXERCISE, "FullyConnectedNet._hidden_forward", net._hidden_forward, x, i,
                            "train", np.random.default_rng(0))[0]
            before = layer_output()
            for name in sorted(net.params):
                if _layer_number(name) == str(i):
                    continue
                kept = net.params[name]
                net.params[name] = kept + rng.uniform(0.5, 1.0, np.shape(kept))
                after = layer_output()
                net.params[name] = kept
                if not matches(after, before, 1e-9):
                    raise CheckFailed(f"{where}: hidden layer {i}'s output changes when only {name} changes: layer "
                                      f"{i} must use its own W{i}, b{i}, gamma{i} and beta{i} (another layer's fit "
                                      f"here because the hidden layers have one width)", FORWARD_EXERCISE,
                                      "another layer's parameters")


def _verify_fc_net_forward(cls):
    # A wrong cache alone is reported only if no configuration has wrong scores: a wrong order of
    # the steps also leaves the activation's output in the cache, and the scores say more.
    cache_only = None
    for normalization, activation in ((None, "relu"), ("batchnorm", "relu"), ("layernorm", "sigmoid"),
                                      ("batchnorm", "sigmoid")):
        try:
            _check_layers(cls, normalization, activation)
        except CheckFailed as failure:
            if failure.topic != "cache z":
                raise
            cache_only = cache_only or failure
    if cache_only is not None:
        raise cache_only
    _check_dropout(cls)
    _check_own_parameters(cls)


@reference.for_checks
def check_fc_net_forward(FullyConnectedNet=None):
    """Check the hidden layers' forward pass: affine -> [norm] -> activation -> [dropout]."""
    cls = FullyConnectedNet or package_function("fc_net", "FullyConnectedNet")
    _verify_fc_net_forward(cls)
    # (the words notebook 5's stored output holds)
    passed("FullyConnectedNet forward", "every hidden layer is affine -> [batch/layer norm] -> "
           "activation, in train and test mode")


# (normalization, activation, keep ratio) -> the feature it adds to the plain net
BACKWARD_CONFIGS = (
    ((None, "relu", 1.0), "the plain network (affine and ReLU)"),
    ((None, "sigmoid", 1.0), "the sigmoid"),
    (("batchnorm", "relu", 1.0), "batch norm"),
    (("layernorm", "relu", 1.0), "layer norm"),
    ((None, "relu", 0.7), "dropout"),
    (("batchnorm", "sigmoid", 0.7), "batch norm, sigmoid and dropout together"),
)


def _regularization_crash(where, failure, net, X, y):
    """Raise naming the cause when loss() could not add reg * W to a gradient of another shape:
    a transposed gradient (read from the gradients of the same net without regularization), or
    gradients under another layer's keys."""
    cause = failure.__cause__
    frames = traceback.extract_tb(cause.__traceback__) if cause is not None else []
    if isinstance(cause, ValueError) and "broadcast" in str(cause) and frames and frames[-1].name == "loss" \
            and frames[-1].filename.endswith("fc_net.py"):
        shapes = re.findall(r"\(\d+,\s*\d+\)", str(cause))
        try:
            grads = _unregularized_gradients(net, X, y)
        except Exception:  # the student's code fails another way too: the crash above is what is known
            grads = {}
        for name in sorted(net.params):
            if name.startswith("W") and name in grads:
                _transposed(f"{where} (read without the regularization's step, where loss() fails)", name,
                            grads[name], net, X, y, lambda: _unregularized_loss(net, X, y))
        raise CheckFailed(
            f"{where}: loss() adds reg * W to grads['W<i>'] for every layer, and one of them has another shape "
            f"than its W ({' and '.join(shapes[:2])}): a layer's gradients are stored under another layer's keys "
            f"(which number does layer i's gradient get?)", BACKWARD_EXERCISE, "gradient keys",
        ) from cause


def _unregularized_loss(net, X, y):
    """The training loss without regularization, from the forward pass alone."""
    scores = call(BACKWARD_EXERCISE, "FullyConnectedNet._forward", net._forward, X, "train")[0]
    return softmax_loss(scores, y)[0]


def _unregularized_gradients(net, X, y):
    """The gradients loss() collects before it adds the regularization's: its backward loop,
    with the student's _hidden_backward (for a loss() that fails in its last step)."""
    net.dropout_param["mode"] = "train"
    scores, caches, last_cache = call(BACKWARD_EXERCISE, "FullyConnectedNet._forward", net._forward, X, "train")
    L = net.num_layers
    grads = {}
    dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(softmax_loss(scores, y)[1], last_cache)
    for i in range(L - 1, 0, -1):
        dh = call(BACKWARD_EXERCISE, "FullyConnectedNet._hidden_backward", net._hidden_backward, dh, caches[i - 1],
                  i, grads)
    return grads


def _transposed(where, name, gradient, net, X, y, loss=None):
    """Raise when a gradient has its parameter's shape transposed and is the right one transposed
    (of loss(), by default the network's own, regularization included)."""
    shape = net.params[name].shape
    if len(shape) != 2 or shape[0] == shape[1] or np.shape(gradient) != shape[::-1]:
        return
    loss = loss or (lambda: net.loss(X, y)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        numeric = eval_numerical_gradient(lambda _: loss(), net.params[name], verbose=False)
    if np.allclose(np.transpose(gradient), numeric, rtol=1e-5, atol=1e-7):
        raise CheckFailed(f"{where}: grads['{name}'] has shape {np.shape(gradient)}, {name}'s shape {shape} "
                          f"transposed, and it is the right gradient transposed: a gradient has the shape of its "
                          f"parameter", BACKWARD_EXERCISE, "transposed")


def _another_layers_shape(where, name, gradient, params):
    """Raise when a gradient has the shape of the same parameter of another layer, not of its own."""
    shape, kind = np.shape(gradient), name.rstrip("0123456789")
    if shape == params[name].shape:
        return
    siblings = [other for other in sorted(params)
                if other != name and _layer_number(other) == _layer_number(name) and params[other].shape == shape]
    if siblings:
        raise CheckFailed(f"{where}: grads['{name}'] has shape {shape}, the shape of {siblings[0]}, not of {name} "
                          f"{params[name].shape}: the gradients of {name} and {siblings[0]} are swapped (in which order "
                          f"does the backward step return them?)", BACKWARD_EXERCISE, "gradient keys")
    owners = [other for other in sorted(params)
              if other != name and other.rstrip("0123456789") == kind and params[other].shape == shape]
    if owners:
        raise CheckFailed(f"{where}: grads['{name}'] has shape {shape}, the shape of {owners[0]}, not of {name} "
                          f"{params[name].shape}: the gradients are stored under another layer's keys (which "
                          f"number does layer i's gradient get?)", BACKWARD_EXERCISE, "gradient keys")


def _wrong_gradients(cls, config):
    """For one network: ({param name: (analytic, numeric, param, reg)} of the gradients that
    disagree with numeric ones, {param name: (analytic, exact)} of those that agree with them
    only as closely as an estimate does)."""
    net = small_net(cls, *config, seed=4)
    net.dropout_param["seed"] = 5  # the same dropout mask on every call
    rng = np.random.default_rng(10)
    X = rng.normal(size=(6, 4))
    y = rng.integers(0, 3, size=6)
    where = f"FullyConnectedNet ({_label(*config)})"
    inputs = (_float_params(net), X, y, *config, 5, float(net.reg))
    exact = {name: reference.value(f"FullyConnectedNet.loss/d{name}", "FullyConnectedNet.loss", *inputs)
             for name in net.params}
    try:
        _, grads = call(BACKWARD_EXERCISE, "FullyConnectedNet.loss", net.loss, X, y)
    except CheckFailed as failure:
        _regularization_crash(where, failure, net, X, y)
        raise
    wrong, estimated = {}, {}
    overall = max(float(np.max(np.abs(g))) for g in exact.values())
    for name in sorted(net.params):
        if name not in grads:
            unknown = sorted(set(grads) - set(net.params))
            also = (f" (it holds {', '.join(repr(k) for k in unknown)}, which name no parameter of the network: "
                    f"layers are numbered from 1, and layer i's gradients go under W{{i}}, b{{i}}, gamma{{i}}, "
                    f"beta{{i}})") if unknown else ""
            raise CheckFailed(f"{where}: grads has no '{name}'; every parameter needs its gradient{also}",
                              BACKWARD_EXERCISE, "missing key")
        _transposed(where, name, grads[name], net, X, y)
        _another_layers_shape(where, name, grads[name], net.params)
        require_array(BACKWARD_EXERCISE, where, f"grads['{name}']", grads[name], net.params[name].shape)
        if _exactly_right(grads[name], exact[name], overall):
            continue  # the numeric gradient, with its own errors near kinks, can only describe a wrong one
        with warnings.catch_warnings():
            # b right before batch norm does not move the loss; that is the point, not a bug
            warnings.simplefilter("ignore", UserWarning)
            numeric = eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[name], verbose=False)
        # Against the parameter's largest gradient entry, not entry by entry: a small entry's
        # numeric gradient carries the same absolute error as a large one's. (b right before
        # batch norm has a true gradient of 0: the absolute floor covers it.)
        allowed = max(1e-6 * np.max(np.abs(numeric)), 1e-8)
        if np.max(np.abs(grads[name] - numeric)) > allowed and _beyond_kinks(net, X, y, name, grads[name], numeric,
                                                                             allowed):
            wrong[name] = (grads[name], numeric, net.params[name], net.reg)
        elif float(np.max(np.abs(exact[name]))) > STRUCTURAL_ZERO * overall:
            estimated[name] = (grads[name], exact[name])
    return wrong, estimated


def _exactly_right(got, right, overall):
    """Does a gradient equal the exact one (a reference value) to rounding?

    A derived gradient differs from the exact one by rounding alone: below 4e-15 of the
    parameter's largest gradient entry, measured on correct variants; a numeric estimate,
    even Richardson-extrapolated, by far more (8e-13 at its best). A parameter whose exact
    gradient is 0 up to rounding (a bias right before batch norm) is measured against the
    network's largest gradient entry instead, and a numeric estimate of it says nothing.
    """
    scale = float(np.max(np.abs(right)))
    if scale <= STRUCTURAL_ZERO * overall:
        scale = overall
    return float(np.max(np.abs(got - right))) <= DERIVED_RTOL * scale


def _beyond_kinks(net, X, y, name, analytic, numeric, allowed):
    """Does analytic differ from the numeric gradient where the numeric one can be trusted?

    A ReLU unit whose input lies within the step h of 0 flips inside a centred difference,
    and the numeric gradient of the parameters feeding it is wrong there. A smaller step
    crosses no such kink: the entries whose two estimates disagree are left out.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        finer = eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[name], verbose=False, h=1e-7)
    trusted = np.abs(finer - numeric) <= allowed
    return bool(np.any(np.abs(analytic - numeric)[trusted] > allowed)) or not np.any(trusted)


def _param_words(name, got, right, param, reg):
    # a regularization term where the loss has none, or twice where the loss adds it itself
    extra = got - right
    if reg and np.allclose(extra, reg * param, rtol=1e-4, atol=1e-7):
        if name.startswith("W"):
            return (f"{name} (reg * {name} is added once too often: the loss already adds the "
                    f"regularization's gradient to every W)")
        return f"{name} (reg * {name} is added: the loss regularizes only the weights W, not {name})"
    if reg and np.allclose(extra, -reg * param, rtol=1e-4, atol=1e-7):
        return f"{name} (reg * {name} is subtracted: the regularization's gradient is taken away)"
    if np.allclose(extra, param, rtol=1e-4, atol=1e-7):
        return (f"{name} (the right gradient plus {name} itself: the gradient is added to a copy of the "
                f"parameter, where grads starts empty)")
    # a constant factor, fitted over the entries (a small entry's ratio is as noisy as its
    # numeric gradient)
    if name.startswith("b") and got.shape == right.shape and got.size > 1 and np.allclose(got, np.mean(right)) \
            and not np.allclose(right, np.mean(right)):
        return f"{name} (every unit holds the mean of the right values: the units' gradients are averaged together)"
    scale = np.max(np.abs(right))
    if scale > 0:
        c = float(np.vdot(got, right) / np.vdot(right, right))
        if np.max(np.abs(got - c * right)) <= 1e-5 * scale:
            words = factor_text(c, 6)
            if words:
                return f"{name} ({words})"
    if not np.any(got):
        return f"{name} (all zeros)"
    return name


def _at_the_norm(wrong, layer, probes):
    """What the gamma and beta gradients of a hidden layer say about where its backward goes wrong.

    dbeta is the batch sum of the gradient arriving at the norm's output and dgamma weighs that
    gradient by xhat, so which of them is right locates the wrong step around the norm. When
    dbeta is wrong, the one-sample `probes` (_norm_probes) may say how.
    """
    gamma, beta = f"gamma{layer}", f"beta{layer}"
    if gamma in wrong and beta in wrong:
        (got_gamma, right_gamma, *_), (got_beta, right_beta, *_) = wrong[gamma], wrong[beta]
        if got_gamma.shape == right_beta.shape and np.allclose(got_gamma, right_beta, rtol=1e-5, atol=1e-8) \
                and np.allclose(got_beta, right_gamma, rtol=1e-5, atol=1e-8):
            return f"grads['{gamma}'] holds {beta}'s gradient and grads['{beta}'] holds {gamma}'s: they are swapped"
    if beta in wrong:
        return _norm_input_words(probes) or (
            f"in layer {layer}, {beta}'s gradient is wrong too. It is the batch sum of the gradient arriving "
            f"at the norm's output, so that gradient is wrong before the norm's backward step starts (or "
            f"d{beta} is not that sum). The activation and dropout steps are right without a norm: look at "
            f"what they take from the cache when a norm comes before them (at which values the "
            f"activation's local gradient is evaluated)")
    affine_wrong = any(name in wrong for name in (f"W{layer}", f"b{layer}"))
    if gamma in wrong and affine_wrong:
        return (f"in layer {layer}, {beta}'s gradient is right, so the gradient arriving at the norm is right; "
                f"{gamma}'s, W{layer}'s and b{layer}'s are wrong: the norm's backward step itself (is it called, "
                f"with this layer's cache, and is its result what the affine step gets?)")
    if gamma in wrong:
        return (f"in layer {layer}, {beta}'s gradient is right, so the gradient arriving at the norm is right; "
                f"{gamma}'s is wrong: look at what that gradient is multiplied by for d{gamma}")
    if affine_wrong:
        return (f"in layer {layer}, {gamma}'s and {beta}'s gradients are right, so the gradient arriving at the "
                f"norm is right; W{layer} and b{layer} are not: look at what the norm's backward step hands "
                f"to the affine step, and whether the affine step gets it")
    return ""


def _measured_gradient(net, X, y, name):
    """(got, right): grads[name] of the student's loss and its numeric gradient, flattened;
    got is None when its shape is not the parameter's."""
    _, grads = call(BACKWARD_EXERCISE, "FullyConnectedNet.loss", net.loss, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        right = np.ravel(eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[name], verbose=False))
    got = np.ravel(np.asarray(grads.get(name), dtype=np.float64))
    return (got if got.shape == right.shape else None), right


def _one_sample(cls, activation, keep, seed):
    """(z, got, right) of the deepest hidden layer in a plain network given one sample: z, that
    layer's activation input, and grads['b<L>'] next to its numeric gradient. With one sample,
    b's gradient is the gradient at the layer's affine output itself, unit by unit."""
    net = small_net(cls, None, activation, keep, seed=4)
    net.dropout_param["seed"] = 5 + seed  # the same mask on every pass with this sample
    rng = np.random.default_rng(30 + seed)
    X, y = rng.normal(size=(1, 4)), rng.integers(0, 3, size=1)
    L = net.num_layers - 1
    h = X
    for i in range(1, L + 1):
        z = h @ net.params[f"W{i}"] + net.params[f"b{i}"]
        h = _activation(activation, z)  # (without dropout's mask: the callers that read z pass keep = 1)
    got, right = _measured_gradient(net, X, y, f"b{L}")
    return np.ravel(z), got, right


def _relu_step_words(cls):
    """What one-sample batches show about the ReLU's backward step: a unit with z <= 0 must pass
    nothing, one with z > 0 the gradient whatever its sign. Words naming what breaks that, or ""."""
    leaks = blocked = 0
    for seed in range(6):
        z, got, right = _one_sample(cls, "relu", 1.0, seed)
        if got is None:
            return ""
        tol = 1e-6 * max(float(np.max(np.abs(right))), 1e-8)
        if not np.allclose(got[(z > 0) & (right > tol)], right[(z > 0) & (right > tol)], rtol=1e-6, atol=tol):
            return ""  # wrong where the ReLU passes a positive gradient too: not the ReLU's step
        leaks += np.count_nonzero((z <= 0) & (np.abs(got) > tol))
        blocked += np.count_nonzero((z > 0) & (right < -tol) & (np.abs(got) <= tol))
    if blocked:
        return (f"in one-sample batches, units whose ReLU input z was positive pass no gradient where the gradient "
                f"is negative ({blocked} such units): the ReLU's backward mask follows the sign of the gradient, "
                f"where it should follow z")
    if leaks:
        return (f"in one-sample batches, units whose ReLU input z was <= 0 still pass a gradient ({leaks} such "
                f"units): the ReLU's backward step does not block them (is it skipped, or given another cache?)")
    return ""


def _ratios(activation, keep, measure):
    """Per unit, got / right over several one-sample batches, where the right gradient is not 0;
    and how many units with a right gradient of 0 got one anyway. None if not measurable."""
    ratios, leaks = [], 0
    for seed in range(6):
        z, got, right = measure(seed)
        if got is None:
            return None, 0
        tol = 1e-6 * max(float(np.max(np.abs(right))), 1e-8)
        live = np.abs(right) > tol
        ratios.append((got[live] / right[live], z[live]))
        leaks += np.count_nonzero(~live & (np.abs(got) > tol))
    return ratios, leaks


def _sigmoid_step_words(cls):
    """What one-sample batches show about the sigmoid's backward step, or ""."""
    ratios, _ = _ratios("sigmoid", 1.0, lambda seed: _one_sample(cls, "sigmoid", 1.0, seed))
    if not ratios:
        return ""
    for factor, words in (
            (lambda z, s: (z > 0) / (s * (1 - s)), "the ReLU's mask (z > 0) where the sigmoid's local gradient "
                                                   "belongs: the backward step ignores which activation is used"),
            (lambda z, s: z * (1 - z) / (s * (1 - s)), "s * (1 - s) evaluated with s = z, the sigmoid's input, "
                                                       "where s is its output"),
            (lambda z, s: 1 / (s * (1 - s)), "nothing: the sigmoid's backward step is skipped"),
            (lambda z, s: 1 / (1 - s), "s alone, without the factor (1 - s)")):
        if all(np.allclose(r, factor(z, 1 / (1 + np.exp(-z))), rtol=1e-5) for r, z in ratios):
            return f"in one-sample batches the gradient through the sigmoid is multiplied by {words}"
    return ""


def _dropout_step_words(cls, keep):
    """What one-sample batches show about dropout's backward step (after a sigmoid, so that only
    dropout zeroes a unit's gradient), or ""."""
    ratios, leaks = _ratios("sigmoid", keep, lambda seed: _one_sample(cls, "sigmoid", keep, seed))
    if not ratios:
        return ""
    scale = np.concatenate([r for r, _ in ratios])
    if not np.allclose(scale, scale[0], rtol=1e-5):
        return ""
    if leaks and np.isclose(scale[0], keep):
        return ("units dropout zeroed in the forward pass still pass a gradient, and the kept ones miss the "
                "1 / dropout_keep_ratio scale: the backward step through dropout is skipped")
    if leaks:
        return "units dropout zeroed in the forward pass still pass a gradient: the mask is not applied on the way back"
    if np.isclose(scale[0], keep):
        return "the kept units' gradient is dropout_keep_ratio times too small: it is not divided by the keep ratio"
    if np.isclose(scale[0], 1 / keep):
        return "the kept units' gradient is divided by dropout_keep_ratio twice"
    return ""


def _norm_probes(cls):
    """One-sample layer-norm ReLU networks with the reference values of their deepest hidden
    layer's affine output a and activation input z, asked for up front so a recording holds them."""
    probes = []
    for seed in range(4):
        net = small_net(cls, "layernorm", "relu", 1.0, seed=4)
        rng = np.random.default_rng(40 + seed)
        X, y = rng.normal(size=(1, 4)), rng.integers(0, 3, size=1)
        zs, affines, _, _ = _reference(net, X, "layernorm", "relu")
        probes.append((net, X, y, np.ravel(affines[-1]), np.ravel(zs[-1])))
    return probes


def _norm_input_words(probes):
    """What one-sample layer-norm networks show about the gradient the norm's backward step gets.

    With one sample, grads['beta<L>'] is that gradient itself, unit by unit; the right one is
    the activation's: zero where the activation's input z was <= 0. Words, or "".
    """
    leaks = follows_a = 0
    for net, X, y, a, z in probes:
        got, right = _measured_gradient(net, X, y, f"beta{net.num_layers - 1}")
        if got is None:
            return ""
        tol = 1e-6 * max(float(np.max(np.abs(right))), 1e-8)
        leaks += np.count_nonzero((z <= 0) & (np.abs(got) > tol))
        follows_a += np.count_nonzero((z > 0) & (a <= 0) & (np.abs(right) > tol) & (np.abs(got) <= tol))
    if follows_a:
        return ("in one-sample layer-norm networks the gradient the norm's backward step gets is masked where the "
                "norm's INPUT a was <= 0: the activation's local gradient is evaluated at a, where it belongs at z, "
                "the activation's input")
    if leaks:
        return ("in one-sample layer-norm networks the norm's backward step gets a gradient even for units whose "
                "activation input z was <= 0: it receives the gradient before the activation's backward step "
                "masks it (the steps run in forward order, or the activation's is skipped)")
    return ""


def _verify_fc_net_backward(cls):
    probes = _norm_probes(cls)
    failing, estimated = {}, {}
    for config, feature in BACKWARD_CONFIGS:
        wrong, off = _wrong_gradients(cls, config)
        if wrong:
            failing[feature] = (config, wrong)
        elif off:
            estimated[feature] = (config, off)
    if not failing and estimated:
        config, off = next(iter(estimated.values()))
        name, (got, right) = next(iter(sorted(off.items())))
        relative = float(np.max(np.abs(got - right))) / float(np.max(np.abs(right)))
        raise CheckFailed(
            f"FullyConnectedNet ({_label(*config)}): grads['{name}'] agrees with its numeric gradient, but no closer "
            f"to the exact gradient than a numeric estimate comes ({relative:.1e} of its largest entry; derived "
            f"gradients differ from it by rounding alone, below {DERIVED_RTOL:.0e}): the backward pass must compute "
            f"the gradients through each layer's backward step, not estimate them",
            BACKWARD_EXERCISE, "estimated")
    if not failing:
        return
    first_feature, (config, wrong) = next(iter(failing.items()))
    # hidden layer numbers of the wrong parameters, deepest first: backprop meets them first
    layers = sorted({int("".join(c for c in n if c.isdigit())) for n in wrong}, reverse=True)
    details = ", ".join(_param_words(n, *wrong[n]) for n in sorted(wrong))
    regularized = [n for n in sorted(wrong) if "reg * " in _param_words(n, *wrong[n])]
    if regularized == sorted(wrong):
        verdict = ("every wrong gradient differs from its numeric gradient by exactly a regularization "
                   "term (reg times the parameter): the backward pass itself is right, the regularization "
                   "is handled in the wrong place")
    elif all("itself:" in _param_words(n, *wrong[n]) for n in wrong):
        verdict = ("every wrong gradient is the right one plus the parameter's own value: the backward pass "
                   "itself is right, and what it computes is added to something that already holds the parameter")
    elif "the plain network (affine and ReLU)" in failing:
        verdict = ("even the plain network (no normalization, ReLU, no dropout) has wrong gradients, "
                   "so the mistake is in the part every configuration shares: the affine and ReLU "
                   "steps, their order, or which cache each step gets")
        relu = _relu_step_words(cls)
        if relu:
            verdict = f"even the plain network (no normalization, ReLU, no dropout) has wrong gradients; measured {relu}"
    else:
        combined = BACKWARD_CONFIGS[-1][1]
        single = [f for f in failing if f != combined]
        if single:
            features = " and with ".join(single)
            verdict = (f"the plain network's gradients are right; they go wrong with {features}: the "
                       f"backward step through {' and through '.join(single)} is where to look")
            located, measured = "", ""
            if layers[0] < len(HIDDEN_DIMS):  # the deepest hidden layer's own gradients are right
                located = (f"layer {layers[0] + 1}'s own gradients are right and layer {layers[0]}'s are not: what "
                           f"layer {layers[0] + 1}'s backward pass hands down to the layer below (the gradient "
                           f"_hidden_backward returns, through the norm's backward step and the affine step) is "
                           f"wrong")
            elif config[0] is not None:
                located = _at_the_norm(wrong, layers[0], probes)
            elif single == ["the sigmoid"]:
                measured = _sigmoid_step_words(cls)
            elif single == ["dropout"]:
                measured = _dropout_step_words(cls, config[2])
            if located:
                verdict = f"the plain network's gradients are right; they go wrong with {features}. Measured {located}"
            elif measured:
                verdict = f"the plain network's gradients are right; they go wrong with {features}; measured {measured}"
        else:
            verdict = (f"the gradients are right with each feature alone and go wrong only with {combined}: "
                       f"look at how the steps hand their gradients to each other")
    raise CheckFailed(
        f"FullyConnectedNet ({_label(*config)}): gradients that disagree with numeric ones: "
        f"{details}. The deepest layer with a wrong gradient is layer {layers[0]} (layer 3 is the "
        f"output layer; backpropagation reaches the deepest first).\nComparing small networks that differ in "
        f"one feature each: {verdict}.", BACKWARD_EXERCISE, "backward " + first_feature,
    )


@reference.for_checks
def check_fc_net_backward(FullyConnectedNet=None):
    """Check every gradient of FullyConnectedNet.loss against numeric gradients."""
    cls = FullyConnectedNet or package_function("fc_net", "FullyConnectedNet")
    try:
        _verify_fc_net_forward(cls)
    except CheckFailed as err:
        raise CheckFailed(
            f"the network's backward pass cannot be checked until its forward pass passes "
            f"check_fc_net_forward. {err.message}", FORWARD_EXERCISE, "forward first",
        ) from err
    _verify_fc_net_backward(cls)
    passed("FullyConnectedNet backward", "every gradient matches its numeric gradient, with batch "
           "norm, layer norm and dropout")
