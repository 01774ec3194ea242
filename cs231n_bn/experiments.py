"""The training experiments of notebook 5, as functions of a dataset (digits or CIFAR-10).

Each experiment trains small fully connected networks with and without normalization and
returns plain numbers (frozen dataclasses of arrays), so the notebook only plots and
discusses them, and the tests can run every experiment on a tiny budget:

- compare_normalizations: loss and accuracy curves of a deep net, per normalization;
- weight_scale_sweep, learning_rate_sweep, batch_size_sweep: one hyperparameter varied;
- figure1: the paper's Figure 1 in miniature (sigmoid net, test accuracy and the
  percentiles of one sigmoid's input over training);
- fewer_steps: how many steps the normalized net needs to reach the baseline's best;
- loss_landscape: how much the loss and its gradient change along the gradient direction
  during training (the measurements of Santurkar et al., 2018).

Every function takes the `data` dict of cs231n_bn.data.get_data and a `seed`; the same
arguments always give the same numbers.
"""

import copy
from dataclasses import dataclass
import inspect
import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.cnn import SmallConvNet
from cs231n_bn.fc_net import FullyConnectedNet
from cs231n_bn.solver import Solver

NORMALIZATION_LABELS = {None: "baseline", "batchnorm": "batchnorm", "layernorm": "layernorm", "groupnorm": "groupnorm"}


def label(normalization):
    """The name a normalization is plotted and keyed under ("baseline" for None)."""
    return NORMALIZATION_LABELS[validation.choice("label", "normalization", normalization, tuple(NORMALIZATION_LABELS))]


@dataclass(frozen=True)
class TrainingRun:
    """The history of one training run, as arrays."""

    normalization: str  # "baseline", "batchnorm" or "layernorm"
    loss: np.ndarray  # (steps,) training loss of every step
    eval_steps: np.ndarray  # (evals,) step at which each accuracy was measured (0 = before training)
    train_acc: np.ndarray  # (evals,)
    val_acc: np.ndarray  # (evals,)
    best_val_acc: float
    best_step: int
    diverged_at: object  # step at which the loss overflowed, or None


@dataclass(frozen=True)
class SweepResult:
    """One hyperparameter varied, several normalizations trained at each value."""

    parameter: str  # e.g. "weight_scale"
    values: np.ndarray  # (V,) the values tried
    best_val_acc: dict  # label -> (V,) best validation accuracy at each value
    final_loss: dict  # label -> (V,) mean training loss of the last epoch (nan if diverged)
    diverged: dict  # label -> (V,) bool, True where training stopped on an overflow
    test_acc: dict = None  # label -> (V,) test accuracy of the best checkpoint ({} without a test split)
    models: dict = None  # label -> V trained models (best checkpoints), for measurements after training


@dataclass(frozen=True)
class Figure1Run:
    """One network of the paper's Figure 1: accuracy and one sigmoid input over training."""

    normalization: str
    steps: np.ndarray  # (evals,) training steps at which the measurements were made
    test_acc: np.ndarray  # (evals,) accuracy on the test split
    percentiles: np.ndarray  # (evals, P) percentiles of the chosen sigmoid input over the test split
    levels: tuple  # the P percentile levels, e.g. (15, 50, 85)


@dataclass(frozen=True)
class FewerSteps:
    """Steps to the baseline's best validation accuracy, baseline vs normalized network."""

    target: float  # the baseline's best validation accuracy
    baseline_steps: int  # the step at which the baseline first reached it
    normalized_steps: object  # the step at which the normalized net first reached it, or None
    ratio: float  # baseline_steps / normalized_steps (nan if never reached)


@dataclass(frozen=True)
class LandscapeRun:
    """How the loss changes along the gradient direction, measured during one training run.

    At each measurement, with g the gradient on a fixed probe batch and eta the learning
    rate, the loss and gradient are evaluated at w - k * eta * g for every multiplier k.
    """

    normalization: str
    steps: np.ndarray  # (M,) training steps at which the landscape was probed
    loss: np.ndarray  # (M,) loss on the probe batch at w itself
    loss_range: np.ndarray  # (M,) max - min of the loss over w and the probed points
    gradient_change: np.ndarray  # (M,) max over k of ||grad(w - k eta g) - g|| / ||g||
    multipliers: tuple  # the k values


def make_network(data, hidden_dims, normalization=None, activation="relu", weight_scale=2e-2, reg=0.0, seed=0):
    """A FullyConnectedNet sized for `data` (input size and number of classes from the data)."""
    input_dim = int(np.prod(data["X_train"].shape[1:]))
    num_classes = int(max(data["y_train"].max(), data["y_val"].max())) + 1
    return FullyConnectedNet(
        list(hidden_dims), input_dim=input_dim, num_classes=num_classes, normalization=normalization,
        activation=activation, weight_scale=weight_scale, reg=reg, dtype=data["X_train"].dtype, seed=seed,
    )


def train_network(
    data,
    hidden_dims=(100, 100, 100, 100, 100),
    normalization=None,
    activation="relu",
    weight_scale=2e-2,
    reg=0.0,
    update_rule="adam",
    learning_rate=1e-3,
    lr_decay=1.0,
    batch_size=50,
    num_epochs=10,
    eval_every=None,
    num_train_samples=1000,
    on_evaluate=None,
    seed=0,
    verbose=False,
):
    """Build a network for `data` and train it; the network and the data order share `seed`.

    Inputs: the data dict, then FullyConnectedNet's and Solver's settings (see there).

    Returns:
    - the trained Solver (its model holds the best checkpoint)
    """
    model = make_network(data, hidden_dims, normalization, activation, weight_scale, reg, seed)
    solver = Solver(
        model, data, update_rule=update_rule, optim_config={"learning_rate": learning_rate},
        lr_decay=lr_decay, batch_size=batch_size, num_epochs=num_epochs, eval_every=eval_every,
        num_train_samples=num_train_samples, on_evaluate=on_evaluate, seed=seed, verbose=verbose,
        desc=label(normalization),
    )
    return solver.train()


def summarize(solver, normalization):
    """A TrainingRun with the solver's history."""
    return TrainingRun(
        normalization=label(normalization),
        loss=np.array(solver.loss_history),
        eval_steps=np.array(solver.eval_steps),
        train_acc=np.array(solver.train_acc_history),
        val_acc=np.array(solver.val_acc_history),
        best_val_acc=solver.best_val_acc,
        best_step=solver.best_step,
        diverged_at=solver.diverged_at,
    )


def compare_normalizations(data, normalizations=(None, "batchnorm"), **train_kwargs):
    """Train the same network (same seed, same batches) once per normalization.

    Inputs:
    - data: dict of splits
    - normalizations: e.g. (None, "batchnorm", "layernorm")
    - train_kwargs: passed to train_network (hidden_dims, learning_rate, num_epochs, ...)

    Returns:
    - dict label -> TrainingRun
    """
    return {
        label(norm): summarize(train_network(data, normalization=norm, **train_kwargs), norm)
        for norm in normalizations
    }


def _final_loss(solver):
    """Mean training loss over the last epoch's steps, nan if training diverged."""
    if solver.diverged_at is not None:
        return np.nan
    return float(np.mean(solver.loss_history[-solver.iterations_per_epoch :]))


def fully_connected(
    data, normalization=None, seed=0, hidden_dims=(100, 100, 100, 100, 100), activation="relu", weight_scale=2e-2,
    reg=0.0,
):
    """A FullyConnectedNet for `data` with train_network's defaults: sweep's model for notebook 5."""
    return make_network(data, hidden_dims, normalization, activation, weight_scale, reg, seed)


def convnet(
    data, normalization=None, seed=0, num_filters=16, filter_size=3, num_groups=4, num_blocks=1,
    block_order="conv-norm-relu-pool", weight_scale=None, reg=0.0,
):
    """A SmallConvNet for `data` (image shape and number of classes from the data): sweep's
    model for notebook 7. The other arguments are SmallConvNet's (see there)."""
    num_classes = int(max(data["y_train"].max(), data["y_val"].max())) + 1
    return SmallConvNet(
        input_dim=data["X_train"].shape[1:], num_filters=num_filters, filter_size=filter_size,
        num_classes=num_classes, normalization=normalization, num_groups=num_groups, num_blocks=num_blocks,
        block_order=block_order, weight_scale=weight_scale, reg=reg, dtype=data["X_train"].dtype, seed=seed,
    )


TRAINING_SETTINGS = ("update_rule", "learning_rate", "momentum", "lr_decay", "batch_size", "num_epochs",
                     "eval_every", "num_train_samples", "on_evaluate", "verbose")


def train_model(
    model, data, update_rule="adam", learning_rate=1e-3, momentum=None, lr_decay=1.0, batch_size=50,
    num_epochs=10, eval_every=None, num_train_samples=1000, on_evaluate=None, seed=0, verbose=False, desc=None,
):
    """Train `model` on `data` with a Solver; returns the trained Solver (best checkpoint restored).

    Inputs: the Solver's settings; `momentum` (for "sgd_momentum") goes into the optimizer's
    config when given, and the optimizer's default is used otherwise.
    """
    optim_config = {"learning_rate": learning_rate}
    if momentum is not None:
        optim_config["momentum"] = momentum
    solver = Solver(
        model, data, update_rule=update_rule, optim_config=optim_config, lr_decay=lr_decay,
        batch_size=batch_size, num_epochs=num_epochs, eval_every=eval_every,
        num_train_samples=num_train_samples, on_evaluate=on_evaluate, seed=seed, verbose=verbose, desc=desc,
    )
    return solver.train()


def sweep(make_model, data, parameter, values, normalizations=(None, "batchnorm"), seed=0, derived=None, **settings):
    """Train once per (normalization, value) with one setting, `parameter`, set to each value.

    The one experiment runner of notebooks 5 and 7. For every normalization and value it
    builds a model with make_model, trains it with train_model (a Solver), and records the
    best validation accuracy, the final training loss, divergence and, when `data` has a
    test split, the test accuracy of the best checkpoint (batch norm in test mode).

        sweep(fully_connected, data, "weight_scale", np.logspace(-4, 0, 13))      # notebook 5
        sweep(convnet, data, "batch_size", [2, 4, 8, 16, 32], ("batchnorm", "groupnorm"),
              seed=1, derived={"learning_rate": lambda b: 0.1 * b / 32},
              update_rule="sgd_momentum", num_blocks=3)                           # notebook 7

    Inputs:
    - make_model: function make_model(data, normalization=..., seed=..., **model_settings)
      returning a model with CS231n's interface, e.g. fully_connected or convnet
    - data: dict of splits (X_train, y_train, X_val, y_val, optionally X_test, y_test)
    - parameter: the setting varied, a keyword of make_model or of train_model
    - values: the values to try
    - normalizations: the normalizations to compare at every value
    - seed: seeds the model's weights and the Solver's batch order (the same at every value)
    - derived: optional dict setting -> function of the value, for settings that follow the
      varied one (e.g. a learning rate proportional to the batch size)
    - settings: everything else, fixed across the sweep. A keyword that make_model accepts
      goes to make_model; the rest (TRAINING_SETTINGS) go to train_model

    Returns:
    - SweepResult; its arrays have one entry per value, its models one trained model
      (best checkpoint) per value
    """
    where = "sweep"
    if not callable(make_model):
        raise TypeError(
            f"{where}: make_model must be a function make_model(data, normalization=..., seed=..., ...) "
            f"such as fully_connected or convnet; got {type(make_model).__name__}"
        )
    model_keywords = set(inspect.signature(make_model).parameters) - {"data", "normalization", "seed"}
    if derived is not None and not isinstance(derived, dict):
        raise TypeError(f"{where}: derived must be a dict setting -> function of the value, or None; got {type(derived).__name__}")
    derived = {} if derived is None else dict(derived)
    for name, f in derived.items():
        if not callable(f):
            raise TypeError(f"{where}: derived[{name!r}] must be a function of the value; got {type(f).__name__}")
    if not isinstance(parameter, str):
        raise TypeError(f"{where}: parameter must be the name of a setting, a string; got {type(parameter).__name__}")
    # Checked before training anything, and even when there are no values to try.
    unknown = sorted(({parameter} | set(settings) | set(derived)) - model_keywords - set(TRAINING_SETTINGS))
    if unknown:
        raise ValueError(
            f"{where}: unknown setting(s) {', '.join(map(repr, unknown))}; known: the keywords of "
            f"{getattr(make_model, '__name__', 'make_model')} ({', '.join(sorted(model_keywords))}) and "
            f"{', '.join(TRAINING_SETTINGS)}"
        )
    # Two values for one setting: whichever won would silently undo the other.
    twice = sorted(({parameter} & (set(settings) | set(derived))) | (set(settings) & set(derived)))
    if twice:
        raise ValueError(
            f"{where}: setting(s) {', '.join(map(repr, twice))} given twice (as the swept parameter, in "
            f"derived or as a fixed setting); give each setting in one place only"
        )
    if isinstance(values, (str, bytes)) or np.ndim(values) != 1 or len(values) == 0:
        got = repr(values) if isinstance(values, (str, bytes)) or np.ndim(values) == 0 else f"shape {np.shape(values)}"
        raise ValueError(f"{where}: values must be a non-empty 1-D sequence of the values to try, e.g. [2, 8, 32]; got {got}")
    values = np.asarray(values)
    if isinstance(normalizations, (str, bytes)) or not hasattr(normalizations, "__iter__"):
        raise TypeError(
            f"{where}: normalizations must be a sequence such as (None, 'batchnorm'); got {normalizations!r}"
        )
    normalizations = tuple(normalizations)
    if not normalizations:
        raise ValueError(f"{where}: normalizations must name at least one, e.g. (None, 'batchnorm'); got ()")
    best, final, diverged, test_acc, models = {}, {}, {}, {}, {}
    for norm in normalizations:
        runs = []
        for v in values:
            chosen = {**settings, parameter: v.item(), **{name: f(v.item()) for name, f in derived.items()}}
            model = make_model(data, normalization=norm, seed=seed,
                               **{k: x for k, x in chosen.items() if k in model_keywords})
            if not isinstance(getattr(model, "params", None), dict) or not callable(getattr(model, "loss", None)):
                missing = " (is a `return` missing?)" if model is None else ""
                raise TypeError(
                    f"{where}: make_model {getattr(make_model, '__name__', '')} must return a model with "
                    f"`params` and `loss`, like FullyConnectedNet; got {type(model).__name__}{missing}"
                )
            training = {k: x for k, x in chosen.items() if k not in model_keywords}
            runs.append(train_model(model, data, seed=seed, desc=label(norm), **training))
        key = label(norm)
        best[key] = np.array([s.best_val_acc for s in runs])
        final[key] = np.array([_final_loss(s) for s in runs])
        diverged[key] = np.array([s.diverged_at is not None for s in runs])
        if "X_test" in data:
            test_acc[key] = np.array([s.check_accuracy(data["X_test"], data["y_test"]) for s in runs])
        models[key] = tuple(s.model for s in runs)
    return SweepResult(
        parameter=parameter, values=values, best_val_acc=best, final_loss=final, diverged=diverged,
        test_acc=test_acc, models=models,
    )


def statistic_noise(model, X, batch_size, seed=0):
    """How far one batch's statistics stray from the whole set's, at the last norm layer.

    The inputs of the model's last norm layer over all of X (model.norm_inputs, test mode)
    are cut, in a seeded random order, into batches of `batch_size` images; for each channel,
    the root-mean-square difference between a batch's mean (and standard deviation) over
    (batch, H, W) and the whole set's is divided by the channel's standard deviation over
    the set. Those relative errors are summarized by their median over the channels.

    Inputs:
    - model: a trained SmallConvNet with norm layers
    - X: (N, C, H, W) images, e.g. the training split
    - batch_size: B, images per batch (N // B whole batches are used)
    - seed: seeds the order of the images

    Returns a tuple of floats (mean_error, std_error), each in units of the channel's std.
    """
    where = "statistic_noise"
    batch_size = validation.positive_int(where, "batch_size", batch_size)
    validation.seed(where, "seed", seed)
    if not hasattr(X, "shape") or len(X) < batch_size:
        got = f"{len(X)} images" if hasattr(X, "shape") else type(X).__name__
        raise ValueError(f"{where}: X must be an array of at least batch_size={batch_size} images; got {got}")
    features = model.norm_inputs(X)[-1][np.random.default_rng(seed).permutation(len(X))]
    N, F, H, W = features.shape
    population_mean = features.mean(axis=(0, 2, 3))
    population_std = features.std(axis=(0, 2, 3))
    batches = features[: N // batch_size * batch_size].reshape(-1, batch_size, F, H, W)
    mean_error = np.sqrt(np.mean((batches.mean(axis=(1, 3, 4)) - population_mean) ** 2, axis=0)) / population_std
    std_error = np.sqrt(np.mean((batches.std(axis=(1, 3, 4)) - population_std) ** 2, axis=0)) / population_std
    return float(np.median(mean_error)), float(np.median(std_error))


def weight_scale_sweep(
    data, weight_scales=np.logspace(-4, 0, 9), normalizations=(None, "batchnorm"), num_epochs=3, **train_kwargs
):
    """Best validation accuracy and final loss against the initial weight scale (log-spaced).

    Without normalization a deep net trains only in a narrow band of scales: too small and
    the signal and gradients vanish layer by layer, too large and they explode. Batch norm
    rescales every hidden layer's output, so the scale of the weights before it matters
    much less (the last, unnormalized layer still feels it).

    Inputs: data, the scales (by default half a decade apart), the normalizations, and
    train_network's other settings (by default 5 hidden layers of 100 ReLUs, Adam at 1e-3,
    batches of 50, 3 epochs: enough for the contrast to show).

    Returns:
    - SweepResult with parameter "weight_scale"
    """
    return sweep(fully_connected, data, "weight_scale", weight_scales, normalizations, num_epochs=num_epochs, **train_kwargs)


def learning_rate_sweep(
    data,
    learning_rates=np.logspace(-3, 1, 9),
    normalizations=(None, "batchnorm"),
    update_rule="sgd_momentum",
    weight_scale=0.1,
    num_epochs=3,
    **train_kwargs,
):
    """Best validation accuracy and final loss against the learning rate (log-spaced).

    SGD with momentum, because Adam's per-parameter scaling would hide part of the effect;
    weight_scale 0.1 (about He's sqrt(2 / 100) for 100 inputs) gives the baseline a fair
    start. A rate too large for the baseline makes its activations and loss overflow,
    which the Solver records as divergence.

    Returns:
    - SweepResult with parameter "learning_rate"
    """
    return sweep(
        fully_connected, data, "learning_rate", learning_rates, normalizations, update_rule=update_rule,
        weight_scale=weight_scale, num_epochs=num_epochs, **train_kwargs,
    )


def batch_size_sweep(
    data,
    batch_sizes=(2, 4, 8, 16, 32, 64),
    normalizations=(None, "batchnorm", "layernorm"),
    weight_scale=0.1,
    num_epochs=2,
    **train_kwargs,
):
    """Best validation accuracy and final loss against the batch size, per normalization.

    Every run sees the same number of epochs (the same images, in more steps when the
    batch is small) with the same learning rate. Batch norm estimates its statistics from
    the batch, so with a few samples per batch they are noisy in training and do not match
    the running averages used at test time; layer norm normalizes each sample on its own
    and does not care.

    Inputs:
    - data: dict of splits
    - batch_sizes: the batch sizes to try, each >= 2
    - normalizations: any of None, "batchnorm", "layernorm"
    - weight_scale, num_epochs, train_kwargs: train_network's settings (by default 5
      hidden layers of 100 ReLUs, Adam at 1e-3, 2 epochs: a batch of 2 then takes about
      1,200 steps on the digits)

    Returns:
    - SweepResult with parameter "batch_size"
    """
    return sweep(
        fully_connected, data, "batch_size", batch_sizes, normalizations, weight_scale=weight_scale, num_epochs=num_epochs,
        **train_kwargs,
    )


def figure1(
    data,
    normalizations=(None, "batchnorm"),
    hidden_dims=(100, 100, 100),
    batch_size=60,
    num_epochs=30,
    eval_every=20,
    update_rule="sgd",
    learning_rate=0.1,
    weight_scale=0.3,
    unit=0,
    levels=(15, 50, 85),
    seed=0,
    verbose=False,
):
    """The paper's Figure 1 in miniature: a sigmoid net trained with and without batch norm.

    Ioffe & Szegedy trained 3 fully connected hidden layers of 100 sigmoid units on MNIST,
    60 images per step, and plotted (a) test accuracy against steps and (b, c) the 15th,
    50th and 85th percentiles of the input of one sigmoid of the last hidden layer. Here
    both are measured on the test split at every evaluation (in test mode, so batch norm
    uses its running statistics).

    Inputs:
    - data: dict of splits (X_test and y_test are used)
    - normalizations: networks to train, e.g. (None, "batchnorm")
    - hidden_dims, batch_size, num_epochs, eval_every, update_rule, learning_rate,
      weight_scale, seed: the training settings (see train_network)
    - unit: which unit of the last hidden layer to follow
    - levels: the percentiles to record

    Returns:
    - dict label -> Figure1Run
    """
    runs = {}
    for norm in normalizations:
        test_acc, percentiles, steps = [], [], []

        def measure(solver):
            z = solver.model.activation_inputs(data["X_test"])[-1][:, unit]
            steps.append(solver.step_count)
            test_acc.append(solver.check_accuracy(data["X_test"], data["y_test"]))
            percentiles.append(np.percentile(z, levels))

        train_network(
            data, hidden_dims=hidden_dims, normalization=norm, activation="sigmoid", weight_scale=weight_scale,
            update_rule=update_rule, learning_rate=learning_rate, batch_size=batch_size, num_epochs=num_epochs,
            eval_every=eval_every, on_evaluate=measure, seed=seed, verbose=verbose,
        )
        runs[label(norm)] = Figure1Run(
            normalization=label(norm), steps=np.array(steps), test_acc=np.array(test_acc),
            percentiles=np.array(percentiles), levels=tuple(levels),
        )
    return runs


def _check_history(where, eval_steps, accuracies):
    """Raise unless the steps are increasing whole numbers >= 0 and the accuracies fractions."""
    numeric = all(np.issubdtype(a.dtype, np.number) and not np.issubdtype(a.dtype, np.complexfloating)
                  for a in (eval_steps, accuracies))
    if not numeric:
        raise TypeError(
            f"{where}: eval_steps and accuracies must be numbers; got dtypes {eval_steps.dtype} and {accuracies.dtype}"
        )
    whole = np.all(np.isfinite(eval_steps)) and np.all(eval_steps == np.floor(eval_steps))
    if not whole or np.any(eval_steps < 0):
        raise ValueError(f"{where}: eval_steps must be whole numbers of steps >= 0; got {eval_steps.tolist()[:8]}")
    if np.any(np.diff(eval_steps) <= 0):
        raise ValueError(
            f"{where}: eval_steps must be increasing (the order the accuracies were measured in); "
            f"got {eval_steps.tolist()[:8]}"
        )
    if not np.all((accuracies >= 0) & (accuracies <= 1)):
        bad = accuracies[~((accuracies >= 0) & (accuracies <= 1))][0]
        hint = " (percent? divide by 100)" if 1 < bad <= 100 else ""
        raise ValueError(f"{where}: accuracies must be fractions in [0, 1]; got {bad!r}{hint}")


def steps_to_reach(eval_steps, accuracies, target):
    """The first step at which an accuracy history reaches `target`, or None if it never does.

    Inputs:
    - eval_steps: (E,) steps at which the accuracies were measured, increasing (a list or array)
    - accuracies: (E,) accuracy at each of those steps
    - target: accuracy to reach, in [0, 1] (reaching it exactly counts)

    Returns:
    - the step as a Python int, or None
    """
    where = "steps_to_reach"
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    if eval_steps.ndim != 1 or accuracies.shape != eval_steps.shape:
        raise ValueError(
            f"{where}: eval_steps and accuracies must be 1-D and of the same length; "
            f"got shapes {eval_steps.shape} and {accuracies.shape}"
        )
    _check_history(where, eval_steps, accuracies)
    target = validation.unit_interval(where, "target", target)
    ### BEGIN SOLUTION
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[0]]) if reached.size else None
    ### END SOLUTION


def fewer_steps(baseline, normalized):
    """How many times fewer steps the normalized run needs to match the baseline's best.

    The paper's headline: batch norm reached the accuracy of its Inception baseline in 14
    times fewer steps. Here the target is the baseline's best validation accuracy; the
    baseline's step count is the step at which it first reached that accuracy.

    Inputs:
    - baseline, normalized: TrainingRun (or anything with eval_steps and val_acc arrays)

    Returns:
    - FewerSteps
    """
    for name, run in (("baseline", baseline), ("normalized", normalized)):
        if not (hasattr(run, "eval_steps") and hasattr(run, "val_acc")):
            raise TypeError(f"fewer_steps: {name} must be a TrainingRun (eval_steps, val_acc); got {type(run).__name__}")
    if np.size(baseline.val_acc) == 0:
        raise ValueError("fewer_steps: baseline.val_acc is empty: the baseline run has no accuracy to reach")
    target = float(np.max(baseline.val_acc))
    baseline_steps = steps_to_reach(baseline.eval_steps, baseline.val_acc, target)
    normalized_steps = steps_to_reach(normalized.eval_steps, normalized.val_acc, target)
    if normalized_steps is None:
        ratio = np.nan
    else:
        # Step 0 is before training: reaching the target there would take no steps at all.
        ratio = baseline_steps / max(normalized_steps, 1)
    return FewerSteps(target=target, baseline_steps=baseline_steps, normalized_steps=normalized_steps, ratio=ratio)


def _flat(grads):
    """All gradients as one float64 vector, in a fixed (sorted-name) order."""
    return np.concatenate([grads[name].ravel() for name in sorted(grads)]).astype(np.float64)


def probe_along_gradient(model, X, y, step, multipliers):
    """Loss at w, loss range and largest relative gradient change along -gradient from w.

    The gradient change is relative to the gradient's own norm, so that networks whose
    gradients differ in scale (as with and without batch norm) can be compared. The model
    is left exactly as it was: its parameters are put back and the running statistics
    that the probing forward passes update are restored.

    Inputs:
    - model: a FullyConnectedNet
    - X, y: the probe batch
    - step: the learning rate eta; the probed points are w - k * eta * g
    - multipliers: the k values

    Returns a tuple (loss, loss_range, gradient_change) of floats; the last two are inf if
    a probed point overflows.
    """
    where = "probe_along_gradient"
    validation.positive_number(where, "step", step)
    sequence = not isinstance(multipliers, (str, bytes)) and np.ndim(multipliers) == 1 and len(multipliers) > 0
    if not sequence or not all(
        isinstance(k, numbers.Real) and not isinstance(k, bool) and np.isfinite(k) for k in multipliers
    ):
        raise ValueError(f"{where}: multipliers must be a non-empty 1-D sequence of finite numbers, e.g. (0.5, 1, 2); got {multipliers!r}")
    if not isinstance(X, np.ndarray) or X.ndim < 1:
        raise TypeError(f"{where}: X must be a numpy array of samples; got {type(X).__name__}")
    if not isinstance(y, np.ndarray) or y.shape != (len(X),):
        got = f"shape {y.shape}" if isinstance(y, np.ndarray) else type(y).__name__
        raise ValueError(f"{where}: y must hold one label per sample of X, shape ({len(X)},); got {got}")
    params, bn_params = model.params, copy.deepcopy(model.bn_params)
    loss0, grads0 = model.loss(X, y)
    g0 = _flat(grads0)
    losses, changes = [loss0], []
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            for k in multipliers:
                model.params = {name: p - (k * step) * grads0[name] for name, p in params.items()}
                loss_k, grads_k = model.loss(X, y)
                losses.append(loss_k)
                changes.append(np.linalg.norm(_flat(grads_k) - g0) / np.linalg.norm(g0))
    except FloatingPointError:
        return float(loss0), np.inf, np.inf
    finally:
        model.params, model.bn_params = params, bn_params
    return float(loss0), float(max(losses) - min(losses)), float(max(changes))


def loss_landscape(
    data,
    normalizations=(None, "batchnorm"),
    hidden_dims=(100, 100, 100, 100, 100),
    weight_scale=0.15,
    update_rule="sgd",
    learning_rate=0.1,
    batch_size=50,
    num_epochs=5,
    eval_every=10,
    multipliers=(0.5, 1.0, 2.0, 4.0),
    seed=0,
    verbose=False,
):
    """Santurkar et al.'s (2018) view of batch norm: a smoother loss along the gradient.

    Each network is trained with plain SGD; every eval_every steps, on one fixed probe
    batch of training images, the loss and gradient are evaluated at several distances
    along the negative gradient (probe_along_gradient). Smaller numbers mean a smoother
    landscape: the gradient predicts the loss, and itself, further ahead. The default
    weight scale (0.15) lets the baseline train to about the same loss, so that the two
    landscapes are compared at similar points of training.

    Inputs:
    - data: dict of splits
    - normalizations: the networks to compare
    - hidden_dims, weight_scale, update_rule, learning_rate, batch_size, num_epochs,
      eval_every, seed: training settings (see train_network)
    - multipliers: the probed distances, in units of one step (learning_rate * gradient)

    Returns:
    - dict label -> LandscapeRun
    """
    probe = np.random.default_rng([seed, 2]).choice(len(data["y_train"]), size=batch_size, replace=False)
    X, y = data["X_train"][probe], data["y_train"][probe]
    runs = {}
    for norm in normalizations:
        steps, records = [], []

        def measure(solver):
            steps.append(solver.step_count)
            records.append(probe_along_gradient(solver.model, X, y, learning_rate, multipliers))

        train_network(
            data, hidden_dims=hidden_dims, normalization=norm, weight_scale=weight_scale, update_rule=update_rule,
            learning_rate=learning_rate, batch_size=batch_size, num_epochs=num_epochs, eval_every=eval_every,
            on_evaluate=measure, seed=seed, verbose=verbose,
        )
        loss, loss_range, gradient_change = (np.array(column) for column in zip(*records))
        runs[label(norm)] = LandscapeRun(
            normalization=label(norm), steps=np.array(steps), loss=loss, loss_range=loss_range,
            gradient_change=gradient_change, multipliers=tuple(multipliers),
        )
    return runs
