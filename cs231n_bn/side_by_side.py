"""Our SmallConvNet, its Keras 3 copy and its PyTorch copy: one training step, and training.

All three take the same step: mean softmax cross-entropy, then SGD with momentum
(v <- mu v - lr g, w <- w + v; PyTorch's form, buf <- mu buf + g, w <- w - lr buf, is the
same rule for a constant lr). `one_step` compares one step of each with ours, quantity
by quantity; `train` trains the three on the same batches and times their steps.
"""

import copy
from dataclasses import dataclass, field
import time

import numpy as np

from cs231n_bn import framework_convnet as fc
from cs231n_bn import validation
from cs231n_bn.optim import sgd_momentum

FRAMEWORKS = ("ours", "Keras", "PyTorch")


# ---------------------------------------------------------------------------------------
# One step of each
# ---------------------------------------------------------------------------------------

def ours_step(net, X, y, configs, learning_rate, momentum):
    """One SGD-with-momentum step of our network (its params change); returns (loss, grads).

    configs: dict of per-parameter sgd_momentum configs (filled on the first step).
    """
    loss, grads = net.loss(X, y)
    for name, w in net.params.items():
        config = configs.setdefault(name, {"learning_rate": learning_rate, "momentum": momentum})
        net.params[name], configs[name] = sgd_momentum(w, grads[name], config)
    return loss, grads


def keras_loss():
    """Keras's mean softmax cross-entropy of integer labels, from class scores."""
    return fc.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def keras_gradients(model, x, y, variables):
    """Loss and its gradients for `variables` of a Keras model, in training mode.

    The forward pass updates batch norm's moving statistics, as a training step does.
    Keras 3 has no backend-independent gradient call: TensorFlow records with a
    GradientTape, PyTorch with autograd.

    Inputs:
    - model: Keras model; x: (N, H, W, C) float32 images; y: (N,) integer labels
    - variables: list of the model's trainable variables

    Returns a tuple of:
    - loss: float
    - grads: list of backend tensors, one per variable
    """
    backend = fc.keras_backend()
    loss_fn = keras_loss()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return float(loss), tape.gradient(loss, variables)
    for v in variables:
        v.value.grad = None
    loss = loss_fn(y, model(x, training=True))
    loss.backward()
    return float(loss.detach()), [v.value.grad for v in variables]


def _to_numpy(t, dtype):
    return np.asarray(fc.keras.ops.convert_to_numpy(t), dtype=dtype)


def keras_step(model, optimizer, net, x, y):
    """One step of a Keras model with `optimizer`; returns (loss, grads in our names and layouts).

    net: the SmallConvNet the model mirrors (only its layer list and dtype are read).
    """
    layers = fc.layers_of(net)
    pairs = fc.keras_weighted_layers("keras_step", model, layers)
    variables = [v for _, layer in pairs for v in layer.trainable_weights]
    loss, raw = keras_gradients(model, x, y, variables)
    optimizer.apply(raw, variables)
    grads, i = {}, 0
    for ours, layer in pairs:
        first, second = ours["params"]
        a, b = (_to_numpy(g, net.dtype) for g in raw[i:i + 2])
        i += 2
        if ours["kind"] == "conv":
            a, b = fc.conv_from_keras(a, b)
        elif ours["kind"] == "affine":
            a, b = fc.affine_from_keras(a, b, fc.feature_shape(layers))
        grads[first], grads[second] = a, b
    return loss, grads


def torch_step(module, optimizer, net, x, y):
    """One step of a PyTorch module with `optimizer`; returns (loss, grads in our names and layouts)."""
    torch = fc.torch
    module.train()
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(module(x), y)
    loss.backward()
    optimizer.step()
    grads, _ = fc.from_torch(module, net, gradients=True)
    return float(loss.detach()), grads


def keras_optimizer(learning_rate, momentum):
    """Keras's SGD with momentum (its momentum is ours: the velocity's decay)."""
    return fc.keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)


def torch_optimizer(module, learning_rate, momentum):
    """PyTorch's SGD with momentum over the module's parameters."""
    return fc.torch.optim.SGD(module.parameters(), lr=learning_rate, momentum=momentum)


def difference(ours, theirs, scale=None):
    """max |ours - theirs| / scale, scale defaulting to max |ours| (1 if that is 0)."""
    scale = np.max(np.abs(ours)) if scale is None else scale
    return float(np.max(np.abs(np.asarray(ours) - np.asarray(theirs))) / (scale or 1.0))


@dataclass
class StepComparison:
    """What one step of a framework gave, compared with ours (differences as `difference`).

    - forward: the class scores in inference mode, before the step
    - loss: the step's loss (relative)
    - grads: per layer ("conv 1", "batch norm 1", "affine"), its two gradients relative to
      the layer's largest gradient entry (a conv bias before batch norm gets none)
    - params: per layer, its two updated parameters, relative to their largest entry
    - running: per block, the framework's running mean and variance after the step against
      ours (ours converted with torch_channel_running_var for PyTorch's variance)
    - var_update_ratio: per block, (framework's running_var - m) / (ours - m): what the
      framework adds to the running variance, relative to ours (measured)
    """

    forward: float
    loss: float
    grads: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    running: dict = field(default_factory=dict)
    var_update_ratio: dict = field(default_factory=dict)

    def worst(self):
        """The largest difference of all."""
        return max([self.forward, self.loss, *self.grads.values(), *self.params.values(), *self.running.values()])


def _layer_names(layers):
    names, blocks = {}, 0
    for layer in layers:
        if layer["kind"] == "conv":
            blocks += 1
            names[layer["params"]] = f"conv {blocks}"
        elif layer["kind"] == "spatial_batchnorm":
            names[layer["params"]] = f"batch norm {layer['block']}"
        elif layer["kind"] == "affine":
            names[layer["params"]] = "affine"
    return names


def _compare(net_before, net_after, scores, loss, grads, theirs):
    """StepComparison of a framework's (scores, loss, grads, params, bn_params) with ours."""
    their_scores, their_loss, their_grads, their_params, their_bn = theirs
    result = StepComparison(forward=difference(scores, their_scores), loss=difference(loss, their_loss))
    for (first, second), name in _layer_names(fc.layers_of(net_before)).items():
        ours_pair = np.concatenate([grads[first].ravel(), grads[second].ravel()])
        their_pair = np.concatenate([their_grads[first].ravel(), their_grads[second].ravel()])
        result.grads[name] = difference(ours_pair, their_pair, np.max(np.abs(ours_pair)))
    for (first, second), name in _layer_names(fc.layers_of(net_before)).items():
        ours_pair = np.concatenate([net_after.params[first].ravel(), net_after.params[second].ravel()])
        their_pair = np.concatenate([their_params[first].ravel(), their_params[second].ravel()])
        result.params[name] = difference(ours_pair, their_pair)
    for i, (before, after, bn) in enumerate(zip(net_before.bn_params, net_after.bn_params, their_bn), start=1):
        m = before.get("momentum", fc.DEFAULT_MOMENTUM)
        start = m * before["running_var"]
        result.running[f"running_mean {i}"] = difference(after["running_mean"], bn["running_mean"])
        result.running[f"running_var {i}"] = difference(bn["expected_var"], bn["running_var"])
        result.var_update_ratio[i] = float(np.median((bn["running_var"] - start) / (after["running_var"] - start)))
    return result


def one_step(net, X, y, keras_model=None, learning_rate=0.05, momentum=0.9, frameworks=("Keras", "PyTorch")):
    """One forward pass in inference mode, then one training step, of ours and both frameworks.

    net is copied, not changed. The frameworks' models start from its weights and
    statistics (through the converters); they are compared with ours after the step.

    Inputs:
    - net: SmallConvNet (batch norm or none); X: (N, C, H, W) images; y: (N,) labels
    - learning_rate, momentum: SGD with momentum's
    - keras_model: a Keras model of net's layers (notebook 9's exercise builds one); its
      weights are overwritten. Needed when "Keras" is compared.
    - frameworks: which of "Keras" and "PyTorch" to compare

    Returns:
    - dict {framework: StepComparison}
    """
    where = "one_step"
    frameworks = tuple(frameworks)
    if not frameworks or not set(frameworks) <= {"Keras", "PyTorch"}:
        raise ValueError(f"{where}: frameworks must name some of 'Keras', 'PyTorch'; got {frameworks!r}")
    fc.require(where, *({"Keras": "keras", "PyTorch": "torch"}[name] for name in frameworks))
    if "Keras" in frameworks and keras_model is None:
        raise ValueError(f"{where}: comparing Keras needs keras_model, a Keras model of net's layers; got None")
    validation.float_array(where, "X", X, ndim=4)
    before = copy.deepcopy(net)
    ours = copy.deepcopy(net)
    scores = ours.loss(X)
    loss, grads = ours_step(ours, X, y, {}, learning_rate, momentum)

    results = {}
    if "Keras" in frameworks:
        results["Keras"] = _keras_one_step(before, ours, X, y, learning_rate, momentum, keras_model, scores, loss, grads)
    if "PyTorch" in frameworks:
        results["PyTorch"] = _torch_one_step(before, ours, X, y, learning_rate, momentum, scores, loss, grads)
    return results


def _keras_one_step(before, ours, X, y, learning_rate, momentum, keras_model, scores, loss, grads):
    model = fc.to_keras(before, keras_model)
    x_k = fc.nhwc(X)
    their_scores = _to_numpy(model(x_k, training=False), before.dtype)
    their_loss, their_grads = keras_step(model, keras_optimizer(learning_rate, momentum), before, x_k, y)
    params, bn = fc.from_keras(model, before)
    for entry, after in zip(bn, ours.bn_params):
        entry["expected_var"] = after["running_var"]  # Keras keeps ours, measured below
    return _compare(before, ours, scores, loss, grads, (their_scores, their_loss, their_grads, params, bn))


def _torch_one_step(before, ours, X, y, learning_rate, momentum, scores, loss, grads):
    torch = fc.torch
    layers = fc.layers_of(before)
    module = fc.to_torch(before, fc.torch_convnet(layers))
    x_t, y_t = torch.from_numpy(np.asarray(X, dtype=np.float32)), torch.from_numpy(np.asarray(y, dtype=np.int64))
    with torch.no_grad():
        their_scores = module.eval()(x_t).numpy().astype(before.dtype)
    their_loss, their_grads = torch_step(module, torch_optimizer(module, learning_rate, momentum), before, x_t, y_t)
    params, bn = fc.from_torch(module, before)
    norms = [layer for layer in layers if layer["kind"] == "spatial_batchnorm"]
    for entry, start, after, norm in zip(bn, before.bn_params, ours.bn_params, norms):
        # relation (*) applied to ours: k = 1 step of N*H_i*W_i positions
        _, H_i, W_i = norm["shape"]
        entry["expected_var"] = fc.torch_channel_running_var(after["running_var"], norm["momentum"],
                                                             X.shape[0] * H_i * W_i, 1, start=start["running_var"])
    return _compare(before, ours, scores, loss, grads, (their_scores, their_loss, their_grads, params, bn))


# ---------------------------------------------------------------------------------------
# Training side by side
# ---------------------------------------------------------------------------------------

@dataclass
class Run:
    """One framework's training run.

    - loss: (steps,) training loss of every step
    - eval_steps: the steps after which accuracies were measured (0 = before training)
    - train_acc, val_acc: accuracies at eval_steps (inference mode; train_acc on a fixed
      sample of the training images)
    - step_seconds: (steps,) wall time of every step
    - steps_per_epoch: training steps in one pass over the training images
    """

    loss: np.ndarray
    eval_steps: np.ndarray
    train_acc: np.ndarray
    val_acc: np.ndarray
    step_seconds: np.ndarray
    steps_per_epoch: int

    def seconds_per_epoch(self):
        """Median step time times the steps of one epoch."""
        return float(np.median(self.step_seconds)) * self.steps_per_epoch


def train(net, data, keras_model, num_steps, batch_size=32, learning_rate=0.05, momentum=0.9, eval_every=25, seed=0,
          train_sample=300):
    """Train ours, a Keras copy and a PyTorch copy of net on the same batches.

    All three start from net's weights (net is copied, not changed), see the same batches
    in the same order (a new permutation each epoch, the incomplete last batch dropped)
    and take the same SGD-with-momentum steps. The three steps of each batch run one
    after the other, in an order that rotates, so that they share the machine's state.

    Inputs:
    - net: SmallConvNet; data: dict with X_train, y_train, X_val, y_val ((N, C, H, W) images)
    - keras_model: a Keras model of net's layers (notebook 9's exercise builds one); its
      weights are overwritten
    - num_steps, batch_size, learning_rate, momentum, eval_every, seed: the run's settings
    - train_sample: how many training images the training accuracy is measured on

    Returns:
    - dict {"ours", "Keras", "PyTorch"} -> Run
    """
    where = "side_by_side.train"
    fc.require(where, "keras", "torch")
    torch = fc.torch
    num_steps = validation.positive_int(where, "num_steps", num_steps)
    batch_size = validation.positive_int(where, "batch_size", batch_size)
    eval_every = validation.positive_int(where, "eval_every", eval_every)
    X, y = data["X_train"].astype(net.dtype), data["y_train"]
    if batch_size > len(y):
        raise ValueError(f"{where}: batch_size must be at most the {len(y)} training images; got {batch_size}")
    rng = np.random.default_rng(seed)
    layers = fc.layers_of(net)
    ours = copy.deepcopy(net)
    configs = {}
    model = fc.to_keras(net, keras_model)
    model.compile(optimizer=keras_optimizer(learning_rate, momentum), loss=keras_loss())
    module = fc.to_torch(net, fc.torch_convnet(layers))
    optimizer = torch_optimizer(module, learning_rate, momentum)

    X_k, X_t, y_t = fc.nhwc(X), torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.int64))
    sample = rng.choice(len(y), size=min(train_sample, len(y)), replace=False)
    evaluated = {"train": (X[sample], y[sample]), "val": (data["X_val"].astype(net.dtype), data["y_val"])}

    def accuracies():
        acc = {}
        module.eval()
        for split, (Xs, ys) in evaluated.items():
            with torch.no_grad():
                torch_scores = module(torch.from_numpy(Xs.astype(np.float32))).numpy()
            keras_scores = _to_numpy(model(fc.nhwc(Xs), training=False), np.float32)
            for name, s in (("ours", ours.loss(Xs)), ("Keras", keras_scores), ("PyTorch", torch_scores)):
                acc[name, split] = float(np.mean(np.argmax(s, axis=1) == ys))
        return acc

    def step_ours(idx):
        return ours_step(ours, X[idx], y[idx], configs, learning_rate, momentum)[0]

    def step_keras(idx):
        return float(np.asarray(model.train_on_batch(X_k[idx], y[idx])))

    def step_torch(idx):
        module.train()
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(module(X_t[idx]), y_t[idx])
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    steps = {"ours": step_ours, "Keras": step_keras, "PyTorch": step_torch}
    per_epoch = len(y) // batch_size
    losses = {name: np.zeros(num_steps) for name in FRAMEWORKS}
    seconds = {name: np.zeros(num_steps) for name in FRAMEWORKS}
    eval_steps, acc_history = [0], [accuracies()]
    order = list(FRAMEWORKS)
    for step in range(num_steps):
        if step % per_epoch == 0:
            permutation = rng.permutation(len(y))
        idx = permutation[(step % per_epoch) * batch_size:(step % per_epoch + 1) * batch_size]
        for name in order:
            start = time.perf_counter()
            losses[name][step] = steps[name](idx)
            seconds[name][step] = time.perf_counter() - start
        order = order[1:] + order[:1]
        if (step + 1) % eval_every == 0 or step + 1 == num_steps:
            eval_steps.append(step + 1)
            acc_history.append(accuracies())
    return {
        name: Run(loss=losses[name], eval_steps=np.array(eval_steps),
                  train_acc=np.array([a[name, "train"] for a in acc_history]),
                  val_acc=np.array([a[name, "val"] for a in acc_history]),
                  step_seconds=seconds[name], steps_per_epoch=per_epoch)
        for name in FRAMEWORKS
    }
