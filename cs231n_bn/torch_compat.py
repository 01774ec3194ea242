"""Moving batch-norm state between our `bn_param` and PyTorch's `BatchNorm1d`.

The two layers compute the same function in training mode; they differ in how they name
and store the running statistics:

| what                 | ours (CS231n)                        | PyTorch `BatchNorm1d`                 |
| -------------------- | ------------------------------------ | ------------------------------------- |
| momentum             | weight kept on the OLD value (0.9)   | weight given to the NEW value (0.1)   |
| running_var update   | biased batch variance (divide by N)  | unbiased, N/(N-1) times the biased one |
| running_var start    | zeros                                | ones                                  |
| batches counted      | not counted                          | `num_batches_tracked`                 |
| gamma, beta          | `gamma`, `beta` arrays               | `weight`, `bias` parameters           |

Both normalize a training batch with its biased variance, so the outputs and gradients in
training mode agree once gamma, beta and eps agree. With m = PyTorch's momentum, our
momentum is 1 - m, and after the same k training batches of N rows each the running means
are equal, while the running variances differ by the two last rows of the table: each
batch's contribution, and the start value, which fades with every update. Relation (*),
PyTorch's running_var from ours, is Exercise 1 of notebook 8:
`cs231n_bn.torch_stats.torch_running_var`, which the conversions below call. Every update
is linear, so (*) is affine in our running variance: the reading side inverts it from two
of that function's values.

Two kinds of conversion follow, chosen by `batch_size`:

- `batch_size=None` (default): running_var is copied as it is stored (which goal that
  serves is notebook 8's Exercise 2).
- `batch_size=N`: running_var is converted with (*), using k = num_batches_tracked, so the
  converted layer holds what it would have accumulated itself on the same batches, and
  further training keeps the two in step.

What (*) cannot recover exactly: batches of different sizes (each carries its own N/(N-1)
inside one average, and no single factor undoes the mix); PyTorch's `momentum=None` (a
cumulative average whose weight changes every step, which no constant momentum of ours
reproduces); statistics that were reset or loaded part-way (the start term is then
unknown); `track_running_stats=False` (there is nothing to convert). The two update
formulas also round differently, so "exact" means equal up to a few units in the last place.
"""

import numpy as np

from cs231n_bn import torch_stats, validation
from cs231n_bn.batchnorm import BN_PARAM_KEYS, DEFAULT_EPS, DEFAULT_MOMENTUM

try:
    import torch
except ImportError:  # PyTorch is optional: the reading side still works on numpy arrays
    torch = None

STATE_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
TORCH_DEFAULT_MOMENTUM = 0.1
TORCH_DEFAULT_EPS = 1e-5


def convert_momentum(momentum):
    """Our momentum from PyTorch's, or PyTorch's from ours: the weight on the other term, 1 - m."""
    return 1.0 - validation.unit_interval("convert_momentum", "momentum", momentum)


def _batch_size(where, batch_size):
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 2:
        raise ValueError(
            f"{where}: batch_size must be an integer >= 2 (the rows per training batch; PyTorch refuses "
            f"to train on one row, and N/(N-1) has no value at N=1) or None; got {batch_size!r}"
        )
    return int(batch_size)


def nonnegative_int(where, name, k):
    """Return `k` as an int if it is an integer >= 0 (a count of batches), else raise."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"{where}: {name} must be an integer >= 0; got {k!r}")
    return int(k)


def _as_numpy(where, name, value):
    # Always a copy: a view would change under the caller's later in-place updates.
    if torch is not None and isinstance(value, torch.Tensor):
        _readable_tensor(where, name, value)
        value = value.detach().cpu().numpy()
    return validation.float_array(where, name, value, ndim=1).copy()


def _readable_tensor(where, name, value):
    """Raise unless the tensor's values can be read into numpy (not meta, not bfloat16)."""
    if value.is_meta:
        raise ValueError(
            f"{where}: {name} is on the meta device: it has a shape but no values (a module built "
            f"with device='meta'). Load real weights first, e.g. module.to_empty(device='cpu') and "
            f"module.load_state_dict(...); got a meta tensor of shape {tuple(value.shape)}"
        )
    if value.layout != torch.strided:
        raise ValueError(f"{where}: {name} must be a dense tensor; got layout {value.layout}")
    if value.dtype.is_floating_point and value.dtype not in (torch.float16, torch.float32, torch.float64):
        raise TypeError(
            f"{where}: {name} has dtype {value.dtype}, which numpy cannot hold; convert it with "
            f".float() or .double() first"
        )


def affine_relation(N, k, momentum):
    """(slope, start) of relation (*) for k batches of N rows and OUR momentum, as floats.

    (*) is affine in our running variance, torch = slope * ours + start: evaluated by
    torch_stats.torch_running_var at 0 (start, what is left of PyTorch's start value) and
    at 1, so that the conversions follow the exercise's function.
    """
    start, at_one = torch_stats.torch_running_var(np.array([0.0, 1.0]), N, k, momentum)
    return float(at_one - start), float(start)


def start_share(k, momentum):
    """What is left of a start value 1 after k updates with OUR momentum, as a float.

    Relation (*) at a running variance of 0 (the batches added nothing), which holds
    for any batch size; Keras's relation (**) uses it too.
    """
    return affine_relation(2, k, momentum)[1]


def remove_start_value(where, name, var, start, k, advice):
    """var - start, for a variance accumulated over k batches from the start value `start`.

    A feature that was constant in every batch holds the start value alone, so the
    difference is 0 up to the round-off of k updates; that round-off is set to 0. A
    clearly negative difference means the start or k is wrong: refused, with `advice`.
    """
    var = var - start
    slack = 4 * (k + 1) * np.finfo(var.dtype).eps * start
    if np.any(var < -slack):
        raise ValueError(
            f"{where}: {name} minus the decayed start value {start:.3g} is negative, so it was not "
            f"accumulated over k = {k} batches as assumed; got {float(var.min()):.3g}. {advice}"
        )
    return np.maximum(var, 0, out=var)


def variances(where, name, var):
    """Raise unless every entry of `var` is a finite variance >= 0, as batchnorm_forward requires."""
    valid = np.isfinite(var) & (var >= 0)
    if not valid.all():
        raise ValueError(
            f"{where}: {name} must hold finite variances >= 0 (batchnorm_forward refuses others); got "
            f"{np.count_nonzero(~valid)} that are not, e.g. {float(var[~valid][0])}"
        )
    return var


def bn_param_from_state_dict(
    state_dict,
    momentum=TORCH_DEFAULT_MOMENTUM,
    eps=TORCH_DEFAULT_EPS,
    batch_size=None,
    mode="test",
):
    """Our gamma, beta and bn_param from a PyTorch BatchNorm1d state dict.

    A state dict holds no hyperparameters, so momentum and eps are PyTorch's, passed in.

    Inputs:
    - state_dict: mapping with "weight", "bias", "running_mean", "running_var" of shape
      (D,) (tensors or numpy arrays) and, when batch_size is given, "num_batches_tracked"
    - momentum: PyTorch's momentum, the weight on the NEW value, in [0, 1]
    - eps: PyTorch's eps, > 0
    - batch_size: None to copy running_var as stored, or the rows N of every training
      batch to convert it with (*) (torch_stats.torch_running_var)
    - mode: 'train' or 'test', written into bn_param

    Returns a tuple of:
    - gamma: (D,) copy of weight
    - beta: (D,) copy of bias
    - bn_param: dict with mode, eps, momentum (ours, 1 - momentum), running_mean, running_var
    """
    where = "bn_param_from_state_dict"
    if not hasattr(state_dict, "keys"):
        raise TypeError(f"{where}: state_dict must be a mapping like module.state_dict(); "
                        f"got {type(state_dict).__name__}")
    needed = STATE_KEYS[:4] + (("num_batches_tracked",) if batch_size is not None else ())
    missing = [key for key in needed if key not in state_dict]
    if missing:
        raise KeyError(f"{where}: state_dict lacks {missing}; it has {sorted(state_dict.keys())}")
    # A foreign key (a prefixed 'bn.weight', or 'eps') would otherwise be ignored without a word.
    validation.known_keys(where, "state_dict", dict.fromkeys(state_dict.keys()), STATE_KEYS)
    momentum = validation.unit_interval(where, "momentum", momentum)
    eps = validation.positive_number(where, "eps", eps)
    batch_size = _batch_size(where, batch_size)
    mode = validation.choice(where, "mode", mode, ("train", "test"))
    gamma, beta, running_mean, running_var = (
        _as_numpy(where, f"state_dict['{key}']", state_dict[key]) for key in STATE_KEYS[:4]
    )
    D = gamma.shape[0]
    for name, a in (("bias", beta), ("running_mean", running_mean), ("running_var", running_var)):
        validation.same_shape(where, f"state_dict['{name}']", a, (D,), "the shape of weight")
    if batch_size is not None:
        tracked = state_dict["num_batches_tracked"]
        if torch is not None and isinstance(tracked, torch.Tensor):
            _readable_tensor(where, "state_dict['num_batches_tracked']", tracked)
        # a 0-d tensor or array holds the count; .item() gives the Python number unchanged
        tracked = tracked.item() if hasattr(tracked, "item") else tracked
        k = nonnegative_int(where, "state_dict['num_batches_tracked']", tracked)
        # (*) solved for ours: remove what is left of the start value, then divide by the slope
        slope, start = affine_relation(batch_size, k, convert_momentum(momentum))
        variances(where, "state_dict['running_var']", running_var)
        running_var = remove_start_value(
            where, "state_dict['running_var']", running_var, start, k,
            "Check num_batches_tracked and momentum, or pass batch_size=None",
        ) / slope
    variances(where, "state_dict['running_var']", running_var)
    bn_param = {
        "mode": mode,
        "eps": eps,
        "momentum": convert_momentum(momentum),
        "running_mean": running_mean,
        "running_var": running_var,
    }
    return gamma, beta, bn_param


def bn_param_from_module(module, batch_size=None):
    """Our gamma, beta and bn_param from a PyTorch BatchNorm1d module (thin wrapper).

    Reads momentum and eps from the module, and the mode from module.training.

    Inputs:
    - module: torch.nn.BatchNorm1d with affine=True, track_running_stats=True and a
      numeric momentum
    - batch_size: as bn_param_from_state_dict

    Returns: as bn_param_from_state_dict.
    """
    where = "bn_param_from_module"
    if torch is None or not isinstance(module, torch.nn.BatchNorm1d):
        raise TypeError(f"{where}: module must be a torch.nn.BatchNorm1d; got {type(module).__name__}")
    if not module.affine or not module.track_running_stats:
        raise ValueError(
            f"{where}: module must have affine=True and track_running_stats=True (there is no "
            f"gamma/beta or no running statistics to convert); got affine={module.affine}, "
            f"track_running_stats={module.track_running_stats}"
        )
    if module.momentum is None:
        raise ValueError(
            f"{where}: module.momentum is None (PyTorch's cumulative moving average), which no "
            f"constant momentum of ours reproduces; got momentum=None"
        )
    return bn_param_from_state_dict(
        module.state_dict(),
        momentum=module.momentum,
        eps=module.eps,
        batch_size=batch_size,
        mode="train" if module.training else "test",
    )


class FrameworkMissing(ImportError):
    """An optional framework is not installed. IPython shows it as its one-line message."""

    def _render_traceback_(self):
        return [f"{type(self).__name__}: {self}"]


def _require_torch(where):
    if torch is None:
        raise FrameworkMissing(
            f"{where}: needs PyTorch, which is not installed; install the CPU build with "
            f"`pip install torch==2.13.0`"
        )


def trained_arrays(where, gamma, beta, bn_param):
    """gamma, beta and bn_param's running_mean, running_var, checked for a conversion.

    Inputs:
    - where: the calling function's name, for messages
    - gamma, beta: (D,) floating arrays
    - bn_param: dict holding running_mean and running_var (our layer creates them on the
      first training batch)

    Returns:
    - list of the four (D,) arrays, in that order (not copies); all of gamma's dtype
    """
    validation.param_dict(where, "bn_param", bn_param)
    validation.known_keys(where, "bn_param", bn_param, BN_PARAM_KEYS)
    for key in ("running_mean", "running_var"):
        if key not in bn_param:
            raise KeyError(
                f"{where}: bn_param has no '{key}' yet (our layer creates it on the first "
                f"training batch); got keys {sorted(bn_param)}"
            )
    validation.float_array(where, "gamma", gamma, ndim=1)
    D = gamma.shape[0]
    arrays = [gamma, beta, bn_param["running_mean"], bn_param["running_var"]]
    for name, a in zip(("gamma", "beta", "running_mean", "running_var"), arrays):
        validation.float_array(where, name, a, ndim=1)
        validation.same_shape(where, name, a, (D,), "one value per feature, like gamma")
        if a.dtype != gamma.dtype:
            raise TypeError(f"{where}: {name} must have gamma's dtype {gamma.dtype}; got {a.dtype}")
    variances(where, "bn_param['running_var']", arrays[3])
    return arrays


def state_dict_from_bn_param(gamma, beta, bn_param, batch_size=None, num_batches_tracked=0):
    """A PyTorch BatchNorm1d state dict from our gamma, beta and bn_param.

    Inputs:
    - gamma, beta: (D,) arrays
    - bn_param: dict with running_mean and running_var of shape (D,) (after at least one
      training batch; our layer creates them then)
    - batch_size: None to copy running_var as stored, or the rows N of every training
      batch to convert it with (*) (torch_stats.torch_running_var)
    - num_batches_tracked: k, the training batches seen (our bn_param does not count them);
      with batch_size, it is also the k of (*)

    Returns:
    - dict of torch tensors: weight, bias, running_mean, running_var (dtype of gamma) and
      num_batches_tracked (int64 scalar), ready for module.load_state_dict
    """
    where = "state_dict_from_bn_param"
    _require_torch(where)
    arrays = dict(zip(STATE_KEYS, trained_arrays(where, gamma, beta, bn_param)))
    batch_size = _batch_size(where, batch_size)
    k = nonnegative_int(where, "num_batches_tracked", num_batches_tracked)
    if batch_size is not None:
        momentum = validation.unit_interval(
            where, "bn_param['momentum']", bn_param.get("momentum", DEFAULT_MOMENTUM)
        )
        arrays["running_var"] = torch_stats.torch_running_var(arrays["running_var"], batch_size, k, momentum)
    state = {key: torch.tensor(a) for key, a in arrays.items()}
    state["num_batches_tracked"] = torch.tensor(k, dtype=torch.long)
    return state


def module_from_bn_param(gamma, beta, bn_param, batch_size=None, num_batches_tracked=0):
    """A torch.nn.BatchNorm1d that behaves like our layer with this gamma, beta and bn_param.

    Momentum and eps are converted, the state is loaded, the dtype is gamma's, and the
    module is in train() or eval() as bn_param['mode'] says.

    Inputs: as state_dict_from_bn_param.

    Returns:
    - torch.nn.BatchNorm1d(D)
    """
    where = "module_from_bn_param"
    _require_torch(where)
    validation.param_dict(where, "bn_param", bn_param)
    validation.known_keys(where, "bn_param", bn_param, BN_PARAM_KEYS)
    mode = validation.choice(where, "bn_param['mode']", bn_param.get("mode"), ("train", "test"))
    state = state_dict_from_bn_param(gamma, beta, bn_param, batch_size, num_batches_tracked)
    module = torch.nn.BatchNorm1d(
        gamma.shape[0],
        eps=validation.positive_number(where, "bn_param['eps']", bn_param.get("eps", DEFAULT_EPS)),
        momentum=convert_momentum(bn_param.get("momentum", DEFAULT_MOMENTUM)),
        dtype=state["weight"].dtype,
    )
    module.load_state_dict(state)
    return module.train(mode == "train")
