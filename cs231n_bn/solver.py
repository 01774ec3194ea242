"""Train a classifier with minibatch gradient descent, keeping the best checkpoint (CS231n-style).

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=10, batch_size=100)
    solver.train()
    solver.loss_history, solver.train_acc_history, solver.val_acc_history   # for plots
    model.loss(X_test)   # scores of the best checkpoint

The keywords are CS231n's, with CS231n's meaning (update_rule, optim_config, lr_decay,
batch_size, num_epochs, num_train_samples, num_val_samples, checkpoint_name, print_every,
verbose), so CS231n's training cells run unchanged. Where this Solver differs, on purpose:
- the best checkpoint includes the batch-norm running statistics (`model.bn_params`), not
  only the weights: test-mode predictions depend on both, so restoring the weights alone
  gives a network whose validation accuracy is not the one that was recorded;
- accuracy on a sample of a split is measured on a sample drawn WITHOUT replacement;
- an epoch is a pass over a fresh permutation of the training set (every image once),
  drawn from the Solver's own `seed`, so the same arguments give the same run;
- the first accuracy is measured before the first step (CS231n measures after it);
- a step whose loss overflows or turns NaN stops training and is recorded as divergence,
  instead of filling the history with NaNs and the output with warnings; so do scores that
  are not finite when accuracy is measured (NaN in X_val, say);
- `verbose=True` alone shows a progress bar; CS231n's lines ("(Iteration 1 / 40) loss:
  ...", "(Epoch 0 / 20) train acc: ...") are printed when `print_every` is given, as in
  CS231n's cells (CS231n prints them every 10 steps unless told otherwise);
- `eval_every` evaluates every so many steps, for curves finer than one point per epoch;
- `train()` first lets glibc keep the memory the process frees (cs231n_bn.allocator): every
  step allocates the arrays that the step before freed, and glibc would otherwise hand them
  back to the operating system in between, to fault them in again, page by page (a
  CIFAR-10-sized convnet step took two to three times as long that way).
"""

import copy
import numbers
import os
import pickle
from collections.abc import Mapping
from contextlib import contextmanager

import numpy as np
from tqdm.auto import tqdm

from cs231n_bn import optim, validation
from cs231n_bn.allocator import keep_freed_memory


def _positive_int(where, name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where}: {name} must be an integer >= 1; got {value!r}")
    return int(value)


def _split(where, data, split):
    """data['X_<split>'] and data['y_<split>'] as arrays of the same length, or raise."""
    arrays = []
    for key in (f"X_{split}", f"y_{split}"):
        if key not in data:
            raise KeyError(f"{where}: data must have the key {key!r}; got keys {sorted(data)}")
        if not isinstance(data[key], np.ndarray) or data[key].ndim == 0:
            raise TypeError(f"{where}: data[{key!r}] must be a numpy array of samples; got {type(data[key]).__name__}")
        arrays.append(data[key])
    X, y = arrays
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(
            f"{where}: data['y_{split}'] must hold one label per sample of data['X_{split}'], shape "
            f"({len(X)},); got shape {y.shape}"
        )
    if len(X) == 0:
        raise ValueError(f"{where}: data['X_{split}'] holds no samples")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{where}: data['y_{split}'] must hold integer class labels; got dtype {y.dtype}")
    if y.min() < 0:
        raise ValueError(f"{where}: data['y_{split}'] must hold class labels >= 0; got {y.min()}")
    return X, y


def _fits_model(where, model, X, y, split):
    """Raise, naming data['X_<split>'] or data['y_<split>'], unless the model scores X and y's classes.

    One forward pass (test mode) on two samples, so that data the model cannot take is
    refused here, under the Solver's name and the split's, not in the middle of training.
    """
    try:
        scores = model.loss(X[:2])
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"{where}: data['X_{split}'], of shape {X.shape}, does not suit the model (tried on its first "
            f"samples): {error}"
        ) from error
    if isinstance(scores, np.ndarray) and scores.ndim == 2 and y.max() >= scores.shape[1]:
        raise ValueError(
            f"{where}: data['y_{split}'] must hold labels in [0, {scores.shape[1] - 1}], one per class the "
            f"model scores; got {y.max()}"
        )


def _model(where, model):
    """Raise unless `model` has CS231n's interface: a dict `params` and a method `loss`."""
    if not isinstance(getattr(model, "params", None), dict) or not callable(getattr(model, "loss", None)):
        raise TypeError(
            f"{where}: model must have a dict `params` (name -> array) and a method `loss(X, y=None)`, "
            f"like FullyConnectedNet; got {type(model).__name__}"
        )
    return model


def _rule_name(update_rule):
    return getattr(update_rule, "__name__", type(update_rule).__name__)


@contextmanager
def _progress_bar(total, desc, enabled):
    """A live progress bar that leaves nothing behind once training is over.

    In a terminal, tqdm's text bar is erased when it closes (leave=False). In Jupyter the bar
    is a widget, and the text stored with its output (all that a notebook opened without
    running shows) is the bar as it was when displayed: 0%, looking frozen forever. So the
    widget is shown here with an empty text, and its output is emptied when the bar closes.
    """
    if enabled:
        # Imported here: it imports ipywidgets, which would slow down `import cs231n_bn` for
        # every user of the package (in Jupyter, tqdm.auto has imported it already).
        from tqdm.notebook import tqdm as notebook_tqdm
    if not enabled or not issubclass(tqdm, notebook_tqdm):
        with tqdm(total=total, desc=desc, disable=not enabled, leave=False) as bar:
            yield bar
        return
    from IPython.display import display  # there whenever tqdm.auto chose Jupyter's widget

    bar = tqdm(total=total, desc=desc, leave=False, display=False)
    view = bar.container._repr_mimebundle_()
    view["text/plain"] = ""
    handle = display(view, raw=True, display_id=True)
    try:
        yield bar
    finally:
        bar.close()
        handle.update({"text/plain": ""}, raw=True)


class Solver:
    """Minibatch training of a model with CS231n's interface: model.params, model.loss(X, y)."""

    def __init__(
        self,
        model,
        data,
        *,
        update_rule="sgd",
        optim_config=None,
        lr_decay=1.0,
        batch_size=100,
        num_epochs=10,
        num_train_samples=1000,
        num_val_samples=None,
        checkpoint_name=None,
        print_every=None,
        verbose=True,
        eval_every=None,
        on_evaluate=None,
        seed=0,
        desc=None,
    ):
        """Set up training; nothing is trained until train().

        Inputs (all but model and data by keyword, as in CS231n):
        - model: has `params` (dict name -> array), `loss(X, y=None)`, and optionally
          `bn_params` (list of dicts holding running statistics)
        - data: dict with X_train, y_train, X_val, y_val (numpy arrays, one label per sample)
        - update_rule: "sgd", "sgd_momentum", "rmsprop", "adam", or a function with optim's
          interface
        - optim_config: hyperparameters for the update rule, e.g. {"learning_rate": 1e-3};
          each parameter gets its own copy (and its own state); the dict given is not changed
        - lr_decay: the learning rate is multiplied by this after every epoch
        - batch_size: samples per step, at least 2 (batch norm needs two to estimate a variance)
        - num_epochs: passes over the training set
        - num_train_samples: training accuracy is measured on a sample of this many images
          drawn without replacement (None: the whole training set)
        - num_val_samples: the same for validation (None, the default: the whole split)
        - checkpoint_name: if given, the state after every epoch (and before the first) is
          pickled to "<checkpoint_name>_epoch_<epoch>.pkl", with CS231n's keys (model,
          update_rule, lr_decay, optim_config, batch_size, num_train_samples,
          num_val_samples, epoch, loss_history, train_acc_history, val_acc_history) plus
          the best checkpoint so far (best_val_acc, best_params, best_bn_params); None
          (the default) writes no file
        - print_every: with verbose, print CS231n's lines: the loss every print_every steps
          and the accuracies at every evaluation; None (the default) prints no line
        - verbose: False is silent; True shows a progress bar (tqdm.auto: a widget in
          Jupyter, text elsewhere) or, with print_every, CS231n's lines
        - eval_every: evaluate every this many steps (default: once per epoch); training
          and validation accuracy are also measured before the first step and after the last
        - on_evaluate: optional function called as on_evaluate(solver) after every evaluation
        - seed: seed of the minibatch order and of the accuracy samples
        - desc: label of the progress bar
        """
        where = "Solver"
        if not isinstance(data, Mapping):
            raise TypeError(
                f"{where}: data must be a dict of arrays (X_train, y_train, X_val, y_val); got {type(data).__name__}"
            )
        self.model = _model(where, model)
        self.X_train, self.y_train = _split(where, data, "train")
        self.X_val, self.y_val = _split(where, data, "val")
        if isinstance(update_rule, str):
            if update_rule not in optim.UPDATE_RULES:
                options = ", ".join(repr(name) for name in optim.UPDATE_RULES)
                raise ValueError(f"{where}: update_rule must be one of {options} or a function; got {update_rule!r}")
            update_rule = optim.UPDATE_RULES[update_rule]
        elif not callable(update_rule):
            raise TypeError(f"{where}: update_rule must be a name or a function; got {type(update_rule).__name__}")
        self.update_rule = update_rule
        if optim_config is not None and not isinstance(optim_config, dict):
            raise TypeError(f"{where}: optim_config must be a dict or None; got {type(optim_config).__name__}")
        self.optim_config = dict(optim_config or {})
        if update_rule in optim.UPDATE_RULES.values():
            # A dry step on one number: a bad learning rate or a misspelled key is refused now,
            # under the Solver's name, not at the first step of training.
            try:
                update_rule(np.zeros(1), np.zeros(1), copy.deepcopy(self.optim_config))
            except (TypeError, ValueError) as error:
                raise type(error)(f"{where}: optim_config does not suit update_rule {_rule_name(update_rule)!r}: {error}") from error
        if not isinstance(lr_decay, numbers.Real) or isinstance(lr_decay, bool) or not 0 < lr_decay <= 1:
            raise ValueError(f"{where}: lr_decay must be a number in (0, 1]; got {lr_decay!r}")
        self.lr_decay = float(lr_decay)
        self.batch_size = _positive_int(where, "batch_size", batch_size)
        num_train = self.X_train.shape[0]
        if not 2 <= self.batch_size <= num_train:
            raise ValueError(
                f"{where}: batch_size must be between 2 and the {num_train} training samples (batch norm "
                f"estimates a variance from each batch, which one sample cannot give); got {batch_size}"
            )
        self.num_epochs = _positive_int(where, "num_epochs", num_epochs)
        self.num_train_samples = None if num_train_samples is None else _positive_int(where, "num_train_samples", num_train_samples)
        self.num_val_samples = None if num_val_samples is None else _positive_int(where, "num_val_samples", num_val_samples)
        if checkpoint_name is not None and not isinstance(checkpoint_name, (str, os.PathLike)):
            raise TypeError(
                f"{where}: checkpoint_name must be a file name prefix (a string) or None; "
                f"got {type(checkpoint_name).__name__}"
            )
        self.checkpoint_name = checkpoint_name
        self.print_every = None if print_every is None else _positive_int(where, "print_every", print_every)
        # Drop the last incomplete batch: a batch of one would break batch norm's variance.
        self.iterations_per_epoch = num_train // self.batch_size
        self.num_iterations = self.num_epochs * self.iterations_per_epoch
        self.eval_every = self.iterations_per_epoch if eval_every is None else _positive_int(where, "eval_every", eval_every)
        if on_evaluate is not None and not callable(on_evaluate):
            raise TypeError(
                f"{where}: on_evaluate must be a function called as on_evaluate(solver), or None; "
                f"got {type(on_evaluate).__name__}"
            )
        self.on_evaluate = on_evaluate
        validation.seed(where, "seed", seed, allow_none=False)
        # Two generators, so that measuring accuracy more often does not change the batches.
        self.rng = np.random.default_rng(seed)
        self.sample_rng = np.random.default_rng([seed, 1])
        self.verbose = verbose
        self.desc = desc
        # Last, after every other argument passed: the probe runs the model (in test mode).
        for split, X, y in (("train", self.X_train, self.y_train), ("val", self.X_val, self.y_val)):
            _fits_model(where, self.model, X, y, split)
        self._reset()

    def _reset(self):
        """Forget all training history and start the update rules' states afresh."""
        self.epoch = 0
        self.step_count = 0
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.eval_steps = []
        self.best_val_acc = -1.0
        self.best_step = None
        self.best_params = None
        self.best_bn_params = None
        self.diverged_at = None
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Fraction of samples the model classifies correctly, in test mode.

        Inputs:
        - X: (N, d_1, ..., d_k) data
        - y: (N,) labels
        - num_samples: if given and less than N, measure on this many samples drawn without
          replacement (each sample at most once, so the estimate has no duplicate votes)
        - batch_size: samples per forward pass, to bound memory

        Returns:
        - accuracy: float in [0, 1]
        """
        where = "Solver.check_accuracy"
        if not isinstance(X, np.ndarray) or X.ndim == 0 or X.shape[0] == 0:
            got = f"shape {X.shape}" if isinstance(X, np.ndarray) else type(X).__name__
            raise ValueError(f"{where}: X must be a numpy array of at least one sample; got {got}")
        N = X.shape[0]
        if not isinstance(y, np.ndarray) or y.shape != (N,) or not np.issubdtype(y.dtype, np.integer):
            got = f"{y.dtype} array of shape {y.shape}" if isinstance(y, np.ndarray) else type(y).__name__
            raise ValueError(f"{where}: y must hold one integer label per sample of X, shape ({N},); got {got}")
        if num_samples is not None:
            _positive_int(where, "num_samples", num_samples)
        batch_size = _positive_int(where, "batch_size", batch_size)
        if num_samples is not None and num_samples < N:
            mask = self.sample_rng.choice(N, size=num_samples, replace=False)
            X, y = X[mask], y[mask]
            N = num_samples
        correct = 0
        for start in range(0, N, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            labels = y[start : start + batch_size]
            if labels.max() >= scores.shape[1]:
                raise ValueError(
                    f"Solver.check_accuracy: labels y must lie in [0, {scores.shape[1] - 1}], one per class the model "
                    f"scores; got label {labels.max()}"
                )
            if not np.isfinite(scores).all():
                # NaN or inf scores (from the weights or from the data) have no argmax worth counting
                raise FloatingPointError(
                    "Solver.check_accuracy: the model's scores are not finite (NaN or inf in X, or in the weights)"
                )
            correct += int(np.sum(np.argmax(scores, axis=1) == labels))
        return correct / N

    def _update(self, name, w, dw):
        """Run the update rule on one parameter; raise naming it unless it returns (next_w, config)."""
        result = self.update_rule(w, dw, self.optim_configs[name])
        if not (isinstance(result, tuple) and len(result) == 2):
            got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
            raise TypeError(
                f"Solver: the update rule {_rule_name(self.update_rule)} must return a tuple (next_w, config); "
                f"for params[{name!r}] it returned {got}"
            )
        next_w, config = result
        if not isinstance(next_w, np.ndarray) or next_w.shape != w.shape:
            got = f"shape {next_w.shape}" if isinstance(next_w, np.ndarray) else type(next_w).__name__
            raise ValueError(
                f"Solver: the update rule {_rule_name(self.update_rule)} must return next_w of the shape of w, "
                f"{w.shape}, for params[{name!r}]; got {got}"
            )
        if not isinstance(config, dict):
            raise TypeError(
                f"Solver: the update rule {_rule_name(self.update_rule)} must return its config dict as the "
                f"second item; for params[{name!r}] it returned {type(config).__name__}"
            )
        return next_w, config

    def _step(self, X_batch, y_batch):
        """One gradient step on a minibatch. Returns False if the loss overflowed or became NaN."""
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            try:
                loss, grads = self.model.loss(X_batch, y_batch)
                updates = {}
                for name, w in self.model.params.items():
                    updates[name], self.optim_configs[name] = self._update(name, w, grads[name])
            except FloatingPointError:
                return False
        if not np.isfinite(loss):
            return False
        self.model.params.update(updates)
        self.loss_history.append(float(loss))
        self.step_count += 1
        return True

    @property
    def _printing(self):
        """True when CS231n's lines are printed instead of a progress bar."""
        return bool(self.verbose) and self.print_every is not None

    def _evaluate(self):
        """Record train/val accuracy at the current step and keep the best checkpoint."""
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            try:
                train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
                val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
            except FloatingPointError:
                self.diverged_at = self.step_count
                if self._printing:
                    print(f"(Epoch {self.epoch} / {self.num_epochs}) the scores are not finite: training stopped")
                return
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self.eval_steps.append(self.step_count)
        if val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_step = self.step_count
            self.best_params = {name: p.copy() for name, p in self.model.params.items()}
            # The running statistics are part of the checkpoint: test mode uses them.
            self.best_bn_params = copy.deepcopy(getattr(self.model, "bn_params", []))
        if self.step_count % self.iterations_per_epoch == 0:
            self._save_checkpoint()
        if self._printing:
            print(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")
        if self.on_evaluate is not None:
            self.on_evaluate(self)

    def _save_checkpoint(self):
        """Pickle the training state to <checkpoint_name>_epoch_<epoch>.pkl, if a name was given."""
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "best_val_acc": self.best_val_acc,
            "best_params": self.best_params,
            "best_bn_params": self.best_bn_params,
        }
        filename = f"{os.fspath(self.checkpoint_name)}_epoch_{self.epoch}.pkl"
        if self._printing:
            print(f'Saving checkpoint to "{filename}"')
        with open(filename, "wb") as f:
            pickle.dump(checkpoint, f)

    def train(self):
        """Run the optimization, then load the best checkpoint (weights and running statistics).

        Returns:
        - self, so that `Solver(...).train()` can be used as a value
        """
        # Steps reuse the memory of the steps before (module docstring); the process keeps
        # at most what one step and one evaluation use.
        keep_freed_memory()
        self._reset()
        self._evaluate()
        # Scores that are not finite before the first step (NaN in the data, say) stop it all.
        iterations = self.num_iterations if self.diverged_at is None else 0
        with _progress_bar(iterations, self.desc, bool(self.verbose) and not self._printing) as bar:
            for t in range(iterations):
                position = t % self.iterations_per_epoch
                if position == 0:
                    order = self.rng.permutation(self.X_train.shape[0])
                batch = order[position * self.batch_size : (position + 1) * self.batch_size]
                if not self._step(self.X_train[batch], self.y_train[batch]):
                    self.diverged_at = self.step_count
                    if self._printing:
                        print(f"(Iteration {t + 1} / {self.num_iterations}) the loss overflowed: training stopped")
                    break
                bar.update(1)
                if self._printing and t % self.print_every == 0:
                    print(f"(Iteration {t + 1} / {self.num_iterations}) loss: {self.loss_history[-1]:f}")
                if self.step_count % self.iterations_per_epoch == 0:
                    self.epoch += 1
                    if self.epoch < self.num_epochs:
                        for config in self.optim_configs.values():
                            # Every rule in optim fills in its default learning rate on the first step.
                            if "learning_rate" in config:
                                config["learning_rate"] *= self.lr_decay
                if self.step_count % self.eval_every == 0 or self.step_count == self.num_iterations:
                    self._evaluate()
                    if self.diverged_at is not None:
                        break
                    bar.set_postfix(val_acc=f"{self.val_acc_history[-1]:.3f}", refresh=False)
        self.restore_best()
        return self

    def restore_best(self):
        """Put the best checkpoint's parameters and batch-norm statistics back into the model."""
        if self.best_params is None:
            return
        self.model.params = {name: p.copy() for name, p in self.best_params.items()}
        if hasattr(self.model, "bn_params"):
            self.model.bn_params = copy.deepcopy(self.best_bn_params)
