"""PyTorch's running variance from ours: relation (*) of notebook 8, written by the student.

Our layer and PyTorch's `BatchNorm1d`, trained on the same batches with converted momenta,
keep the same running mean but different running variances: PyTorch averages another
estimate of each batch's variance, and starts its average from another value. Notebook 8,
sections 3 and 4, measures both differences; its Exercise 1 asks for the function below,
and the converters of `torch_compat` and `framework_convnet` call it, so that they follow
whatever the student wrote.
"""

import numbers

from cs231n_bn import validation


def torch_running_var(running_var, N, k, momentum):
    """PyTorch's running_var after the k training batches of N rows that gave our running_var.

    Ours starts at 0 and averages the variances batch norm normalizes with; PyTorch's
    module, given the momentum converted to its convention, averages the same batches as
    it does by default, from its own start value.

    Inputs:
    - running_var: (D,) our running variance after the k batches
    - N: rows in every training batch (an integer >= 2)
    - k: number of training batches (an integer >= 0)
    - momentum: OUR momentum m, the weight kept on the old value, in [0, 1]

    Returns:
    - (D,) new array: PyTorch's running_var after the same k batches
    """
    where = "torch_running_var"
    running_var = validation.float_array(where, "running_var", running_var, ndim=1)
    if validation.positive_int(where, "N", N) < 2:
        raise ValueError(f"{where}: N must be >= 2 (PyTorch refuses to train on one row); got {N}")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
        raise ValueError(f"{where}: k must be an integer >= 0 (a count of batches); got {k!r}")
    momentum = validation.unit_interval(where, "momentum", momentum)
    ### BEGIN SOLUTION
    return N / (N - 1) * running_var + momentum**k
    ### END SOLUTION
