"""The package exercises: which function, which notebook explains it, which check grades it.

Every function holding a solution region in `cs231n_bn/*.py` must be listed here; the
release refuses to build a student edition otherwise, because its stub could not say
where to read up. Notebooks are named by number, and found on disk as
notebooks/NN_*.ipynb, so renaming a notebook needs no change here.
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackageExercise:
    """One function the student implements in the package."""

    function: str  # e.g. "batchnorm_forward"
    module: str  # file under cs231n_bn/, e.g. "batchnorm.py"
    notebook: int  # number of the notebook that explains it
    topic: str  # what that notebook is about, for messages when its file is missing
    check: str  # the function in cs231n_bn.checks that grades it, or None: notebook cells only
    points: int  # default points, unless the notebook's check cells say otherwise


EXERCISES = (
    PackageExercise("batchnorm_forward", "batchnorm.py", 1, "the forward pass", "check_batchnorm_forward", 10),
    PackageExercise("batchnorm_backward", "batchnorm.py", 2, "the staged backward pass", "check_batchnorm_backward", 10),
    PackageExercise("batchnorm_backward_alt", "batchnorm.py", 3, "the simplified backward pass", "check_batchnorm_backward_alt", 5),
    PackageExercise("layernorm_forward", "layernorm.py", 6, "layer norm", "check_layernorm_forward", 5),
    PackageExercise("layernorm_backward", "layernorm.py", 6, "layer norm", "check_layernorm_backward", 5),
    PackageExercise("spatial_batchnorm_forward", "spatial.py", 7, "conv nets", "check_spatial_batchnorm_forward", 5),
    PackageExercise("spatial_batchnorm_backward", "spatial.py", 7, "conv nets", "check_spatial_batchnorm_backward", 5),
    PackageExercise("spatial_groupnorm_forward", "spatial.py", 7, "conv nets", "check_spatial_groupnorm_forward", 5),
    PackageExercise("spatial_groupnorm_backward", "spatial.py", 7, "conv nets", "check_spatial_groupnorm_backward", 5),
    PackageExercise("FullyConnectedNet._hidden_forward", "fc_net.py", 5, "training with batch norm", "check_fc_net_forward", 5),
    PackageExercise("FullyConnectedNet._hidden_backward", "fc_net.py", 5, "training with batch norm", "check_fc_net_backward", 5),
    PackageExercise("sgd_momentum", "optim.py", 5, "training with batch norm", "check_sgd_momentum", 2),
    PackageExercise("adam", "optim.py", 5, "training with batch norm", "check_adam", 3),
    # No check function: the check cell of notebook 5's Exercise 3 grades it.
    PackageExercise("steps_to_reach", "experiments.py", 5, "training with batch norm", None, 1),
)

BY_FUNCTION = {e.function: e for e in EXERCISES}


def notebook_path(root, number):
    """notebooks/NN_*.ipynb under root, or None while that notebook does not exist."""
    found = sorted(Path(root, "notebooks").glob(f"{number:02d}_*.ipynb"))
    return found[0] if found else None


def notebook_label(root, number, topic):
    """How a message names a notebook: its path if it exists, else its number and topic."""
    path = notebook_path(root, number)
    return f"notebooks/{path.name}" if path else f"notebook {number:02d} ({topic})"
